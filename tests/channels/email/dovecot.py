"""A private Dovecot IMAP server for tests and benchmarks: generated config, a free port,
Maildir storage in a temporary directory, run as a plain child process (no system service)."""

from __future__ import annotations

import contextlib
import imaplib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

PASSWORD = "imap-secret"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def find_dovecot() -> str:
    for candidate in (shutil.which("dovecot"), "/usr/sbin/dovecot"):
        if candidate and os.path.exists(candidate):
            return candidate
    raise RuntimeError(
        "dovecot is not installed: run scripts/services.sh (apt-get install dovecot-imapd)"
    )


@dataclass
class Dovecot:
    root: Path
    port: int  # plain IMAP, STARTTLS offered when the server has a certificate
    process: subprocess.Popen[bytes]
    uid: int
    gid: int
    tls_port: int | None = None  # implicit TLS (IMAPS), when started with a certificate

    def maildir(self, user: str) -> Path:
        return self.root / "mail" / user

    def imap(self, user: str) -> imaplib.IMAP4:
        client = imaplib.IMAP4("127.0.0.1", self.port)
        client.login(user, PASSWORD)
        return client

    def append(self, user: str, folder: str, messages: Iterable[bytes]) -> None:
        client = self.imap(user)
        try:
            client.create(folder)
            for raw in messages:
                typ, data = client.append(folder, None, None, raw)
                assert typ == "OK", data
        finally:
            client.logout()

    def deliver_files(self, user: str, folder: str, messages: Iterable[bytes]) -> int:
        """Write Maildir files directly (fast for big backlogs); Dovecot numbers them on the
        next SELECT."""
        base = self.maildir(user) / ("" if folder == "INBOX" else f".{folder}")
        for sub in ("cur", "new", "tmp"):
            (base / sub).mkdir(parents=True, exist_ok=True)
        count = 0
        stamp = int(time.time())
        for index, raw in enumerate(messages):
            (base / "new" / f"{stamp}.M{index}P{os.getpid()}.frontdesk").write_bytes(raw)
            count += 1
        for path in [self.maildir(user), *self.maildir(user).rglob("*")]:
            os.chown(path, self.uid, self.gid)
        return count

    def uidvalidity(self, user: str, folder: str) -> int:
        client = self.imap(user)
        try:
            _typ, data = client.status(folder, "(UIDVALIDITY)")
        finally:
            client.logout()
        text = data[0].decode() if data and isinstance(data[0], bytes) else ""
        return int(text.rsplit("UIDVALIDITY", 1)[1].strip(" )"))

    def recreate(self, user: str, folder: str, messages: Iterable[bytes]) -> None:
        """Delete and create the folder again: the server gives it a new UIDVALIDITY."""
        before = self.uidvalidity(user, folder)
        items = list(messages)
        for _ in range(30):
            client = self.imap(user)
            try:
                client.delete(folder)
                client.create(folder)
            finally:
                client.logout()
            if self.uidvalidity(user, folder) != before:
                break
            time.sleep(0.2)
        self.append(user, folder, items)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        if not os.environ.get("FRONTDESK_KEEP_DOVECOT"):
            shutil.rmtree(self.root, ignore_errors=True)


CONFIG = """
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
{ssl}
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{root}/mail/%u:LAYOUT=maildir++
mail_uid = {uid}
mail_gid = {gid}
first_valid_uid = 1
first_valid_gid = 1
mail_privileged_group =
default_internal_user = {user}
default_internal_group = {group}
default_login_user = {login_user}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
    ssl = {imaps}
  }}
}}
service auth {{
  user = {auth_user}
}}
service auth-worker {{
  user = {auth_user}
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
protocol imap {{
  mail_max_userip_connections = 100
}}
"""


def _exists_user(name: str) -> bool:
    import pwd

    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


@contextlib.contextmanager
def running_dovecot(
    users: Iterable[str] = ("support",), *, tls: tuple[str, str] | None = None
) -> Iterator[Dovecot]:
    """Start Dovecot on free loopback ports. Its files live in a world-traversable temporary
    directory: Dovecot's unprivileged processes must reach them when the tests run as root.
    `tls`: (certificate, key) files — STARTTLS on the plain port, and an IMAPS port.
    A port taken by someone else between our probe and Dovecot's bind (other test runs on
    the machine) is retried with fresh ports."""
    for attempt in range(5):
        try:
            server = _start(list(users), tls)
        except _PortTaken:
            if attempt == 4:
                raise
            continue
        break
    try:
        yield server
    finally:
        server.stop()


class _PortTaken(RuntimeError):
    pass


def _start(users: list[str], tls: tuple[str, str] | None) -> Dovecot:
    import grp
    import pwd

    binary = find_dovecot()
    root = Path(tempfile.mkdtemp(prefix="frontdesk-dovecot-"))
    root.chmod(0o755)
    for sub in ("run", "state", "mail", "home"):
        (root / sub).mkdir(exist_ok=True)
    port = _free_port()
    tls_port = _free_port() if tls else 0
    me = pwd.getpwuid(os.getuid())
    # Dovecot refuses root for login and mail processes: use the package's own users then.
    if me.pw_uid == 0:
        mail = pwd.getpwnam("dovecot" if _exists_user("dovecot") else "nobody")
        login_user = "dovenull" if _exists_user("dovenull") else "nobody"
    else:
        mail, login_user = me, me.pw_name
    for path in (root / "mail", root / "home"):
        os.chown(path, mail.pw_uid, mail.pw_gid)
    (root / "passwd").write_text("".join(f"{u}:{{PLAIN}}{PASSWORD}::::::\n" for u in users))
    if tls:
        # Copies Dovecot's login processes can read (the originals may sit in a 0700 dir).
        for name, source in zip(("cert.pem", "key.pem"), tls, strict=True):
            shutil.copy(source, root / name)
            (root / name).chmod(0o644)
        ssl = f"ssl = yes\nssl_cert = <{root}/cert.pem\nssl_key = <{root}/key.pem"
    else:
        ssl = "ssl = no"
    config = root / "dovecot.conf"
    config.write_text(
        CONFIG.format(
            root=root,
            port=port,
            tls_port=tls_port,
            imaps="yes" if tls else "no",
            ssl=ssl,
            uid=mail.pw_uid,
            gid=mail.pw_gid,
            user=mail.pw_name,
            group=grp.getgrgid(mail.pw_gid).gr_name,
            login_user=login_user,
            auth_user=me.pw_name,
        )
    )
    process = subprocess.Popen([binary, "-F", "-c", str(config)], stderr=subprocess.PIPE)
    server = Dovecot(root, port, process, mail.pw_uid, mail.pw_gid, tls_port or None)
    # Ready once the master has bound its listeners and says so in its own log; a probe of
    # the port alone could reach another run's server that holds the same port.
    log = root / "dovecot.log"
    deadline = time.monotonic() + 20
    while not (log.exists() and "starting up" in log.read_text()):
        if process.poll() is not None or time.monotonic() > deadline:
            err = process.stderr.read().decode() if process.stderr and process.poll() else ""
            text = log.read_text() if log.exists() else ""
            server.stop()
            if "Address already in use" in err + text:
                raise _PortTaken(f"port {port} or {tls_port} was taken") from None
            raise RuntimeError(f"dovecot did not start: {err}\n{text}") from None
        time.sleep(0.05)
    for probe in [port, *([tls_port] if tls else [])]:
        with socket.create_connection(("127.0.0.1", probe), timeout=5):
            pass
    return server

"""E-mail benchmark: SMTP messages/s accepted with a durable 250, and the IMAP import rate
of a 10,000-message mailbox (Dovecot). Targets: >= 200 msg/s over SMTP; 10,000 in <= 60 s.

    .venv/bin/python bench/email.py [--smtp-messages 3000] [--imap-messages 10000]
                                    [--connections 8] [--database-url postgresql+psycopg://...]

Every figure is printed; nothing is asserted (run it on a quiet machine)."""

from __future__ import annotations

import sys
from pathlib import Path

# This file is named email.py: drop its folder from the path so `import email` finds the
# standard library, and put the project root on it (for the test helpers we reuse).
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import argparse  # noqa: E402
import asyncio  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

from sqlalchemy import func, select  # noqa: E402
from tests.channels.email.conftest import create_email_inbox  # noqa: E402
from tests.channels.email.dovecot import PASSWORD, running_dovecot  # noqa: E402
from tests.channels.email.mails import SUPPORT, mail  # noqa: E402

import frontdesk.handlers  # noqa: E402, F401  (job handlers and channels)
from frontdesk.channels.email.imap import MailboxSync  # noqa: E402
from frontdesk.channels.email.smtp import SmtpListener  # noqa: E402
from frontdesk.config import Settings  # noqa: E402
from frontdesk.conversations.models import Message  # noqa: E402
from frontdesk.migrate import upgrade  # noqa: E402
from frontdesk.runtime import Runtime  # noqa: E402


def corpus(prefix: str, n: int) -> list[bytes]:
    return [
        mail(
            sender=f"Customer {i % 500} <customer{i % 500}@example.com>",
            message_id=f"<{prefix}{i}@bench.example>",
            subject=f"Order #{i}",
            text=f"Hello, this is message {i}. Where is my order?\n" + "Lorem ipsum. " * 40,
            html=f"<p>Hello, this is message {i}.</p><p>Where is my <b>order</b>?</p>",
        )
        for i in range(n)
    ]


async def _expect(reader: asyncio.StreamReader, code: bytes) -> bytes:
    """One (possibly multi-line) reply; raises unless it has the expected code."""
    while True:
        line = await reader.readline()
        if not line.startswith(code):
            raise RuntimeError(f"expected {code!r}, got {line!r}")
        if line[3:4] != b"-":
            return line


async def smtp_client(port: int, raws: list[bytes], connections: int) -> tuple[int, float]:
    """A lean MTA: plain SMTP, each command waits for its reply (no pipelining), and only a
    250 after the final dot counts. Returns (accepted, seconds)."""
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for raw in raws:
        queue.put_nowait(raw)

    async def client() -> int:
        accepted = 0
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        await _expect(reader, b"220")
        writer.write(b"EHLO bench.example\r\n")
        await _expect(reader, b"250")
        while not queue.empty():
            raw = queue.get_nowait()
            writer.write(b"MAIL FROM:<mta@bench.example>\r\n")
            await _expect(reader, b"250")
            writer.write(f"RCPT TO:<{SUPPORT}>\r\n".encode())
            await _expect(reader, b"250")
            writer.write(b"DATA\r\n")
            await _expect(reader, b"354")
            body = raw.replace(b"\r\n.", b"\r\n..")  # dot-stuffing (RFC 5321 §4.5.2)
            writer.write((b"." if body.startswith(b".") else b"") + body + b"\r\n.\r\n")
            reply = await reader.readline()
            accepted += reply.startswith(b"250")
        writer.write(b"QUIT\r\n")
        await _expect(reader, b"221")
        writer.close()
        return accepted

    started = time.perf_counter()
    accepted = sum(await asyncio.gather(*(client() for _ in range(connections))))
    return accepted, time.perf_counter() - started


async def runtime_for(url: str | None, data_dir: Path) -> Runtime:
    settings = Settings(
        env="development",
        data_dir=data_dir,
        database_url=url,
        imap_enabled=False,
        smtp_port=0,
        smtp_sender_per_minute=1_000_000,
    )
    upgrade(settings.resolved_database_url)
    runtime = Runtime.build(settings, with_runner=False)
    runtime.services.clear()
    await runtime.start()
    return runtime


async def count_stored(runtime: Runtime) -> int:
    async with runtime.db.session() as session:
        stored = int(await session.scalar(select(func.count()).select_from(Message)) or 0)
        await session.commit()
    return stored


async def bench_smtp(url: str | None, messages: int, connections: int) -> float:
    data_dir = Path(tempfile.mkdtemp(prefix="bench-smtp-"))
    runtime = await runtime_for(url, data_dir)
    await create_email_inbox(runtime, address=SUPPORT)
    listener = SmtpListener(runtime)
    await listener.start()
    # The client runs in its own process (the machine's other core), as an MTA would: in
    # this event loop it took a third of the CPU the listener is measured on.
    command = [sys.executable, __file__, "--client", str(listener.port), str(messages),
               str(connections)]  # fmt: skip
    before = os.times()
    process = await asyncio.create_subprocess_exec(*command, stdout=asyncio.subprocess.PIPE)
    out, _ = await process.communicate()
    after = os.times()
    # The listener's CPU (all its threads): steadier than the rate on a shared machine.
    user, system = after.user - before.user, after.system - before.system
    accepted, elapsed, client_cpu = (
        int(out.split()[0]),
        float(out.split()[1]),
        float(out.split()[2]),
    )
    await listener.stop()
    stored = await count_stored(runtime)
    await runtime.stop()
    shutil.rmtree(data_dir, ignore_errors=True)
    if stored != accepted:  # every 250 must be exactly one stored mail
        raise SystemExit(f"SMTP: {accepted} accepted but {stored} stored")
    rate = accepted / elapsed
    print(f"SMTP: {accepted} messages accepted with a durable 250 in {elapsed:.1f} s "
          f"over {connections} connections = {rate:.0f} msg/s (target >= 200); listener CPU "
          f"{1000 * (user + system) / max(accepted, 1):.2f} ms/msg "
          f"({1000 * system / max(accepted, 1):.2f} of it in the kernel); client busy "
          f"{100 * client_cpu / elapsed:.0f}% of a core")  # fmt: skip
    return rate


async def bench_imap(url: str | None, messages: int) -> float:
    data_dir = Path(tempfile.mkdtemp(prefix="bench-imap-"))
    runtime = await runtime_for(url, data_dir)
    with running_dovecot(users=["support"]) as dovecot:
        dovecot.deliver_files("support", "INBOX", corpus("imap", messages))
        # Let Dovecot index the new Maildir files first: we measure our import, not its scan.
        client = dovecot.imap("support")
        client.select("INBOX")
        client.logout()
        inbox = await create_email_inbox(
            runtime,
            address=SUPPORT,
            imap={"host": "127.0.0.1", "port": dovecot.port, "username": "support",
                  "password": PASSWORD, "security": "none"},
        )  # fmt: skip
        started = time.perf_counter()
        imported = await MailboxSync(runtime, inbox, owner="bench").once()
        elapsed = time.perf_counter() - started
    await runtime.stop()
    shutil.rmtree(data_dir, ignore_errors=True)
    print(f"IMAP: {imported} messages imported in {elapsed:.1f} s = {imported / elapsed:.0f} "
          f"msg/s (target: {messages} in <= 60 s)")  # fmt: skip
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smtp-messages", type=int, default=3000)
    parser.add_argument("--imap-messages", type=int, default=10_000)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--database-url", default=None, help="default: SQLite in a temp dir")
    parser.add_argument("--client", nargs=3, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:  # the SMTP client process: port, messages, connections
        port, messages, connections = args.client
        raws = corpus("smtp", messages)
        before = os.times()
        accepted, elapsed = asyncio.run(smtp_client(port, raws, connections))
        after = os.times()
        print(accepted, elapsed, after.user - before.user + after.system - before.system)
        return
    where = args.database_url.split("@")[-1] if args.database_url else "SQLite (embedded)"
    print(f"database: {where}")
    asyncio.run(bench_smtp(args.database_url, args.smtp_messages, args.connections))
    asyncio.run(bench_imap(args.database_url, args.imap_messages))


if __name__ == "__main__":
    main()

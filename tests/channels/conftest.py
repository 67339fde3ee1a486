"""Fixtures shared by the channel tests: the TLS files, the SMTP listener and a private
Dovecot (started once per test session). The e-mail tests' own rig is in email/conftest.py."""

from __future__ import annotations

import itertools
import subprocess
from collections.abc import AsyncIterator, Iterator

import pytest

from frontdesk.channels.email.smtp import SmtpListener
from frontdesk.runtime import Runtime
from tests.channels.email.dovecot import Dovecot, running_dovecot


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
         "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return str(cert), str(key)


@pytest.fixture
async def listener(runtime: Runtime) -> AsyncIterator[SmtpListener]:
    runtime.settings.smtp_port = 0
    smtp = SmtpListener(runtime)
    await smtp.start()
    yield smtp
    await smtp.stop()


ACCOUNTS = 300
_next_account = itertools.count()


@pytest.fixture(scope="session")
def dovecot(tls_files: tuple[str, str]) -> Iterator[Dovecot]:
    """Plain IMAP offering STARTTLS, and IMAPS, with the self-signed `tls_files` certificate."""
    users = [f"user{i}" for i in range(ACCOUNTS)]
    with running_dovecot(users=users, tls=tls_files) as server:
        yield server


@pytest.fixture
def imap_user(dovecot: Dovecot) -> str:
    """A fresh Dovecot account for this test (the server is shared by the whole session)."""
    number = next(_next_account)
    assert number < ACCOUNTS, "out of Dovecot test accounts; raise ACCOUNTS"
    return f"user{number}"

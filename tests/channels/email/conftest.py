"""E-mail fixtures: an e-mail inbox and an aiosmtpd relay sink for outbound mail (the SMTP
listener and the private Dovecot are shared with other channel tests: ../conftest.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import aiosmtplib
import pytest
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from frontdesk.channels.email.smtp import SmtpListener
from frontdesk.inboxes import service as inboxes
from frontdesk.inboxes.schemas import InboxCreate
from frontdesk.kit import uow
from frontdesk.runtime import Runtime
from tests.channels.email.mails import SUPPORT

TRUSTED = "mx.frontdesk.test"


@dataclass
class Relay:
    """An SMTP relay sink: what our outbound deliveries hand over lands in `mails`."""

    port: int = 0
    envelopes: list[Envelope] = field(default_factory=list)
    refuse_with: str | None = None
    logins: list[str] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.refuse_with:
            return self.refuse_with
        self.envelopes.append(envelope)
        return "250 OK"

    @property
    def mails(self) -> list[EmailMessage]:
        return [
            message_from_bytes(bytes(e.original_content or b""), policy=policy.default)  # type: ignore[misc]
            for e in self.envelopes
        ]


@dataclass
class Mailer:
    """Sends raw mail to our listener like an MTA would."""

    port: int

    async def send(self, raw: bytes, *, to: str = SUPPORT, sender: str = "mta@example.net") -> Any:
        return await aiosmtplib.send(
            raw,
            sender=sender,
            recipients=[to],
            hostname="127.0.0.1",
            port=self.port,
            start_tls=False,
            timeout=30,
        )

    async def bounce(self, raw: bytes, *, to: str = SUPPORT) -> str:
        """Deliver with the null envelope sender (MAIL FROM:<>), as MTAs send bounces
        (aiosmtplib's send refuses an empty sender). Returns the reply to the final dot."""
        async with aiosmtplib.SMTP(hostname="127.0.0.1", port=self.port, start_tls=False) as smtp:
            await smtp.ehlo()
            reply = await smtp.execute_command(b"MAIL", b"FROM:<>")
            assert reply.code == 250, reply
            await smtp.rcpt(to)
            response = await smtp.data(raw)
            return f"{response.code} {response.message}"


def _authenticator(relay: Relay) -> Any:
    def check(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and data.password == b"relay-pass"
        if ok:
            relay.logins.append(data.login.decode())
        # handled=False: aiosmtpd then answers a refusal with 535 (handled=True sends nothing).
        return AuthResult(success=ok, handled=False)

    return check


async def start_relay(relay: Relay, **smtp_kwargs: Any) -> asyncio.base_events.Server:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(relay, hostname="relay.test", **smtp_kwargs), "127.0.0.1", 0
    )
    relay.port = server.sockets[0].getsockname()[1]
    return server


@pytest.fixture
async def relay() -> AsyncIterator[Relay]:
    sink = Relay()
    server = await start_relay(sink, authenticator=_authenticator(sink), auth_require_tls=False)
    yield sink
    server.close()
    await server.wait_closed()


async def create_email_inbox(
    runtime: Runtime, *, name: str = "Support", address: str = SUPPORT, **settings: Any
) -> int:
    async with runtime.db.session() as session:
        inbox = await inboxes.create_inbox(
            session,
            InboxCreate(
                channel="email",
                name=name,
                address=address,
                settings={"trusted_authserv_id": TRUSTED, **settings},
            ),
            runtime.settings,
        )
        await uow.commit(session)
        return inbox.id


@pytest.fixture
async def support(runtime: Runtime, cast: Any, relay: Relay) -> int:
    """The support@frontdesk.test inbox, relaying outbound mail to the sink."""
    return await create_email_inbox(
        runtime, smtp={"host": "127.0.0.1", "port": relay.port, "security": "none"}
    )


@pytest.fixture
def mailer(listener: SmtpListener) -> Mailer:
    return Mailer(listener.port)

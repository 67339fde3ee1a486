"""Test connection for an e-mail inbox: the SMTP relay (connect, EHLO, STARTTLS or TLS as
configured, AUTH when it has credentials, QUIT: no mail is sent) and the IMAP mailbox
(login, SELECT the folder, LOGOUT). Both through the SSRF guard the channel already uses."""

from __future__ import annotations

import asyncio
import ssl

import aiosmtplib

from frontdesk.channels.email.imap import ImapError, connect, logout, quote_folder
from frontdesk.channels.email.schemas import ImapServer, SmtpServer, settings_of
from frontdesk.config import Settings
from frontdesk.inboxes.models import Inbox
from frontdesk.inboxes.port import ConnectionCheck, provider_refused, provider_unreachable
from frontdesk.kit.errors import Invalid
from frontdesk.kit.security import open_connection, public_address


async def check_servers(inbox: Inbox, app: Settings) -> ConnectionCheck:
    """`inbox` with its secrets opened. Nothing to check when it has neither server (mail
    then comes in through the SMTP listener and no relay is set)."""
    config = settings_of(inbox.settings)
    facts: dict[str, str] = {}
    if config.smtp is not None:
        facts["smtp"] = await _smtp(config.smtp, app)
    if config.imap is not None:
        facts["imap"] = await _imap(config.imap, app)
    if not facts:
        return ConnectionCheck(ok=False, checked=False, detail="no relay or mailbox configured")
    return ConnectionCheck(ok=True, detail=", ".join(facts.values()), facts=facts)


async def _smtp(server: SmtpServer, app: Settings) -> str:
    address = await public_address(
        server.host, server.port, allow_private=app.allow_private_webhooks
    )
    try:
        sock = await open_connection(address, server.port, timeout=server.timeout_seconds)
    except (OSError, TimeoutError) as exc:
        raise provider_unreachable(f"SMTP {server.host}:{server.port}: {_reason(exc)}") from exc
    client = aiosmtplib.SMTP(
        hostname=server.host,
        sock=sock,
        use_tls=server.security == "tls",
        start_tls=server.security == "starttls",
        tls_context=_tls_context(server) if server.security != "none" else None,
        timeout=server.timeout_seconds,
    )
    try:
        await client.connect()  # greeting, EHLO, and STARTTLS when configured
        if server.username:
            await client.login(server.username, server.password or "")
        await client.quit()
    except aiosmtplib.SMTPResponseException as exc:
        raise provider_refused(f"SMTP {exc.code} {exc.message}") from exc
    except (aiosmtplib.SMTPException, OSError, ssl.SSLError) as exc:
        raise provider_unreachable(f"SMTP {server.host}:{server.port}: {_reason(exc)}") from exc
    finally:
        client.close()
    return f"SMTP {server.host}:{server.port}"


async def _imap(server: ImapServer, app: Settings) -> str:
    try:
        client = await asyncio.wait_for(
            connect(server, allow_private=app.allow_private_webhooks), server.timeout_seconds
        )
    except ImapError as exc:
        raise provider_refused(f"IMAP {exc}") from exc
    except Invalid:
        raise
    except (OSError, TimeoutError, ssl.SSLError) as exc:
        raise provider_unreachable(f"IMAP {server.host}:{server.port}: {_reason(exc)}") from exc
    try:
        response = await asyncio.wait_for(
            client.select(quote_folder(server.folder)), server.timeout_seconds
        )
        if response.result != "OK":
            raise provider_refused(f"IMAP SELECT {server.folder}: {response.result}")
    finally:
        await logout(client)
    return f"IMAP {server.host}:{server.port} {server.folder}"


def _tls_context(server: SmtpServer) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if not server.verify_tls:  # the inbox's explicit opt-out, for self-signed servers
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _reason(exc: BaseException) -> str:
    return str(exc) or ("timed out" if isinstance(exc, TimeoutError) else type(exc).__name__)

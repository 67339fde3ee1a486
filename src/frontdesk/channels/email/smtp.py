"""Inbound SMTP (aiosmtpd) inside the process's event loop: 250 only after the mail is
committed (RFC 1123 §5.3.3) — stored, or kept in the quarantine when it cannot be stored —
4xx only when something is temporarily wrong (the sender retries and the seen-index dedupes
the retry), 5xx for addresses that are no inbox of ours and for a mail nothing can keep."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import deque
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.analytics.metrics import MESSAGES
from frontdesk.channels.email import repository, service
from frontdesk.channels.email.threading import base_address
from frontdesk.kit import uow
from frontdesk.kit.groupcommit import GroupCommit
from frontdesk.kit.text import normalize_email
from frontdesk.runtime import Runtime

log = logging.getLogger(__name__)
# How long the address → inbox map is reused before it is read again (new inboxes show up
# within this time; a deactivated one stops taking mail within it).
ADDRESS_TTL_SECONDS = 5.0
# Under load, how long the writer waits for the sessions it just answered to send their next
# mail, so they share a transaction (bench/email.py: 8 connections, batches of ~3 → ~8).
LINGER_SECONDS = 0.005


class SenderLimiter:
    """Per-sender sliding window, per process (each listener protects itself)."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self.seen: dict[str, deque[float]] = {}

    def allow(self, sender: str, now: float | None = None) -> bool:
        moment = time.monotonic() if now is None else now
        window = self.seen.setdefault(sender, deque())
        while window and window[0] <= moment - 60:
            window.popleft()
        if len(window) >= self.per_minute:
            return False
        window.append(moment)
        if len(self.seen) > 100_000:  # forget idle senders; memory stays bounded
            self.seen = {k: v for k, v in self.seen.items() if v and v[-1] > moment - 60}
        return True


class MailHandler:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.limiter = SenderLimiter(runtime.settings.smtp_sender_per_minute)
        self._addresses: dict[str, int] = {}
        self._trusted: dict[int, str | None] = {}  # inbox id → its trusted_authserv_id
        self._loaded_at = -ADDRESS_TTL_SECONDS
        # Group commit: concurrent sessions share a transaction (ADR 0002).
        self.intake: GroupCommit[service.IncomingMail, service.Taken] = GroupCommit(
            runtime.db,
            self._take_in_many,
            writers=runtime.settings.ingest_writers,
            linger=LINGER_SECONDS,
            name="smtp",
            rescue=self._quarantine,
        )

    async def inbox_for(self, address: str) -> int | None:
        if time.monotonic() - self._loaded_at > ADDRESS_TTL_SECONDS:
            async with self.runtime.db.session() as session:
                inboxes = await repository.email_inboxes(session)
                await session.commit()
            table: dict[str, int] = {}
            trusted: dict[int, str | None] = {}
            for inbox in inboxes:
                table.setdefault(str(inbox.settings.get("address", "")).lower(), inbox.id)
                trusted[inbox.id] = inbox.settings.get("trusted_authserv_id")
            self._addresses, self._trusted = table, trusted
            self._loaded_at = time.monotonic()
        try:
            return self._addresses.get(base_address(normalize_email(address)))
        except ValueError:
            return None

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if not self.limiter.allow(address.lower()):
            return "450 4.7.1 Too many messages from this sender; try again later"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        try:
            inbox_id = await self.inbox_for(address)
        except Exception:
            log.exception("looking up recipient %s failed", address)
            return "451 4.3.0 Temporary failure; try again later"
        if inbox_id is None:
            return f"550 5.1.1 <{address}>: no such mailbox here"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content
        data = raw if isinstance(raw, bytes) else str(raw).encode("utf-8", "surrogateescape")
        sender = envelope.mail_from
        targets: dict[int, list[str]] = {}
        try:
            for address in envelope.rcpt_tos:
                inbox_id = await self.inbox_for(address)
                if inbox_id is not None:
                    targets.setdefault(inbox_id, []).append(address.lower())
        except Exception:
            # Unanswered, aiosmtpd would say "500": a permanent refusal for a passing cause.
            log.exception("looking up the recipients of a mail from %s failed", sender)
            return "451 4.3.0 Temporary failure; try again later"
        mails = [
            service.IncomingMail(
                inbox_id,
                data,
                recipients,
                envelope_sender=sender if sender not in (None, "<>") else "",
            )
            for inbox_id, recipients in targets.items()
        ]
        self._parse_ahead(mails)
        # Each copy resolves only after the commit that stored it (shared with whatever other
        # sessions queued meanwhile).
        outcomes = await asyncio.gather(
            *(self.intake.submit(mail) for mail in mails), return_exceptions=True
        )
        failed = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
        for outcome in outcomes:
            if isinstance(outcome, service.Taken):
                MESSAGES.labels(direction="inbound", outcome=outcome.status).inc()
        if failed:
            log.error("storing mail from %s failed", sender, exc_info=failed[0])
        return _reply(stored=len(outcomes) - len(failed), failed=failed)

    def _parse_ahead(self, mails: list[service.IncomingMail]) -> None:
        """Parse here, while the writer waits for the database with the previous batch: the
        parse (the CPU-heaviest step) leaves the serial path. Copies for inboxes that trust
        the same hop share one parse."""
        done: dict[str | None, service.IncomingMail] = {}
        for mail in mails:
            trusted = self._trusted.get(mail.inbox_id)
            first = done.get(trusted)
            if first is None:
                service.parse_ahead(mail, trusted_authserv_id=trusted, app=self.runtime.settings)
                done[trusted] = mail
            else:
                mail.parsed, mail.parsed_for = first.parsed, first.parsed_for

    async def _take_in_many(
        self, session: AsyncSession, mails: list[service.IncomingMail]
    ) -> list[service.Taken | Exception]:
        rt = self.runtime
        return await service.take_in_many(
            session, mails, blobs=rt.blobs, settings=rt.settings, source="smtp"
        )

    async def _quarantine(
        self, session: AsyncSession, mail: service.IncomingMail, error: Exception
    ) -> service.Taken:
        rt = self.runtime
        return await service.quarantine(
            session, mail, error=error, blobs=rt.blobs, settings=rt.settings, source="smtp"
        )


def _reply(*, stored: int, failed: list[BaseException]) -> str:
    """The answer to DATA once every copy is settled (stored, duplicate or quarantined)."""
    if any(uow.is_temporary(exc) for exc in failed):
        # Nothing was acknowledged: the sender keeps the mail and retries; inboxes that did
        # commit see the retry as a duplicate.
        return "451 4.3.0 Temporary failure storing the message; try again later"
    if stored or not failed:
        return "250 2.0.0 OK: stored"
    if all(isinstance(exc, LookupError) for exc in failed):  # deactivated since RCPT
        return "550 5.1.1 No such mailbox here"
    # It failed alone and could not even be quarantined: a retry would fail the same way.
    return "554 5.3.0 The message cannot be stored here"


# <local@domain> in its plain dot-atom form: what relays send in MAIL FROM and RCPT TO.
_PLAIN_PATH = re.compile(
    r"[ \t]*<([A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)>"
)


class _SMTP(SMTP):
    # RFC 5321 caps lines at 1,000 octets, but real senders break it, and broken mail must
    # reach the quarantine rather than bounce. The message size limit (552) still applies.
    line_length_limit = 64 * 1024 * 1024

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        # aiosmtpd runs the RFC 5322 header parser on every MAIL and RCPT argument (a tenth
        # of the listener's CPU under load); a plain path gives the same answer at a glance.
        found = _PLAIN_PATH.match(arg)
        rest = arg[found.end() :] if found else ""
        if (
            found is None
            or "(" in rest  # a comment: the full parser's business
            or (rest and rest[0] not in " \t")
            or (self.local_part_limit and len(found[1].split("@")[0]) > self.local_part_limit)
        ):
            return super()._getaddr(arg)
        return found[1], rest.lstrip(" \t")


class SmtpListener:
    """Started by the runtime when FRONTDESK_SMTP_PORT is set."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.handler = MailHandler(runtime)
        self.server: asyncio.base_events.Server | None = None

    def _protocol(self) -> _SMTP:
        settings = self.runtime.settings
        protocol = _SMTP(
            self.handler,
            data_size_limit=settings.smtp_max_bytes,
            enable_SMTPUTF8=True,
            decode_data=False,
            hostname=settings.smtp_hostname,
            ident="Frontdesk ESMTP",
        )
        return protocol

    async def start(self) -> None:
        settings = self.runtime.settings
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(
            self._protocol, host=settings.smtp_host, port=settings.smtp_port
        )
        log.info("SMTP listener on %s:%s", settings.smtp_host, settings.smtp_port)

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
            self.server = None
        await self.handler.intake.stop()

    @property
    def port(self) -> int:
        assert self.server is not None
        sockets: Any = self.server.sockets
        return int(sockets[0].getsockname()[1])

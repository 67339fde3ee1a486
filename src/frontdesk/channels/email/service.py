"""The e-mail channel's rules: take a mail in exactly once (or quarantine it), and keep each
mailbox's sync state, lease and health. Callers commit; nothing here commits."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.channels.email import repository
from frontdesk.channels.email.adapter import email_channel
from frontdesk.channels.email.models import Mailbox, Quarantined, SeenMail
from frontdesk.channels.email.parsing import BrokenMail, message_key
from frontdesk.channels.models import Inbox
from frontdesk.config import Settings
from frontdesk.conversations import service as conversations
from frontdesk.db import utcnow
from frontdesk.kit.blobs import BlobStore
from frontdesk.kit.events import record

log = logging.getLogger(__name__)
# Consecutive failures of a mailbox before the alert event is raised.
ALERT_AFTER = 3


@dataclass
class Taken:
    status: str  # stored | duplicate | quarantined
    message_id: int | None = None
    conversation_id: int | None = None
    quarantine_id: int | None = None


async def take_in(
    session: AsyncSession,
    inbox_id: int,
    raw: bytes,
    *,
    blobs: BlobStore,
    settings: Settings,
    source: str,
    recipients: list[str] | None = None,
    envelope_sender: str | None = None,
) -> Taken:
    """Store one mail on its conversation once per inbox and Message-ID, or quarantine it.
    The caller commits (kit.uow.retrying), and only then acknowledges (SMTP 250, IMAP UID)."""
    # Loaded here, not passed in: a retry after a rollback must not touch expired rows.
    inbox = await session.get(Inbox, inbox_id)
    if inbox is None or not inbox.active:
        raise LookupError(f"inbox {inbox_id} is gone or inactive")
    try:
        mail = email_channel.parse(inbox, raw, settings, envelope_sender=envelope_sender)
    except BrokenMail as exc:
        return await _quarantine(session, inbox, raw, str(exc), blobs=blobs, source=source)
    seen = await repository.find_seen(session, inbox.id, mail.message_key)
    if seen is not None:
        return Taken("duplicate", seen.message_id, quarantine_id=seen.quarantine_id)
    raw_key = await _put(blobs, raw)
    inbound = email_channel.to_inbound(
        inbox, mail, settings, raw_key=raw_key, recipients=list(recipients or [])
    )
    received = await conversations.receive(session, inbound, blobs=blobs)
    # The seen row is the exactly-once guarantee; its unique index settles concurrent copies.
    session.add(
        SeenMail(inbox_id=inbox.id, message_key=mail.message_key, message_id=received.message.id)
    )
    await session.flush()
    status = "duplicate" if received.duplicate else "stored"
    return Taken(status, received.message.id, received.conversation.id)


async def _put(blobs: BlobStore, raw: bytes) -> str:
    # A small mail is written (and fsynced) inline: a thread hand-off costs more than that.
    if len(raw) < 256 * 1024:
        return blobs.put(raw)
    return await asyncio.to_thread(blobs.put, raw)


async def _quarantine(
    session: AsyncSession, inbox: Inbox, raw: bytes, reason: str, *, blobs: BlobStore, source: str
) -> Taken:
    key = message_key("raw:" + hashlib.sha256(raw).hexdigest())
    seen = await repository.find_seen(session, inbox.id, key)
    if seen is not None:
        return Taken("duplicate", quarantine_id=seen.quarantine_id)
    blob_key = await _put(blobs, raw)
    item = Quarantined(
        inbox_id=inbox.id, source=source, reason=reason[:300], blob_key=blob_key, size=len(raw)
    )
    session.add(item)
    await session.flush()
    session.add(SeenMail(inbox_id=inbox.id, message_key=key, quarantine_id=item.id))
    await session.flush()
    record(
        session,
        "email.quarantined",
        {"quarantine_id": item.id, "reason": item.reason, "size": item.size, "source": source},
        inbox_id=inbox.id,
    )
    log.warning("quarantined mail for inbox %s: %s", inbox.id, reason)
    return Taken("quarantined", quarantine_id=item.id)


async def mailbox_for(session: AsyncSession, inbox: Inbox, folder: str) -> Mailbox:
    """The sync state of an inbox's folder, created on first sight."""
    found = await repository.get_mailbox(session, inbox.id, folder)
    if found is not None:
        return found
    mailbox = Mailbox(inbox_id=inbox.id, folder=folder, last_uid=0, failures=0, imported=0)
    session.add(mailbox)
    await session.flush()
    return mailbox


def reset_uidvalidity(session: AsyncSession, mailbox: Mailbox, uidvalidity: int) -> None:
    """The server renumbered the folder: start over at UID 0 (the seen-index keeps every mail
    already taken in from coming in twice)."""
    previous = mailbox.uidvalidity
    mailbox.uidvalidity = uidvalidity
    mailbox.last_uid = 0
    if previous is not None:
        record(
            session,
            "email.mailbox_resync",
            {"mailbox_id": mailbox.id, "from": previous, "to": uidvalidity},
            inbox_id=mailbox.inbox_id,
        )


def mailbox_failed(session: AsyncSession, mailbox: Mailbox, error: str) -> None:
    """Count a failed sync; raise the alert once the mailbox keeps failing."""
    mailbox.failures += 1
    mailbox.last_error = error[:2000]
    if mailbox.failures >= ALERT_AFTER and not mailbox.alerting:
        mailbox.alerting = True
        record(
            session,
            "email.mailbox_failing",
            {"mailbox_id": mailbox.id, "failures": mailbox.failures, "error": mailbox.last_error},
            inbox_id=mailbox.inbox_id,
        )


def mailbox_succeeded(session: AsyncSession, mailbox: Mailbox) -> None:
    if mailbox.alerting:
        record(
            session,
            "email.mailbox_recovered",
            {"mailbox_id": mailbox.id, "after_failures": mailbox.failures},
            inbox_id=mailbox.inbox_id,
        )
    mailbox.failures = 0
    mailbox.alerting = False
    mailbox.last_error = None
    mailbox.last_success_at = utcnow()

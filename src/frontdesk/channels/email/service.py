"""The e-mail channel's rules: take a mail in exactly once (or quarantine it), and keep each
mailbox's sync state, lease and health. Callers commit; nothing here commits."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.channels.email import repository, threading
from frontdesk.channels.email.adapter import email_channel
from frontdesk.channels.email.models import Mailbox, Quarantined, Suppression
from frontdesk.channels.email.parsing import BrokenMail, ParsedMail, message_key
from frontdesk.channels.email.schemas import settings_of
from frontdesk.config import Settings
from frontdesk.conversations import repository as conversations_repository
from frontdesk.conversations import service as conversations
from frontdesk.conversations.models import Message
from frontdesk.customers import repository as customers_repository
from frontdesk.db import utcnow
from frontdesk.inboxes import repository as inboxes_repository
from frontdesk.inboxes.models import Inbox
from frontdesk.inboxes.port import Inbound
from frontdesk.kit.blobs import BlobStore
from frontdesk.kit.errors import FrontdeskError
from frontdesk.kit.events import record
from frontdesk.kit.text import storable

log = logging.getLogger(__name__)
# Consecutive failures of a mailbox before the alert event is raised.
ALERT_AFTER = 3


@dataclass
class Taken:
    # stored | duplicate | quarantined | bounce (a report on a mail of ours: message_id is
    # that outbound message; nothing new joins the conversation)
    status: str
    message_id: int | None = None
    conversation_id: int | None = None
    quarantine_id: int | None = None


@dataclass
class IncomingMail:
    """A mail as it reached us, for one inbox (SMTP adds its envelope)."""

    inbox_id: int
    raw: bytes
    recipients: list[str] = field(default_factory=list)
    envelope_sender: str | None = None
    # Parsed ahead of the batch (`parse_ahead`: SMTP parses while the previous batch commits)
    # for this trusted_authserv_id; parsed again in the batch if the inbox changed since.
    parsed: ParsedMail | BrokenMail | None = None
    parsed_for: str | None = None


@dataclass
class _Read:
    """One mail of a batch, read against its inbox: parsed, or why it is quarantined."""

    index: int
    inbox: Inbox
    incoming: IncomingMail
    mail: ParsedMail | None
    broken: str
    key: str  # its seen-index key


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
    incoming = IncomingMail(inbox_id, raw, list(recipients or []), envelope_sender)
    [outcome] = await take_in_many(
        session, [incoming], blobs=blobs, settings=settings, source=source
    )
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


async def take_in_many(
    session: AsyncSession,
    mails: list[IncomingMail],
    *,
    blobs: BlobStore,
    settings: Settings,
    source: str,
) -> list[Taken | Exception]:
    """`take_in` for a batch, in order: one seen-index query, one round of blob fsyncs and one
    `receive_many`. A mail whose inbox is gone, or that `receive_many` refuses, gets its error
    in place (nothing of it is written); repeats within the batch answer duplicate."""
    outcomes: list[Taken | Exception | None] = [None] * len(mails)
    # Loaded here, not passed in: a retry after a rollback must not touch expired rows.
    inboxes = await inboxes_repository.get_inboxes(session, {mail.inbox_id for mail in mails})
    reads: list[_Read] = []
    for index, incoming in enumerate(mails):
        inbox = inboxes.get(incoming.inbox_id)
        if inbox is None or not inbox.active:
            outcomes[index] = LookupError(f"inbox {incoming.inbox_id} is gone or inactive")
        else:
            reads.append(_read(index, inbox, incoming, settings))
    fresh, repeats = await _drop_seen(session, reads, outcomes)
    # The raw mails are written and fsynced while the database work goes on; this returns —
    # so the caller commits and acknowledges — only once they are durable.
    writing = asyncio.create_task(blobs.put_many_async([read.incoming.raw for read in fresh]))
    try:
        await _store(session, fresh, outcomes, inboxes, blobs, settings, source)
    except BaseException:
        await asyncio.wait([writing])
        if not writing.cancelled():
            writing.exception()  # the first failure is the one to report
        raise
    await writing
    for index, first in repeats:
        outcome = outcomes[first]
        if isinstance(outcome, Taken):
            outcome = Taken("duplicate", outcome.message_id, quarantine_id=outcome.quarantine_id)
        outcomes[index] = outcome
    return [outcome for outcome in outcomes if outcome is not None]


async def _store(
    session: AsyncSession,
    fresh: list[_Read],
    outcomes: list[Taken | Exception | None],
    inboxes: dict[int, Inbox],
    blobs: BlobStore,
    settings: Settings,
    source: str,
) -> None:
    """Store or quarantine the mails not seen before."""
    broken = [read for read in fresh if read.mail is None]
    readable = [read for read in fresh if read.mail is not None]
    bounces, readable = await _match_bounces(session, readable, settings)
    seen = [
        *await _settle_bounces(session, bounces, blobs, outcomes),
        *await _store_all(session, readable, blobs, settings, outcomes, inboxes, broken),
    ]
    # Last: _store_all adds the mails that could be read but not stored (a refused sender).
    seen += await _quarantine_all(session, broken, source, blobs, outcomes)
    # The seen rows are the exactly-once guarantee; their unique index settles concurrent copies.
    await repository.add_seen(session, seen)


async def quarantine(
    session: AsyncSession,
    incoming: IncomingMail,
    *,
    error: Exception,
    blobs: BlobStore,
    settings: Settings,
    source: str,
) -> Taken:
    """Keep a mail whose storing failed for a reason a retry cannot cure (it failed alone in
    its own transaction too) in the quarantine, marked seen so a resend answers duplicate.
    The caller commits; then the mail may be acknowledged."""
    inboxes = await inboxes_repository.get_inboxes(session, {incoming.inbox_id})
    inbox = inboxes.get(incoming.inbox_id)
    if inbox is None or not inbox.active:
        raise LookupError(f"inbox {incoming.inbox_id} is gone or inactive")
    first_line = (str(error).strip().splitlines() or [""])[0]
    read = _refused(
        _read(0, inbox, incoming, settings),
        f"not storable: {error.__class__.__name__}: {first_line}",
    )
    outcomes: list[Taken | Exception | None] = [None]
    fresh, _ = await _drop_seen(session, [read], outcomes)
    if fresh:
        await blobs.put_many_async([incoming.raw])
        await repository.add_seen(
            session, await _quarantine_all(session, fresh, source, blobs, outcomes)
        )
    outcome = outcomes[0]
    assert isinstance(outcome, Taken)
    return outcome


def parse_ahead(incoming: IncomingMail, *, trusted_authserv_id: str | None, app: Settings) -> None:
    """Parse a mail before it joins a batch, so the batch's writer does not have to."""
    try:
        incoming.parsed = email_channel.parse_for(
            incoming.raw,
            app,
            trusted_authserv_id=trusted_authserv_id,
            envelope_sender=incoming.envelope_sender,
        )
    except BrokenMail as exc:
        incoming.parsed = exc
    except Exception:  # a parser bug: the batch parses it again and reports it there
        log.exception("parsing a mail ahead of its batch failed")
        return
    incoming.parsed_for = trusted_authserv_id


def _read(index: int, inbox: Inbox, incoming: IncomingMail, settings: Settings) -> _Read:
    parsed = incoming.parsed
    if parsed is None or incoming.parsed_for != settings_of(inbox.settings).trusted_authserv_id:
        try:
            parsed = email_channel.parse(
                inbox, incoming.raw, settings, envelope_sender=incoming.envelope_sender
            )
        except BrokenMail as exc:
            parsed = exc
        except Exception as exc:
            # A parser bug fails the same way on every retry: the mail is kept in the
            # quarantine, never answered with a temporary error for ever.
            log.exception("parsing a mail failed")
            parsed = BrokenMail(f"unreadable: {exc.__class__.__name__}: {exc}"[:300])
    if isinstance(parsed, BrokenMail):
        key = message_key("raw:" + hashlib.sha256(incoming.raw).hexdigest())
        return _Read(index, inbox, incoming, None, str(parsed), key)
    return _Read(index, inbox, incoming, parsed, "", parsed.message_key)


async def _drop_seen(
    session: AsyncSession, reads: list[_Read], outcomes: list[Taken | Exception | None]
) -> tuple[list[_Read], list[tuple[int, int]]]:
    """Answer mails seen before as duplicates; keep the first of repeats within the batch
    (returned as (index, index of the first) pairs)."""
    seen = await repository.find_seen_many(session, {(read.inbox.id, read.key) for read in reads})
    fresh: list[_Read] = []
    repeats: list[tuple[int, int]] = []
    first: dict[tuple[int, str], int] = {}
    for read in reads:
        key = (read.inbox.id, read.key)
        if key in seen:
            row = seen[key]
            outcomes[read.index] = Taken(
                "duplicate", row.message_id, quarantine_id=row.quarantine_id
            )
        elif key in first:
            repeats.append((read.index, first[key]))
        else:
            first[key] = read.index
            fresh.append(read)
    return fresh, repeats


async def _store_all(
    session: AsyncSession,
    readable: list[_Read],
    blobs: BlobStore,
    settings: Settings,
    outcomes: list[Taken | Exception | None],
    inboxes: dict[int, Inbox],
    refused: list[_Read],
) -> list[dict[str, Any]]:
    """Receive the readable mails; their seen rows. A mail `receive_many` refuses joins
    `refused` with the reason, for the quarantine."""
    inbounds: list[Inbound] = []
    for read in list(readable):
        assert read.mail is not None
        try:
            inbounds.append(
                email_channel.to_inbound(
                    read.inbox,
                    read.mail,
                    settings,
                    raw_key=blobs.key(read.incoming.raw),
                    recipients=read.incoming.recipients,
                )
            )
        except Exception as exc:  # as for the parser: the same on every retry
            log.exception("reading a parsed mail failed")
            readable.remove(read)
            refused.append(_refused(read, f"unreadable: {exc.__class__.__name__}: {exc}"))
    received = await conversations.receive_many(session, inbounds, blobs=blobs, inboxes=inboxes)
    seen: list[dict[str, Any]] = []
    for read, outcome in zip(readable, received, strict=True):
        if isinstance(outcome, FrontdeskError):
            refused.append(_refused(read, f"refused ({outcome.code}): {outcome.message}"))
            continue
        message = outcome.message
        seen.append({"inbox_id": read.inbox.id, "message_key": read.key, "message_id": message.id})
        status = "duplicate" if outcome.duplicate else "stored"
        outcomes[read.index] = Taken(status, message.id, outcome.conversation.id)
    return seen


def _refused(read: _Read, reason: str) -> _Read:
    return _Read(read.index, read.inbox, read.incoming, None, reason, read.key)


async def _quarantine_all(
    session: AsyncSession,
    broken: list[_Read],
    source: str,
    blobs: BlobStore,
    outcomes: list[Taken | Exception | None],
) -> list[dict[str, Any]]:
    """Quarantine the broken mails; their seen rows."""
    items = [
        Quarantined(
            inbox_id=read.inbox.id,
            source=source,
            reason=storable(read.broken)[:300],
            blob_key=blobs.key(read.incoming.raw),
            size=len(read.incoming.raw),
        )
        for read in broken
    ]
    if not items:
        return []
    session.add_all(items)
    await session.flush()
    for read, item in zip(broken, items, strict=True):
        record(
            session,
            "email.quarantined",
            {"quarantine_id": item.id, "reason": item.reason, "size": item.size, "source": source},
            inbox_id=read.inbox.id,
        )
        log.warning("quarantined mail for inbox %s: %s", read.inbox.id, read.broken)
        outcomes[read.index] = Taken("quarantined", quarantine_id=item.id)
    return [
        {"inbox_id": read.inbox.id, "message_key": read.key, "quarantine_id": item.id}
        for read, item in zip(broken, items, strict=True)
    ]


async def _match_bounces(
    session: AsyncSession, reads: list[_Read], settings: Settings
) -> tuple[list[tuple[_Read, Message]], list[_Read]]:
    """Bounces of mail we sent, each with that outbound message; and the other mails. A
    bounce that names no mail of ours (or one since deleted) is stored like any mail."""
    matched: list[tuple[_Read, Message]] = []
    rest: list[_Read] = []
    for read in reads:
        message = None
        if read.mail is not None and read.mail.bounce is not None:
            message = await _bounced_message(session, read, settings)
        if message is None:
            rest.append(read)
        else:
            matched.append((read, message))
    return matched, rest


async def _bounced_message(
    session: AsyncSession, read: _Read, settings: Settings
) -> Message | None:
    assert read.mail is not None and read.mail.bounce is not None
    for candidate in read.mail.bounce.original_ids:
        ours = threading.our_message_in_id(
            key=settings.secret_key, inbox_id=read.inbox.id, message_id=candidate
        )
        if ours is None:
            continue
        message = await conversations_repository.get_message(session, ours[1])
        if (
            message is not None
            and message.direction == "outbound"
            and message.conversation_id == ours[0]
            and message.inbox_id == read.inbox.id
        ):
            return message
    return None


async def _settle_bounces(
    session: AsyncSession,
    bounces: list[tuple[_Read, Message]],
    blobs: BlobStore,
    outcomes: list[Taken | Exception | None],
) -> list[dict[str, Any]]:
    """Report each bounce on the outbound message it returns; their seen rows."""
    seen: list[dict[str, Any]] = []
    for read, message in bounces:
        await bounced(session, message, read.mail, raw_key=blobs.key(read.incoming.raw))
        seen.append({"inbox_id": read.inbox.id, "message_key": read.key, "message_id": message.id})
        outcomes[read.index] = Taken("bounce", message.id, message.conversation_id)
    return seen


async def bounced(
    session: AsyncSession, message: Message, mail: ParsedMail | None, *, raw_key: str
) -> None:
    """A bounce of our outbound `message`: its delivery failed (a delay only records an
    event); a permanent (5.x.x) failure suppresses the address for further mail."""
    assert mail is not None and mail.bounce is not None
    report = mail.bounce
    identity = (
        await customers_repository.get_identity(session, message.identity_id)
        if message.identity_id
        else None
    )
    sent_to = identity.address if identity is not None else ""
    failed = report.failed
    recipient = next((r for r in failed if r.address == sent_to), failed[0] if failed else None)
    status = (recipient.status if recipient else "") or report.text_status
    diagnostic = recipient.diagnostic if recipient else ""
    # What the report says is the remote side's text: made storable like any inbound text.
    status, diagnostic = storable(status)[:100], storable(diagnostic)[:2000]
    details = {
        "recipient": storable((recipient.address if recipient else "") or sent_to),
        "status": status,
        "diagnostic": diagnostic,
        "permanent": status.startswith("5"),
        "from": storable(mail.from_address),
        "raw": raw_key,
    }
    where = {
        "inbox_id": message.inbox_id,
        "conversation_id": message.conversation_id,
        "customer_id": message.customer_id,
    }
    if report.recipients and not failed:  # "delayed": the relay keeps trying
        record(session, "email.delivery_delayed", {"message_id": message.id, **details}, **where)
        return
    message.meta = {**message.meta, "bounce": details}
    error = f"bounced: {status or 'no status given'}" + (f" ({diagnostic})" if diagnostic else "")
    await conversations.mark_failed(session, message, error=error[:2000])
    record(session, "email.bounced", {"message_id": message.id, **details}, **where)
    if details["permanent"] and sent_to:
        await _suppress(
            session, sent_to, status=status, reason=diagnostic or error, message=message
        )


async def _suppress(
    session: AsyncSession, address: str, *, status: str, reason: str, message: Message
) -> None:
    if await repository.get_suppression(session, address) is not None:
        return
    await repository.add_suppression(
        session,
        Suppression(
            address=address, status=status[:20], reason=reason[:500], message_id=message.id
        ),
    )


async def lift_suppression(session: AsyncSession, address: str, *, by: int) -> bool:
    """Let mail go to a hard-bounced address again (an admin fixed it); False if it was not
    suppressed."""
    found = await repository.get_suppression(session, address.strip().lower())
    if found is None:
        return False
    await repository.delete_suppression(session, found)
    record(session, "email.suppression_lifted", {"address": found.address, "agent_id": by})
    return True


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

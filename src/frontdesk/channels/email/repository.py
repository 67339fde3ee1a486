"""All SQL of the e-mail channel: inboxes by address, the seen-index, the quarantine, the
mailbox sync state with its poll lease, the suppressed (hard-bounced) addresses, and the blobs
the channel keeps (raw mails)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    String,
    and_,
    func,
    insert,
    literal_column,
    or_,
    select,
    union,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.channels.email.models import Mailbox, Quarantined, SeenMail, Suppression
from frontdesk.conversations.models import Message
from frontdesk.db import utcnow
from frontdesk.inboxes.models import Inbox

# Where messages.meta names blobs: the original of an inbound mail, and of the bounce that
# failed an outbound one (each has an expression index, migration 0007).
RAW_IN_META = (("email", "raw"), ("bounce", "raw"))


async def email_inboxes(session: AsyncSession, *, with_imap: bool = False) -> Sequence[Inbox]:
    query = select(Inbox).where(Inbox.channel == "email", Inbox.active.is_(True))
    rows = (await session.scalars(query.order_by(Inbox.id))).all()
    return [row for row in rows if not with_imap or row.settings.get("imap")]


async def find_seen_many(
    session: AsyncSession, keys: set[tuple[int, str]]
) -> dict[tuple[int, str], SeenMail]:
    """Seen rows by (inbox_id, message_key)."""
    by_inbox: dict[int, set[str]] = {}
    for inbox_id, message_key in keys:
        by_inbox.setdefault(inbox_id, set()).add(message_key)
    if not by_inbox:
        return {}
    # Uses index: uq_email_seen_inbox_id_message_key.
    condition = or_(
        *(
            and_(SeenMail.inbox_id == inbox_id, SeenMail.message_key.in_(message_keys))
            for inbox_id, message_keys in by_inbox.items()
        )
    )
    rows = await session.scalars(select(SeenMail).where(condition))
    return {(row.inbox_id, row.message_key): row for row in rows.all()}


async def add_seen(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Seen rows in one statement; its unique index settles concurrent copies of a mail."""
    if rows:
        await session.execute(insert(SeenMail), rows)


async def get_quarantined(session: AsyncSession, quarantine_id: int) -> Quarantined | None:
    return await session.get(Quarantined, quarantine_id)


async def list_quarantined(
    session: AsyncSession, *, inbox_id: int | None, before: int | None, limit: int
) -> Sequence[Quarantined]:
    query = select(Quarantined).order_by(Quarantined.id.desc()).limit(limit)
    if inbox_id is not None:
        query = query.where(Quarantined.inbox_id == inbox_id)
    if before is not None:
        query = query.where(Quarantined.id < before)
    return (await session.scalars(query)).all()


async def count_quarantined(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(Quarantined)) or 0)


async def blob_keys_in_use(session: AsyncSession, keys: Sequence[str]) -> set[str]:
    """The keys among `keys` that the channel keeps: quarantined mails, and the originals of
    mails and bounces named in messages.meta."""
    if not keys:
        return set()
    dialect = session.get_bind().dialect.name
    # Uses index: ix_email_quarantine_blob_key, ix_messages_email_raw, ix_messages_bounce_raw.
    queries = [select(Quarantined.blob_key).where(Quarantined.blob_key.in_(keys))]
    for path in RAW_IN_META:
        held = _meta_text(dialect, path)
        queries.append(select(held).where(held.in_(keys)))
    rows = await session.scalars(union(*queries))
    return set(rows.all())


def _meta_text(dialect: str, path: tuple[str, str]) -> ColumnElement[str]:
    """messages.meta at `path` as text, written exactly as in its index's definition (SQLite
    matches index expressions by their text; a bound path would read every message)."""
    if dialect == "postgresql":
        return Message.meta.op("#>>", return_type=String)(literal_column(f"'{{{','.join(path)}}}'"))
    return func.json_extract(Message.meta, literal_column(f"'$.{'.'.join(path)}'"), type_=String)


async def get_mailbox(session: AsyncSession, inbox_id: int, folder: str) -> Mailbox | None:
    return await session.scalar(
        select(Mailbox).where(Mailbox.inbox_id == inbox_id, Mailbox.folder == folder)
    )


async def list_mailboxes(session: AsyncSession) -> Sequence[Mailbox]:
    return (await session.scalars(select(Mailbox).order_by(Mailbox.id))).all()


async def take_lease(session: AsyncSession, mailbox_id: int, *, owner: str, seconds: float) -> bool:
    """Compare-and-set: free, expired or already ours → ours until now + seconds."""
    now = utcnow()
    result = await session.execute(
        update(Mailbox)
        .where(
            Mailbox.id == mailbox_id,
            or_(
                Mailbox.lease_owner.is_(None),
                Mailbox.lease_owner == owner,
                Mailbox.lease_until < now,
            ),
        )
        .values(lease_owner=owner, lease_until=now + timedelta(seconds=seconds))
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


async def release_lease(session: AsyncSession, mailbox_id: int, *, owner: str) -> None:
    await session.execute(
        update(Mailbox)
        .where(Mailbox.id == mailbox_id, Mailbox.lease_owner == owner)
        .values(lease_owner=None, lease_until=None)
        .execution_options(synchronize_session=False)
    )


async def advance(
    session: AsyncSession,
    mailbox_id: int,
    *,
    owner: str,
    last_uid: int,
    imported: int,
    at: datetime | None = None,
) -> bool:
    """Move last_uid forward in the transaction that stored the mail, only while we hold
    the lease (a process that lost it must not overwrite the new holder's progress)."""
    result = await session.execute(
        update(Mailbox)
        .where(Mailbox.id == mailbox_id, Mailbox.lease_owner == owner, Mailbox.last_uid < last_uid)
        .values(
            last_uid=last_uid, imported=Mailbox.imported + imported, last_success_at=at or utcnow()
        )
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


async def get_suppression(session: AsyncSession, address: str) -> Suppression | None:
    # Uses index: uq_email_suppressions_address.
    return await session.scalar(select(Suppression).where(Suppression.address == address))


async def add_suppression(session: AsyncSession, suppression: Suppression) -> None:
    """Insert; the unique address settles a concurrent insert (the batch is replayed)."""
    session.add(suppression)
    await session.flush()


async def list_suppressions(session: AsyncSession) -> Sequence[Suppression]:
    return (await session.scalars(select(Suppression).order_by(Suppression.id))).all()


async def delete_suppression(session: AsyncSession, suppression: Suppression) -> None:
    await session.delete(suppression)
    await session.flush()

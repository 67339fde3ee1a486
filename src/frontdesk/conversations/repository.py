"""All SQL about conversations, messages, notes, tags and attachments."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, delete, exists, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.conversations.models import (
    ACTIVE_STATUSES,
    Attachment,
    Conversation,
    ConversationTag,
    Message,
    Note,
    PendingProviderUpdate,
    Tag,
)
from frontdesk.db import insert_for
from frontdesk.kit.events import Event
from frontdesk.kit.sql import in_ids


async def get_conversation(session: AsyncSession, conversation_id: int) -> Conversation | None:
    return await session.get(Conversation, conversation_id)


async def get_message(session: AsyncSession, message_id: int) -> Message | None:
    return await session.get(Message, message_id)


async def find_message(session: AsyncSession, inbox_id: int, external_id: str) -> Message | None:
    return await session.scalar(
        select(Message).where(Message.inbox_id == inbox_id, Message.external_id == external_id)
    )


async def find_messages(
    session: AsyncSession, keys: set[tuple[int, str]]
) -> dict[tuple[int, str], Message]:
    """Stored messages by (inbox_id, external_id)."""
    by_inbox: dict[int, set[str]] = {}
    for inbox_id, external_id in keys:
        by_inbox.setdefault(inbox_id, set()).add(external_id)
    if not by_inbox:
        return {}
    # Uses index: uq_messages_inbox_id (inbox_id, external_id).
    condition = or_(
        *(
            and_(Message.inbox_id == inbox_id, Message.external_id.in_(external_ids))
            for inbox_id, external_ids in by_inbox.items()
        )
    )
    rows = await session.scalars(select(Message).where(condition))
    return {(m.inbox_id, m.external_id or ""): m for m in rows.all()}


async def get_conversations(
    session: AsyncSession, conversation_ids: set[int]
) -> dict[int, Conversation]:
    if not conversation_ids:
        return {}
    rows = await session.scalars(select(Conversation).where(Conversation.id.in_(conversation_ids)))
    return {conversation.id: conversation for conversation in rows.all()}


async def find_active_many(
    session: AsyncSession, keys: set[tuple[int, int]]
) -> dict[tuple[int, int], Conversation]:
    """The newest active conversation per (inbox_id, customer_id)."""
    if not keys:
        return {}
    # Uses index: ix_conversations_customer_inbox, led by the customers. Given an IN list of
    # customers, SQLite (without ANALYZE statistics) picked the inbox_id or the status index
    # and read every conversation of the inbox, or every open one, for each batch. The inbox
    # and status terms are written so that no index can serve them (`+ 0`, `|| ''`): only the
    # customer term can lead, and the rest is checked on the customers' few conversations.
    rows = await session.scalars(
        select(Conversation)
        .where(
            Conversation.customer_id.in_({customer_id for _, customer_id in keys}),
            (Conversation.inbox_id + 0).in_({inbox_id for inbox_id, _ in keys}),
            Conversation.status.concat("").in_(ACTIVE_STATUSES),
        )
        .order_by(Conversation.id.desc())
    )
    found: dict[tuple[int, int], Conversation] = {}
    for conversation in rows.all():
        key = (conversation.inbox_id, conversation.customer_id)
        if key in keys and key not in found:
            found[key] = conversation
    return found


async def find_by_thread(
    session: AsyncSession, *, inbox_id: int, customer_id: int, thread_key: str
) -> Conversation | None:
    return await session.scalar(
        select(Conversation)
        .where(
            Conversation.inbox_id == inbox_id,
            Conversation.customer_id == customer_id,
            Conversation.thread_key == thread_key,
        )
        .order_by(Conversation.id.desc())
        .limit(1)
    )


async def find_by_thread_many(
    session: AsyncSession, keys: set[tuple[int, int, str]]
) -> dict[tuple[int, int, str], Conversation]:
    """The newest conversation per (inbox_id, customer_id, thread_key)."""
    if not keys:
        return {}
    # Uses index: ix_conversations_thread_key.
    rows = await session.scalars(
        select(Conversation)
        .where(
            Conversation.thread_key.in_({thread_key for _, _, thread_key in keys}),
            Conversation.inbox_id.in_({inbox_id for inbox_id, _, _ in keys}),
            Conversation.customer_id.in_({customer_id for _, customer_id, _ in keys}),
        )
        .order_by(Conversation.id.desc())
    )
    found: dict[tuple[int, int, str], Conversation] = {}
    for conversation in rows.all():
        key = (conversation.inbox_id, conversation.customer_id, conversation.thread_key or "")
        if key in keys and key not in found:
            found[key] = conversation
    return found


async def conversation_ids_by_external_id(
    session: AsyncSession, inbox_id: int, external_ids: Sequence[str]
) -> dict[str, int]:
    """Conversations of the inbox holding messages with these external ids (the first 100)."""
    if not external_ids:
        return {}
    rows = await session.execute(
        select(Message.external_id, Message.conversation_id).where(
            Message.inbox_id == inbox_id, Message.external_id.in_(list(external_ids)[:100])
        )
    )
    return {external_id or "": conversation_id for external_id, conversation_id in rows.tuples()}


async def thread_messages(
    session: AsyncSession, conversation_id: int, *, before_id: int
) -> Sequence[Message]:
    """The conversation's messages before this one, oldest first (for References)."""
    return (
        await session.scalars(
            select(Message)
            .where(Message.conversation_id == conversation_id, Message.id < before_id)
            .order_by(Message.id)
        )
    ).all()


async def inbound_of(session: AsyncSession, conversation_id: int) -> Sequence[Message]:
    """The conversation's inbound messages, oldest first."""
    return (
        await session.scalars(
            select(Message)
            .where(Message.conversation_id == conversation_id, Message.direction == "inbound")
            .order_by(Message.id)
        )
    ).all()


async def find_active(
    session: AsyncSession, *, inbox_id: int, customer_id: int
) -> Conversation | None:
    # Uses index: ix_conversations_customer_inbox.
    return await session.scalar(
        select(Conversation)
        .where(
            Conversation.customer_id == customer_id,
            Conversation.inbox_id == inbox_id,
            Conversation.status.in_(ACTIVE_STATUSES),
        )
        .order_by(Conversation.id.desc())
        .limit(1)
    )


async def list_conversations(
    session: AsyncSession,
    *,
    inbox_ids: set[int] | None,
    status: str | None,
    inbox_id: int | None,
    assignee_id: int | None,
    customer_id: int | None,
    before: int | None,
    limit: int,
) -> Sequence[Conversation]:
    query = select(Conversation).order_by(Conversation.id.desc()).limit(limit)
    if inbox_ids is not None:
        query = query.where(Conversation.inbox_id.in_(inbox_ids or {-1}))
    if status:
        query = query.where(Conversation.status == status)
    if inbox_id is not None:
        query = query.where(Conversation.inbox_id == inbox_id)
    if assignee_id is not None:
        query = query.where(Conversation.assignee_id == assignee_id)
    if customer_id is not None:
        query = query.where(Conversation.customer_id == customer_id)
    if before is not None:
        query = query.where(Conversation.id < before)
    return (await session.scalars(query)).all()


async def list_messages(
    session: AsyncSession, conversation_id: int, *, after: int | None, limit: int
) -> Sequence[Message]:
    query = (
        select(Message)
        .where(Message.conversation_id == conversation_id)
        .order_by(Message.id)
        .limit(limit)
    )
    if after is not None:
        query = query.where(Message.id > after)
    return (await session.scalars(query)).all()


async def last_inbound(session: AsyncSession, conversation_id: int) -> Message | None:
    return await session.scalar(
        select(Message)
        .where(Message.conversation_id == conversation_id, Message.direction == "inbound")
        .order_by(Message.id.desc())
        .limit(1)
    )


async def last_inbound_from(
    session: AsyncSession, inbox_id: int, customer_id: int
) -> Message | None:
    """The customer's newest message on this inbox (in any of its conversations)."""
    return await session.scalar(
        select(Message)
        .where(
            Message.inbox_id == inbox_id,
            Message.customer_id == customer_id,
            Message.direction == "inbound",
        )
        .order_by(Message.id.desc())
        .limit(1)
    )


async def mark_answered(
    session: AsyncSession, *, conversation_id: int, before_message_id: int
) -> int:
    result = await session.execute(
        update(Message)
        .where(
            Message.conversation_id == conversation_id,
            Message.direction == "inbound",
            Message.answered.is_(False),
            Message.id < before_message_id,
        )
        .values(answered=True)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def mark_answered_many(
    session: AsyncSession, bounds: Mapping[int, int]
) -> Sequence[tuple[int, int]]:
    """`mark_answered` for several conversations in one statement: {conversation id: the
    reply's id}, every unanswered inbound message before it is answered. (conversation id,
    message id) of each message it marked."""
    if not bounds:
        return []
    result = await session.execute(
        update(Message)
        .where(
            Message.direction == "inbound",
            Message.answered.is_(False),
            or_(
                *(
                    and_(Message.conversation_id == conversation_id, Message.id < before)
                    for conversation_id, before in bounds.items()
                )
            ),
        )
        .values(answered=True)
        .returning(Message.conversation_id, Message.id)
        .execution_options(synchronize_session=False)
    )
    return [(int(c), int(m)) for c, m in result.all()]


async def attachments_of(session: AsyncSession, message_ids: Sequence[int]) -> Sequence[Attachment]:
    if not message_ids:
        return []
    return (
        await session.scalars(
            select(Attachment).where(Attachment.message_id.in_(message_ids)).order_by(Attachment.id)
        )
    ).all()


async def get_attachment(session: AsyncSession, attachment_id: int) -> Attachment | None:
    return await session.get(Attachment, attachment_id)


async def delete_pending_uploads(session: AsyncSession, *, before: datetime) -> int:
    """Agents' uploads that no reply or note took, uploaded before `before`."""
    result = await session.execute(
        delete(Attachment)
        .where(
            Attachment.message_id.is_(None),
            Attachment.note_id.is_(None),
            Attachment.created_at < before,
        )
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def blob_keys_in_use(session: AsyncSession, keys: Sequence[str]) -> set[str]:
    """The keys among `keys` that an attachment names (of a message, a note or an upload)."""
    if not keys:
        return set()
    # Uses index: ix_attachments_blob_key.
    rows = await session.scalars(
        select(Attachment.blob_key).where(Attachment.blob_key.in_(keys)).distinct()
    )
    return set(rows.all())


async def get_note(session: AsyncSession, note_id: int) -> Note | None:
    return await session.get(Note, note_id)


async def attachments_by_id(session: AsyncSession, ids: Sequence[int]) -> Sequence[Attachment]:
    if not ids:
        return []
    return (
        await session.scalars(
            select(Attachment).where(Attachment.id.in_(ids)).order_by(Attachment.id)
        )
    ).all()


async def attachments_of_notes(
    session: AsyncSession, note_ids: Sequence[int]
) -> Sequence[Attachment]:
    if not note_ids:
        return []
    return (
        await session.scalars(
            select(Attachment).where(Attachment.note_id.in_(note_ids)).order_by(Attachment.id)
        )
    ).all()


async def list_notes(session: AsyncSession, conversation_id: int) -> Sequence[Note]:
    return (
        await session.scalars(
            select(Note).where(Note.conversation_id == conversation_id).order_by(Note.id)
        )
    ).all()


async def tag_names(session: AsyncSession, conversation_id: int) -> list[str]:
    return (await tag_names_by_conversation(session, [conversation_id])).get(conversation_id, [])


async def tag_names_by_conversation(
    session: AsyncSession, conversation_ids: Sequence[int]
) -> dict[int, list[str]]:
    if not conversation_ids:
        return {}
    rows = await session.execute(
        select(ConversationTag.conversation_id, Tag.name)
        .join(Tag, ConversationTag.tag_id == Tag.id)
        .where(in_ids(session, ConversationTag.conversation_id, conversation_ids))
        .order_by(Tag.name)
    )
    names: dict[int, list[str]] = {}
    for conversation_id, name in rows.all():
        names.setdefault(conversation_id, []).append(name)
    return names


async def get_or_create_tag(session: AsyncSession, name: str) -> Tag:
    """The tag of this name, created if need be. Two transactions creating the same tag at
    once (the worker's sentiment and at-risk batches tag conversations `at-risk`) both
    succeed: the second waits for the first and then finds its row, instead of failing on
    the unique name (and its whole batch with it)."""
    tag = await session.scalar(select(Tag).where(Tag.name == name))
    if tag is None:
        insert = insert_for(session)
        await session.execute(
            insert(Tag).values(name=name).on_conflict_do_nothing(index_elements=["name"])
        )
        tag = await session.scalar(select(Tag).where(Tag.name == name))
        assert tag is not None
    return tag


async def set_tags(session: AsyncSession, conversation_id: int, tag_ids: Sequence[int]) -> None:
    await session.execute(
        delete(ConversationTag).where(ConversationTag.conversation_id == conversation_id)
    )
    session.add_all(
        ConversationTag(conversation_id=conversation_id, tag_id=tag_id) for tag_id in set(tag_ids)
    )


async def add_tag(session: AsyncSession, conversation_id: int, name: str) -> None:
    """Tag the conversation (kept tags stay; a tag it has already is a no-op)."""
    tag = await get_or_create_tag(session, name)
    insert = insert_for(session)
    await session.execute(
        insert(ConversationTag)
        .values(conversation_id=conversation_id, tag_id=tag.id)
        .on_conflict_do_nothing(index_elements=["conversation_id", "tag_id"])
    )


async def remove_tag(session: AsyncSession, conversation_id: int, name: str) -> None:
    tag = await session.scalar(select(Tag).where(Tag.name == name))
    if tag is not None:
        await session.execute(
            delete(ConversationTag).where(
                ConversationTag.conversation_id == conversation_id,
                ConversationTag.tag_id == tag.id,
            )
        )


async def outbound_until(
    session: AsyncSession, inbox_id: int, identity_ids: Sequence[int], until: datetime
) -> Sequence[Message]:
    """Outbound messages of the inbox to these identities, sent at or before `until`, that a
    provider watermark may still move forward (not yet read)."""
    if not identity_ids:
        return []
    # Uses index: ix_messages_provider (inbox_id, provider_message_id).
    return (
        await session.scalars(
            select(Message)
            .where(
                Message.inbox_id == inbox_id,
                Message.provider_message_id.is_not(None),
                Message.identity_id.in_(list(identity_ids)),
                Message.direction == "outbound",
                Message.delivery_status.in_(("queued", "sent", "delivered", "failed")),
                Message.sent_at <= until,
            )
            .order_by(Message.id)
            .with_for_update()
        )
    ).all()


async def due_snoozed(session: AsyncSession, now: datetime) -> Sequence[Conversation]:
    return (
        await session.scalars(
            select(Conversation).where(
                Conversation.status == "snoozed", Conversation.snoozed_until <= now
            )
        )
    ).all()


async def find_by_provider_ids(
    session: AsyncSession, keys: set[tuple[int, str]]
) -> dict[tuple[int, str], Message]:
    """The messages providers' notices name, by (inbox_id, provider_message_id), in one query:
    the first message of each pair, locked until commit on PostgreSQL so that two notices
    about one message apply one after the other (SQLite serialises writers anyway); pairs
    with no message are absent."""
    if not keys:
        return {}
    by_inbox: dict[int, set[str]] = {}
    for inbox_id, provider_id in keys:
        by_inbox.setdefault(inbox_id, set()).add(provider_id)
    # Uses index: ix_messages_provider (inbox_id, provider_message_id).
    condition = or_(
        *(
            and_(Message.inbox_id == inbox_id, Message.provider_message_id.in_(ids))
            for inbox_id, ids in by_inbox.items()
        )
    )
    query = select(Message).where(condition).order_by(Message.id).with_for_update()
    found: dict[tuple[int, str], Message] = {}
    for message in (await session.scalars(query)).all():
        assert message.provider_message_id is not None
        found.setdefault((message.inbox_id, message.provider_message_id), message)
    return found


async def find_message_by_provider_id(
    session: AsyncSession, inbox_id: int, provider_message_id: str
) -> Message | None:
    """The first message with this provider id, unlocked: a read to recognise a provider's
    echo."""
    # Uses index: ix_messages_provider (inbox_id, provider_message_id).
    return await session.scalar(
        select(Message)
        .where(Message.inbox_id == inbox_id, Message.provider_message_id == provider_message_id)
        .order_by(Message.id)
        .limit(1)
    )


def _provider_id_key(inbox_id: int, provider_id: str) -> int:
    """A signed 64-bit advisory-lock key for one (inbox, provider message id)."""
    digest = hashlib.blake2b(f"provider-id:{inbox_id}:{provider_id}".encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "big", signed=True)


async def lock_provider_ids(session: AsyncSession, keys: set[tuple[int, str]]) -> None:
    """Serialise, until commit, this transaction with any other that looks up or gives out
    one of these (inbox_id, provider_message_id) pairs. On PostgreSQL (read committed) a
    status notice that found no message and kept itself, and the send that gave a message
    that id and then looked for kept notices, could otherwise both commit without seeing
    each other: the notice would wait, unapplied, for a message that has arrived. Locks are
    taken in key order, so two such transactions cannot deadlock on them; SQLite needs none
    (its transactions hold the one write lock from BEGIN)."""
    if not keys or session.get_bind().dialect.name != "postgresql":
        return
    ordered = sorted(
        {_provider_id_key(inbox_id, provider_id[:300]) for inbox_id, provider_id in keys}
    )
    await session.execute(
        text(
            "SELECT pg_advisory_xact_lock(k) FROM"
            " (SELECT unnest(CAST(:keys AS bigint[])) AS k ORDER BY 1) AS ordered"
        ),
        {"keys": ordered},
    )


# Prepared once: built per call, each provider id was coerced into a parameter of its own.
# The pairs are narrowed to the wanted ones below (an inbox's ids and another's may mix).
# Uses index: ix_pending_provider_updates_key (inbox_id, provider_message_id).
_PENDING_UPDATES = (
    select(PendingProviderUpdate)
    .where(
        PendingProviderUpdate.inbox_id.in_(bindparam("p_inboxes", expanding=True)),
        PendingProviderUpdate.provider_message_id.in_(bindparam("p_ids", expanding=True)),
    )
    .order_by(PendingProviderUpdate.id)
)


async def take_pending_updates(
    session: AsyncSession, keys: set[tuple[int, str]]
) -> list[PendingProviderUpdate]:
    """Pending notices for these (inbox_id, provider_message_id) pairs, oldest first; they are
    deleted in this transaction (applied once, whoever commits first)."""
    if not keys:
        return []
    found = await session.scalars(
        _PENDING_UPDATES,
        {
            "p_inboxes": sorted({inbox_id for inbox_id, _ in keys}),
            "p_ids": sorted({provider_id for _, provider_id in keys}),
        },
    )
    rows = [row for row in found.all() if (row.inbox_id, row.provider_message_id) in keys]
    if rows:
        await session.execute(
            delete(PendingProviderUpdate).where(
                PendingProviderUpdate.id.in_([row.id for row in rows])
            )
        )
    return rows


async def drop_pending_updates(session: AsyncSession, *, before: datetime) -> int:
    result = await session.execute(
        delete(PendingProviderUpdate).where(PendingProviderUpdate.created_at < before)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def get_messages(session: AsyncSession, message_ids: set[int]) -> dict[int, Message]:
    if not message_ids:
        return {}
    rows = await session.scalars(select(Message).where(Message.id.in_(message_ids)))
    return {message.id: message for message in rows.all()}


async def delivery_states(session: AsyncSession, message_ids: set[int]) -> dict[int, Any]:
    """{id: row} of what a delivery changes on these messages, as stored now (Core rows with
    `delivery_status`, `delivery_error`, `provider_message_id`, `sent_at`, `meta`): a delivery
    wave's check that nobody recorded them meanwhile, without loading the messages again."""
    if not message_ids:
        return {}
    rows = await session.execute(
        select(
            Message.id,
            Message.delivery_status,
            Message.delivery_error,
            Message.provider_message_id,
            Message.sent_at,
            Message.meta,
        ).where(in_ids(session, Message.id, message_ids))
    )
    return {row.id: row for row in rows.all()}


_MESSAGES = Message.metadata.tables["messages"]
# One executemany for a delivery wave's messages (kept by the caller, not in the session).
_SAVE_DELIVERY = (
    update(_MESSAGES)
    .where(_MESSAGES.c.id == bindparam("b_id"))
    .values(
        delivery_status=bindparam("b_status"),
        delivery_error=bindparam("b_error"),
        provider_message_id=bindparam("b_provider_id"),
        sent_at=bindparam("b_sent_at"),
        meta=bindparam("b_meta"),
    )
)


async def save_deliveries(session: AsyncSession, messages: Sequence[Message]) -> None:
    """Write what a delivery changed on these messages (instances outside this session, as a
    delivery batch loaded them): one executemany instead of a load and a flush."""
    if not messages:
        return
    await session.execute(
        _SAVE_DELIVERY,
        [
            {
                "b_id": message.id,
                "b_status": message.delivery_status,
                "b_error": message.delivery_error,
                "b_provider_id": message.provider_message_id,
                "b_sent_at": message.sent_at,
                "b_meta": message.meta,
            }
            for message in messages
        ],
    )


async def thread_messages_many(
    session: AsyncSession, conversation_ids: set[int], *, before_id: int
) -> dict[int, list[Any]]:
    """The messages before `before_id` of each conversation, oldest first, as Core rows of
    what a reply's threading needs (`id`, `direction`, `external_id`, `answered`, `meta`): a
    delivery batch's References and what it answers, one query for the batch, no ORM objects."""
    threads: dict[int, list[Any]] = {cid: [] for cid in conversation_ids}
    if not conversation_ids:
        return threads
    rows = await session.execute(
        select(
            Message.id,
            Message.conversation_id,
            Message.direction,
            Message.external_id,
            Message.answered,
            Message.meta,
        )
        .where(Message.conversation_id.in_(conversation_ids), Message.id < before_id)
        .order_by(Message.id)
    )
    for row in rows.all():
        threads[row.conversation_id].append(row)
    return threads


# --- Activity ------------------------------------------------------------------------------

# The events that make a conversation's activity log (changes, not messages or notes), the
# SLA domain's warnings and breaches among them (not its every clock start and pause).
ACTIVITY_TYPES = (
    "conversation.created",
    "conversation.status_changed",
    "conversation.updated",
    "conversation.flagged",
    "conversation.switched",
    "sla.warning",
    "sla.breached",
)
# Events about the conversation's customer that its activity log shows too.
CUSTOMER_ACTIVITY_TYPES = ("customer.merged",)


async def activity_events(
    session: AsyncSession,
    conversation: Conversation,
    *,
    after: int | None,
    limit: int,
) -> Sequence[Event]:
    """The conversation's activity events after sequence `after`, oldest first."""
    # Uses index: ix_events_conversation and ix_events_customer.
    about_conversation = and_(
        Event.conversation_id == conversation.id, Event.type.in_(ACTIVITY_TYPES)
    )
    about_customer = and_(
        Event.customer_id == conversation.customer_id,
        Event.conversation_id.is_(None),
        Event.type.in_(CUSTOMER_ACTIVITY_TYPES),
    )
    query = select(Event).where(or_(about_conversation, about_customer))
    if after is not None:
        query = query.where(Event.sequence > after)
    return (await session.scalars(query.order_by(Event.sequence).limit(limit))).all()


async def calls_with_media_before(
    session: AsyncSession, inbox_id: int, *, before: datetime, limit: int
) -> Sequence[Message]:
    """Calls of the inbox made before `before` that still have a recording (an attachment)
    or a transcript (their text), oldest first (retention)."""
    has_file = exists().where(Attachment.message_id == Message.id)
    return (
        await session.scalars(
            select(Message)
            .where(
                Message.inbox_id == inbox_id,
                Message.kind == "call",
                Message.created_at < before,
                or_(has_file, Message.text != ""),
            )
            .order_by(Message.id)
            .limit(limit)
        )
    ).all()


async def delete_attachments_of(session: AsyncSession, message_id: int) -> None:
    await session.execute(delete(Attachment).where(Attachment.message_id == message_id))

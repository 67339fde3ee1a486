"""All SQL of the webchat channel: visitors and the visitor's view of their messages."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.channels.webchat.models import CallRecordingChunk, WebchatVisitor
from frontdesk.conversations.models import Message


async def get_visitor(session: AsyncSession, key: str) -> WebchatVisitor | None:
    return await session.scalar(select(WebchatVisitor).where(WebchatVisitor.key == key))


async def visitor_messages(
    session: AsyncSession,
    *,
    inbox_id: int,
    customer_id: int,
    after: int,
    recent_since: datetime,
    limit: int = 500,
) -> Sequence[Message]:
    """The visitor's messages on this inbox after `after`, plus the last moments' (a message
    committed late can carry a smaller id than one already shown; the widget dedupes by id)."""
    return (
        await session.scalars(
            select(Message)
            .where(
                Message.inbox_id == inbox_id,
                Message.customer_id == customer_id,
                or_(Message.id > after, Message.created_at >= recent_since),
            )
            .order_by(Message.id)
            .limit(limit)
        )
    ).all()


async def unread_outbound(
    session: AsyncSession, *, inbox_id: int, customer_id: int, up_to: int
) -> Sequence[Message]:
    return (
        await session.scalars(
            select(Message)
            .where(
                Message.inbox_id == inbox_id,
                Message.customer_id == customer_id,
                Message.direction == "outbound",
                Message.id <= up_to,
                Message.delivery_status.in_(("queued", "sent", "delivered")),
            )
            .order_by(Message.id)
        )
    ).all()


async def get_chunk(session: AsyncSession, message_id: int, seq: int) -> CallRecordingChunk | None:
    return await session.scalar(
        select(CallRecordingChunk).where(
            CallRecordingChunk.message_id == message_id, CallRecordingChunk.seq == seq
        )
    )


async def chunks_of(session: AsyncSession, message_id: int) -> Sequence[CallRecordingChunk]:
    """The recording's chunks in order (uq_call_recording_chunks_message_id_seq)."""
    rows = await session.scalars(
        select(CallRecordingChunk)
        .where(CallRecordingChunk.message_id == message_id)
        .order_by(CallRecordingChunk.seq)
    )
    return rows.all()


async def chunk_totals(session: AsyncSession, message_id: int) -> tuple[int, int, datetime | None]:
    """(chunks, bytes, when the newest came) of a recording in progress."""
    row = (
        await session.execute(
            select(
                func.count(CallRecordingChunk.id),
                func.coalesce(func.sum(CallRecordingChunk.size), 0),
                func.max(CallRecordingChunk.created_at),
            ).where(CallRecordingChunk.message_id == message_id)
        )
    ).one()
    newest = row[2]
    if isinstance(newest, str):  # SQLite returns max() of a datetime column as text
        newest = datetime.fromisoformat(newest)
    if newest is not None and newest.tzinfo is None:
        newest = newest.replace(tzinfo=UTC)
    return int(row[0]), int(row[1]), newest


async def drop_chunks(session: AsyncSession, message_id: int) -> None:
    await session.execute(
        delete(CallRecordingChunk).where(CallRecordingChunk.message_id == message_id)
    )


async def chunk_blob_keys_in_use(session: AsyncSession, keys: Sequence[str]) -> set[str]:
    """Blob collector: the keys among `keys` that a recording still being uploaded holds."""
    if not keys:
        return set()
    # Uses index: ix_call_recording_chunks_blob_key.
    rows = await session.scalars(
        select(CallRecordingChunk.blob_key).where(CallRecordingChunk.blob_key.in_(keys))
    )
    return set(rows.all())

"""All SQL of the voice channel."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.channels.voice.models import IN_QUEUE, VoiceCall, VoiceQuarantine


async def get_call(session: AsyncSession, inbox_id: int, call_sid: str) -> VoiceCall | None:
    return await session.scalar(
        select(VoiceCall).where(VoiceCall.inbox_id == inbox_id, VoiceCall.call_sid == call_sid)
    )


async def get_call_by_id(session: AsyncSession, call_id: int) -> VoiceCall | None:
    return await session.get(VoiceCall, call_id)


async def get_call_of_message(session: AsyncSession, message_id: int) -> VoiceCall | None:
    return await session.scalar(select(VoiceCall).where(VoiceCall.message_id == message_id))


async def position_in_queue(session: AsyncSession, call: VoiceCall) -> int:
    """1 for the first place: the places of the call's queue taken before it (callers who
    asked to be called back keep theirs)."""
    assert call.enqueued_at is not None
    # Uses index: ix_voice_calls_queue.
    ahead = await session.scalar(
        select(func.count())
        .select_from(VoiceCall)
        .where(
            VoiceCall.inbox_id == call.inbox_id,
            VoiceCall.queue_id == call.queue_id,
            VoiceCall.state.in_(IN_QUEUE),
            (VoiceCall.enqueued_at < call.enqueued_at)
            | ((VoiceCall.enqueued_at == call.enqueued_at) & (VoiceCall.id < call.id)),
        )
    )
    return int(ahead or 0) + 1


def quarantine(
    session: AsyncSession, inbox_id: int, *, route: str, reason: str, params: dict[str, Any]
) -> None:
    session.add(VoiceQuarantine(inbox_id=inbox_id, route=route, reason=reason, params=params))


async def quarantined(session: AsyncSession, inbox_id: int) -> list[VoiceQuarantine]:
    rows = await session.scalars(
        select(VoiceQuarantine)
        .where(VoiceQuarantine.inbox_id == inbox_id)
        .order_by(VoiceQuarantine.id)
    )
    return list(rows.all())

"""All SQL of the voice channel."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from frontdesk.channels.voice.models import IN_QUEUE, VoiceCall, VoiceQuarantine
from frontdesk.conversations import repository as conversations_repository
from frontdesk.conversations.models import Conversation, Message
from frontdesk.kit import jobs

# The calls (and first-step messages) this transaction has read, by (inbox_id, CallSid).
_READ = "frontdesk.voice_calls_read"


async def get_call(session: AsyncSession, inbox_id: int, call_sid: str) -> VoiceCall | None:
    return await session.scalar(
        select(VoiceCall).where(VoiceCall.inbox_id == inbox_id, VoiceCall.call_sid == call_sid)
    )


async def calls_by_sid(
    session: AsyncSession, inbox_id: int, call_sids: Collection[str]
) -> dict[str, VoiceCall]:
    """The calls of these CallSids, their messages and conversations read in the same
    statement and held for this transaction (the steps that change a call change those
    too: `session.get` then finds them in the session without a query)."""
    # Uses index: uq_voice_calls_inbox_id (inbox_id, call_sid).
    rows = (
        await session.execute(
            select(VoiceCall, Message, Conversation)
            .join(Message, Message.id == VoiceCall.message_id)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .where(VoiceCall.inbox_id == inbox_id, VoiceCall.call_sid.in_(call_sids))
        )
    ).all()
    _held(session).rows.extend(rows)  # the session's identity map holds rows weakly
    return {call.call_sid: call for call, _, _ in rows}


async def call_with_message(
    session: AsyncSession, call_id: int
) -> tuple[VoiceCall, Message, Conversation] | None:
    """A call by our id, with its message and conversation, in one statement."""
    row = (
        await session.execute(
            select(VoiceCall, Message, Conversation)
            .join(Message, Message.id == VoiceCall.message_id)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .where(VoiceCall.id == call_id)
        )
    ).first()
    return (row[0], row[1], row[2]) if row is not None else None


class _Held:
    def __init__(self, transaction: object) -> None:
        self.transaction = transaction
        self.calls: dict[tuple[int, str], VoiceCall | Message | None] = {}
        self.rows: list[Any] = []


def _held(session: AsyncSession) -> _Held:
    """What this transaction has read ahead; forgotten at its end (a rolled-back one's rows
    are stale)."""
    sync = session.sync_session
    transaction = sync.get_transaction()
    held: _Held | None = sync.info.get(_READ)
    if held is None or held.transaction is not transaction:
        held = sync.info[_READ] = _Held(transaction)
    return held


async def read_ahead(session: AsyncSession, keys: Collection[tuple[int, str]]) -> None:
    """Read the calls of a batch of webhooks in one statement per inbox (and, for CallSids
    with no call row yet, their call messages in one more): each step then finds its call
    with `read_call` instead of a query of its own."""
    await session.connection()  # begins the transaction that what is read belongs to
    read = _held(session).calls
    by_inbox: dict[int, set[str]] = {}
    for inbox_id, sid in keys:
        if (inbox_id, sid) not in read:
            by_inbox.setdefault(inbox_id, set()).add(sid)
    missing: set[tuple[int, str]] = set()
    for inbox_id, sids in by_inbox.items():
        found = await calls_by_sid(session, inbox_id, sids)
        for sid in sids:
            read[(inbox_id, sid)] = found.get(sid)
            if sid not in found:
                missing.add((inbox_id, sid))
    if missing:
        messages = await conversations_repository.find_messages(session, missing)
        for key in missing:
            read[key] = messages.get(key)


def read_call(session: AsyncSession, inbox_id: int, call_sid: str) -> VoiceCall | Message | None:
    """The call read ahead for this CallSid; its message if it has no call row yet (the
    first step after the incoming call makes it); None if neither was read ahead."""
    return _held(session).calls.get((inbox_id, call_sid))


def remember_call(session: AsyncSession, call: VoiceCall) -> None:
    """A call row made in this transaction: later steps of the batch find it."""
    _held(session).calls[(call.inbox_id, call.call_sid)] = call


async def get_call_by_id(session: AsyncSession, call_id: int) -> VoiceCall | None:
    return await session.get(VoiceCall, call_id)


async def get_call_of_message(session: AsyncSession, message_id: int) -> VoiceCall | None:
    return await session.scalar(select(VoiceCall).where(VoiceCall.message_id == message_id))


@dataclass
class Waiting:
    """A step's call, with its place in the queue if it is waiting there (1 for the first
    place; else 0), read once the steps of its batch have run: one statement for all."""

    call: VoiceCall
    position: int = 0


@dataclass
class Queued:
    """A job a step queues, keyed (once per key), enqueued at the end of its batch with the
    other steps' jobs of its kind (one read of the keys, one insert); the step's answer is
    then `answer`."""

    kind: str
    key: str
    call: VoiceCall
    payload: dict[str, Any]
    answer: str


async def enqueue_queued(session: AsyncSession, queued: Sequence[Queued]) -> None:
    """The jobs of a batch's steps, each with its call's id (a call row made in this batch
    gets it at a flush first)."""
    if not queued:
        return
    if any(item.call.id is None for item in queued):
        await session.flush()
    by_kind: dict[str, dict[str, dict[str, Any]]] = {}
    for item in queued:
        by_kind.setdefault(item.kind, {}).setdefault(
            item.key, {"call_id": item.call.id, **item.payload}
        )
    for kind, keyed in by_kind.items():
        await jobs.enqueue_many(session, kind, keyed)


# The places of a waiting call's queue taken before it. Built once: an `aliased` entity
# and this subquery cost ~3 ms of CPU to build per statement (a menu webhook's largest
# single cost), against ~0.3 ms for the statement that uses them.
_ahead = aliased(VoiceCall, name="ahead")
# Uses index: ix_voice_calls_queue (one range of it per waiting call).
_AHEAD_IN_QUEUE = (
    select(func.count())
    .select_from(_ahead)
    .where(
        _ahead.inbox_id == VoiceCall.inbox_id,
        _ahead.queue_id == VoiceCall.queue_id,
        _ahead.state.in_(IN_QUEUE),
        (_ahead.enqueued_at < VoiceCall.enqueued_at)
        | ((_ahead.enqueued_at == VoiceCall.enqueued_at) & (_ahead.id < VoiceCall.id)),
    )
    .scalar_subquery()
)


async def place_in_queues(session: AsyncSession, turns: Sequence[Waiting]) -> None:
    """The position of each waiting call: the places of its queue taken before it (callers
    who asked to be called back keep theirs)."""
    waiting = [turn for turn in turns if turn.call.state in ("queued", "callback")]
    if not waiting:
        return
    await session.flush()  # the batch's own changes count (and a new call gets its id)
    rows = await session.execute(
        select(VoiceCall.id, _AHEAD_IN_QUEUE).where(
            VoiceCall.id.in_({turn.call.id for turn in waiting})
        )
    )
    found = {call_id: int(n or 0) for call_id, n in rows.tuples()}
    for turn in waiting:
        turn.position = found.get(turn.call.id, 0) + 1


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

"""SLA clocks: which policy applies, how each event of a conversation's life moves its
clocks, and the warnings and breaches that fire on time.

Waiting on the customer (every open clock pauses) begins when an agent replies or the
conversation is set `pending` or `snoozed`, and ends when the customer writes (whatever the
status), or when it is set `open` again while its last message from a person is the
customer's. Resolving or closing stops the clocks; reopening resumes resolution."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.conversations.models import Conversation
from frontdesk.conversations.receiving import stamp_lifecycle
from frontdesk.conversations.schemas import SlaClockRead
from frontdesk.db import utcnow
from frontdesk.inboxes import repository as inboxes_repository
from frontdesk.kit import jobs
from frontdesk.routing import placing
from frontdesk.routing import repository as routing_repository
from frontdesk.sla import businesstime as bt
from frontdesk.sla import clocks, repository
from frontdesk.sla.events import record_clock
from frontdesk.sla.models import SlaClock, SlaPolicy

WARN_JOB = "sla.warn"
BREACH_JOB = "sla.breach"
RECOMPUTE_JOB = "sla.recompute"
RECOMPUTE_BATCH = 200  # conversations per job (one transaction each)
CLOSED = ("resolved", "closed")
WAITING = ("pending", "snoozed")
TARGETS = {
    "first_response": "first_response_seconds",
    "next_response": "next_response_seconds",
    "resolution": "resolution_seconds",
}


def matches(policy: SlaPolicy, *, channel: str, priority: str, tier: str | None) -> bool:
    """Whether a policy's conditions hold (an empty list matches anything)."""
    return (
        (not policy.channels or channel in policy.channels)
        and (not policy.priorities or priority in policy.priorities)
        and (not policy.tiers or tier in policy.tiers)
    )


async def select_policy(session: AsyncSession, conversation: Conversation) -> SlaPolicy | None:
    """The first policy (lowest position) whose conditions the conversation meets."""
    channels = await inboxes_repository.channels_of(session, {conversation.inbox_id})
    channel = channels.get(conversation.inbox_id, "")
    tier = await repository.customer_tier(session, conversation.customer_id)
    for policy in await repository.list_policies(session):
        if matches(policy, channel=channel, priority=conversation.priority, tier=tier):
            return policy
    return None


async def calendar_of(session: AsyncSession, policy: SlaPolicy | None) -> bt.Calendar:
    if policy is None or policy.calendar_id is None:
        return bt.ALWAYS
    row = await repository.get_calendar(session, policy.calendar_id)
    return bt.ALWAYS if row is None else bt.calendar(row.time_zone, row.hours, row.holidays)


async def track(session: AsyncSession, event: dict[str, Any]) -> None:
    """Move the conversation's clocks (and lifecycle stamps) for one event of its life."""
    conversation_id = event.get("conversation_id")
    conversation = (
        await repository.lock_conversation(session, int(conversation_id))
        if conversation_id
        else None
    )
    if conversation is None:
        return
    at = datetime.fromisoformat(event["at"])
    _stamp(conversation, event, at)
    if event["type"].startswith("task."):
        await _feed_routing(session, conversation, await _clocks(session, conversation))
        return
    held = await _clocks(session, conversation)
    sequence = int(event["sequence"])
    if any(clock.sequence >= sequence for clock in held.values()):
        return  # an older event than one already applied (jobs run out of order)
    policy = await _policy_for(session, conversation, held)
    if policy is None:
        return
    cal = await calendar_of(session, policy)
    before = {kind: (clock.generation, clock.state) for kind, clock in held.items()}
    await _apply(session, conversation, held, policy, cal, event, at)
    for kind, clock in held.items():
        clock.sequence = sequence
        if before.get(kind) != (clock.generation, clock.state):
            await _schedule(session, clock)
            record_clock(session, conversation, clock, "sla.updated")
    await session.flush()
    await _feed_routing(session, conversation, held)


def _stamp(conversation: Conversation, event: dict[str, Any], at: datetime) -> None:
    """The routing task's first offer and acceptance (conversations stamps the others)."""
    kind = event["type"]
    if kind == "task.offered":
        stamp_lifecycle(conversation, "offered_at", at)
    elif kind in ("task.accepted", "task.assigned"):
        stamp_lifecycle(conversation, "accepted_at", at)


def _customer_wrote(event: dict[str, Any]) -> bool:
    payload = event.get("payload") or {}
    return payload.get("direction") == "inbound" and payload.get("author_kind") == "customer"


def _agent_replied(event: dict[str, Any]) -> bool:
    payload = event.get("payload") or {}
    return payload.get("direction") == "outbound" and payload.get("author_kind") == "agent"


async def _clocks(session: AsyncSession, conversation: Conversation) -> dict[str, SlaClock]:
    found = (await repository.clocks_of(session, [conversation.id])).get(conversation.id, [])
    return {clock.kind: clock for clock in found}


async def _policy_for(
    session: AsyncSession, conversation: Conversation, held: dict[str, SlaClock]
) -> SlaPolicy | None:
    for clock in held.values():
        if clock.policy_id is not None:
            return await repository.get_policy(session, clock.policy_id)
    if held or conversation.status in CLOSED:
        return None
    return await select_policy(session, conversation)


async def _apply(
    session: AsyncSession,
    conversation: Conversation,
    held: dict[str, SlaClock],
    policy: SlaPolicy,
    cal: bt.Calendar,
    event: dict[str, Any],
    at: datetime,
) -> None:
    payload = event.get("payload") or {}
    if not held:  # the first event under a policy starts what it has targets for
        held.update(_first_clocks(session, conversation, policy, at, cal))
    first = held.get("first_response")
    if first is not None and conversation.first_response_at is not None:
        # The reply is stamped on the conversation in its own transaction: a clock still
        # open here missed the reply's event (skipped as older than one applied before it).
        clocks.stop(first, conversation.first_response_at, cal)
    if _closed(conversation, event):
        for kind, clock in held.items():
            clocks.stop(clock, at, cal, state="met" if kind == "resolution" else "canceled")
        return
    if event["type"] == "message.created" and _agent_replied(event):
        for kind in ("first_response", "next_response"):
            if kind in held:
                clocks.stop(held[kind], at, cal)
    elif event["type"] == "message.created" and _customer_wrote(event):
        first = held.get("first_response")
        answered = conversation.first_response_at is not None or (
            first is not None and first.state not in clocks.OPEN_STATES
        )
        nxt = held.get("next_response")
        if (
            answered
            and policy.next_response_seconds
            and (nxt is None or nxt.state not in clocks.OPEN_STATES)
        ):
            if nxt is None:
                held["next_response"] = _new_clock(
                    session, conversation, policy, "next_response", at, cal
                )
            else:
                clocks.start(nxt, at, cal)
    elif event["type"] == "conversation.status_changed" and payload.get("from") in CLOSED:
        for kind in ("resolution", "first_response"):
            if kind in held and held[kind].state in ("met", "canceled"):
                if kind == "first_response" and held[kind].state == "met":
                    continue
                clocks.resume(held[kind], at, cal)
    if await _waiting(session, conversation, event):
        for clock in held.values():
            clocks.pause(clock, at, cal)
    else:
        for clock in held.values():
            if clock.state == "paused":
                clocks.resume(clock, at, cal)


async def _waiting(
    session: AsyncSession, conversation: Conversation, event: dict[str, Any]
) -> bool:
    """Whether the conversation waits on the customer after this event (module docstring):
    a customer message ends the wait whatever the status; pending or snoozed starts one."""
    if event["type"] == "message.created":
        return not _customer_wrote(event)
    if _status_after(conversation, event) in WAITING:
        return True
    return await repository.last_message_direction(session, conversation.id) == "outbound"


def _status_after(conversation: Conversation, event: dict[str, Any]) -> str:
    """The status this event left (a later change has its own event, applied after it)."""
    if event["type"] == "conversation.status_changed":
        return str((event.get("payload") or {}).get("to") or conversation.status)
    return conversation.status


def _closed(conversation: Conversation, event: dict[str, Any]) -> bool:
    return _status_after(conversation, event) in CLOSED


def _first_clocks(
    session: AsyncSession,
    conversation: Conversation,
    policy: SlaPolicy,
    at: datetime,
    cal: bt.Calendar,
) -> dict[str, SlaClock]:
    replied = conversation.first_response_at is not None
    return {
        kind: _new_clock(session, conversation, policy, kind, at, cal)
        for kind in ("first_response", "resolution")
        if getattr(policy, TARGETS[kind]) and not (kind == "first_response" and replied)
    }


async def start_clocks(
    session: AsyncSession, conversation: Conversation, *, at: datetime
) -> list[SlaClock]:
    """Start a conversation's clocks at `at` under the policy it matches (the demo seeds
    conversations whose clocks started earlier); nothing when it has clocks already."""
    if await _clocks(session, conversation):
        return []
    policy = await select_policy(session, conversation)
    if policy is None:
        return []
    made = _first_clocks(session, conversation, policy, at, await calendar_of(session, policy))
    for clock in made.values():
        await _schedule(session, clock)
    await _feed_routing(session, conversation, made)
    return list(made.values())


def _new_clock(
    session: AsyncSession,
    conversation: Conversation,
    policy: SlaPolicy,
    kind: str,
    at: datetime,
    cal: bt.Calendar,
) -> SlaClock:
    clock = SlaClock(
        conversation_id=conversation.id,
        policy_id=policy.id,
        kind=kind,
        target_seconds=int(getattr(policy, TARGETS[kind])),
        elapsed_seconds=0.0,
        generation=0,
        sequence=0,
        state="paused",
        started_at=at,
    )
    clocks.start(clock, at, cal)
    session.add(clock)
    return clock


async def _schedule(session: AsyncSession, clock: SlaClock) -> None:
    """The warning and breach jobs of a running clock, keyed by its generation."""
    await session.flush()
    if clock.state != "running":
        return
    payload = {"clock_id": clock.id, "generation": clock.generation}
    if clock.warned_at is None and clock.warn_at is not None:
        key = f"{WARN_JOB}:{clock.id}:{clock.generation}"
        await jobs.enqueue(session, WARN_JOB, payload, key=key, run_at=clock.warn_at)
    if clock.breached_at is None and clock.due_at is not None:
        key = f"{BREACH_JOB}:{clock.id}:{clock.generation}"
        await jobs.enqueue(session, BREACH_JOB, payload, key=key, run_at=clock.due_at)


def due_of(held: dict[str, SlaClock] | Sequence[SlaClock]) -> datetime | None:
    """The earliest due time of the running clocks (what the routing rank reads)."""
    values = held.values() if isinstance(held, dict) else held
    dues = [clock.due_at for clock in values if clock.state == "running" and clock.due_at]
    return min(dues) if dues else None


async def _feed_routing(
    session: AsyncSession, conversation: Conversation, held: dict[str, SlaClock]
) -> None:
    task = await routing_repository.open_task_of_conversation(session, conversation.id)
    if task is not None:
        await placing.set_due(session, task, due_of(held))


async def fire(session: AsyncSession, clock_id: int, generation: int, *, breach: bool) -> bool:
    """A warning or breach job at its instant: recorded once (see repository.mark_fired),
    and a breach escalates the conversation's task. Answers whether it fired."""
    clock = await repository.get_clock(session, clock_id)
    if clock is None or clock.generation != generation or clock.state != "running":
        return False
    instant = clock.due_at if breach else clock.warn_at
    column = "breached_at" if breach else "warned_at"
    fired = await repository.mark_fired(
        session, clock_id, generation, column=column, at=instant or utcnow()
    )
    if not fired:
        return False
    await session.refresh(clock)
    conversation = await repository.lock_conversation(session, clock.conversation_id)
    assert conversation is not None  # the clock cascades with it
    record_clock(session, conversation, clock, "sla.breached" if breach else "sla.warning")
    if breach:
        await _escalate(session, conversation, clock)
    return True


async def _escalate(session: AsyncSession, conversation: Conversation, clock: SlaClock) -> None:
    policy = await repository.get_policy(session, clock.policy_id) if clock.policy_id else None
    task = await routing_repository.open_task_of_conversation(session, conversation.id)
    if policy is None or task is None:
        return
    await placing.escalate_breach(
        session, task, boost=policy.priority_boost, queue_id=policy.escalation_queue_id
    )


async def recompute(session: AsyncSession, *, policy_ids: list[int], after: int) -> int | None:
    """Apply the current targets and calendars of these policies to the open clocks under
    them, one batch of conversations; answers the last conversation done when more may
    follow. Idempotent: a clock already recomputed is left as it is (see clocks.retarget)."""
    batch = await repository.open_clock_conversations(
        session, policy_ids=policy_ids, after=after, limit=RECOMPUTE_BATCH
    )
    policies: dict[int, tuple[SlaPolicy, bt.Calendar] | None] = {}
    for conversation_id in batch:
        conversation = await repository.lock_conversation(session, conversation_id)
        if conversation is None:
            continue
        held = await _clocks(session, conversation)
        moved = False
        for clock in held.values():
            if clock.policy_id not in policy_ids or clock.state not in clocks.OPEN_STATES:
                continue
            if clock.policy_id not in policies:
                policy = await repository.get_policy(session, clock.policy_id)
                policies[clock.policy_id] = (
                    None if policy is None else (policy, await calendar_of(session, policy))
                )
            found = policies[clock.policy_id]
            if found is None:
                continue
            moved |= await _retarget(session, conversation, clock, *found)
        if moved:
            await _feed_routing(session, conversation, held)
    return batch[-1] if len(batch) == RECOMPUTE_BATCH else None


async def _retarget(
    session: AsyncSession,
    conversation: Conversation,
    clock: SlaClock,
    policy: SlaPolicy,
    cal: bt.Calendar,
) -> bool:
    target = getattr(policy, TARGETS[clock.kind])
    if not target:  # the policy no longer has this target: the clock ends without it
        changed = clocks.stop(clock, utcnow(), cal, state="canceled")
    else:
        changed = clocks.retarget(clock, int(target), cal)
    if changed:
        await _schedule(session, clock)
        record_clock(session, conversation, clock, "sla.updated")
    return changed


async def read_clocks(
    session: AsyncSession, conversation_ids: list[int]
) -> dict[int, list[SlaClockRead]]:
    """The conversations' clocks as the API shows them (business time left now)."""
    held = await repository.clocks_of(session, conversation_ids)
    calendars: dict[int | None, bt.Calendar] = {}
    now = utcnow()
    answer: dict[int, list[SlaClockRead]] = {}
    for conversation_id, rows in held.items():
        for clock in rows:
            if clock.policy_id not in calendars:
                policy = (
                    await repository.get_policy(session, clock.policy_id)
                    if clock.policy_id
                    else None
                )
                calendars[clock.policy_id] = await calendar_of(session, policy)
            cal = calendars[clock.policy_id]
            answer.setdefault(conversation_id, []).append(
                SlaClockRead(
                    kind=clock.kind,
                    state=clock.state,
                    policy_id=clock.policy_id,
                    target_seconds=clock.target_seconds,
                    remaining_seconds=round(clocks.remaining(clock, now, cal), 3),
                    due_at=clock.due_at,
                    warned_at=clock.warned_at,
                    breached_at=clock.breached_at,
                    started_at=clock.started_at,
                    stopped_at=clock.stopped_at,
                )
            )
    return answer

"""The database router: tasks are offered, taken, accepted, rejected, transferred, completed.

Never two agents on one task, never an agent over capacity, with any number of routers on one
PostgreSQL: a task moves on only by a conditional UPDATE on its status (whoever changes it
first wins); a slot is taken only by a conditional UPDATE `active < capacity`; and routers
lock waiting tasks and agents' capacity rows with SKIP LOCKED, so they never wait on one
another and cannot deadlock. The decisions themselves are routing.engine's."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.auth import repository as auth_repository
from frontdesk.auth.models import Agent
from frontdesk.conversations import repository as conversations_repository
from frontdesk.conversations import service as conversations_service
from frontdesk.conversations.schemas import ConversationUpdate
from frontdesk.db import utcnow
from frontdesk.kit.errors import Conflict, Invalid
from frontdesk.routing import eligibility, engine, repository, service
from frontdesk.routing.engine import TOTAL, TaskView, Worker
from frontdesk.routing.events import record_task
from frontdesk.routing.expressions import parse
from frontdesk.routing.models import CALL_CHANNELS, RoutingQueue, RoutingTask
from frontdesk.routing.placing import enqueue_escalation, schedule_offer_timeout
from frontdesk.routing.service import STALE_AFTER

log = logging.getLogger(__name__)
ROUTE_BATCH = 50
EPOCH = datetime(2000, 1, 1, tzinfo=utcnow().tzinfo)


@dataclass
class Snapshot:
    """Available agents and queues as one routing pass sees them."""

    workers: dict[int, Worker]
    auto_accept: dict[int, list[str]]
    eligible: dict[int, set[int]]  # queue → agents


def task_view(task: RoutingTask) -> TaskView:
    constraint = parse(task.agent_expression) if task.agent_expression else None
    return TaskView(
        id=task.id,
        channel=task.channel,
        rank=(task.rank_at - EPOCH).total_seconds(),
        queue_id=task.queue_id,
        attributes=task.attributes or {},
        constraint=constraint,
        rejected_by=frozenset(task.rejected_by or ()),
    )


async def snapshot(session: AsyncSession, *, agent_ids: Sequence[int] | None = None) -> Snapshot:
    """Available agents, their loads as last committed (unlocked), and who is in each queue."""
    rows = await repository.workers_snapshot(
        session, seen_after=utcnow() - STALE_AFTER, agent_ids=agent_ids
    )
    ids = [agent.id for agent, _, _ in rows]
    teams = await repository.team_names_of(session, ids)
    capacities = await repository.capacities_of(session, ids)
    slots: dict[int, tuple[dict[str, int], dict[str, int]]] = {}
    for row in capacities:
        capacity, load = slots.setdefault(row.agent_id, ({}, {}))
        capacity[row.channel], load[row.channel] = row.capacity, row.active
    workers, auto_accept = {}, {}
    for agent, profile, presence in rows:
        if agent.id not in slots:
            continue
        capacity, load = slots[agent.id]
        idle = (profile.last_offered_at if profile else None) or presence.changed_at
        workers[agent.id] = Worker(
            id=agent.id,
            attributes=attributes_of(agent, profile, teams.get(agent.id, [])),
            capacity=capacity,
            load={k: v for k, v in load.items() if k != TOTAL},
            reserved=dict(profile.reserved) if profile else {},
            idle_since=(idle - EPOCH).total_seconds(),
        )
        auto_accept[agent.id] = list(profile.auto_accept) if profile else []
    queues = await repository.list_queues(session)
    return Snapshot(workers, auto_accept, _eligibility(queues, workers))


def attributes_of(agent: Agent, profile: object, teams: list[str]) -> dict[str, object]:
    return {
        "id": agent.id,
        "role": agent.role,
        "skills": dict(getattr(profile, "skills", None) or {}),
        "languages": list(getattr(profile, "languages", None) or []),
        "location": getattr(profile, "location", None),
        "tier": getattr(profile, "tier", None) or "L1",
        "teams": teams,
    }


def _eligibility(queues: Sequence[RoutingQueue], workers: dict[int, Worker]) -> dict[int, set[int]]:
    # Uses the process's eligibility index: expressions run only for changed agents or queues.
    return eligibility.INDEX.queues_of(
        [(queue.id, queue.agent_expression) for queue in queues],
        {worker.id: worker.attributes for worker in workers.values()},
    )


async def queues_of_agent(session: AsyncSession, agent: Agent) -> set[int]:
    """The queues whose agent expression this agent meets (whatever their presence)."""
    profile = await repository.get_worker(session, agent.id)
    teams = await repository.team_names_of(session, [agent.id])
    env = engine.worker_env(attributes_of(agent, profile, teams.get(agent.id, [])))
    queues = await repository.list_queues(session)
    return {queue.id for queue in queues if eligibility.parsed(queue.agent_expression).matches(env)}


async def route(session: AsyncSession, *, limit: int = ROUTE_BATCH) -> int:
    """Push: offer waiting tasks, best ranked first, to the agents idle longest. Only the
    (queue, channel) lines where someone has room are read, so a full line never blocks others."""
    found = await snapshot(session)
    open_lines = sorted(
        {
            (queue_id, channel)
            for queue_id, members in found.eligible.items()
            for worker in (found.workers[i] for i in members)
            for channel in worker.channels()
            if worker.free(channel)
        }
    )
    if not open_lines:
        return 0
    offered = 0
    locked: set[int] = set()
    for task in await repository.waiting_tasks(session, lines=open_lines, limit=limit):
        view = task_view(task)
        candidates = {i: found.workers[i] for i in found.eligible.get(task.queue_id or -1, ())}
        while (worker := engine.choose_agent(view, candidates.values())) is not None:
            if await _lock(session, worker, locked) and worker.free(task.channel):
                offered += await _offer(session, task, worker, found)
                break
            candidates.pop(worker.id)  # another router holds them: try the next agent
    return offered


async def _lock(session: AsyncSession, worker: Worker, locked: set[int]) -> bool:
    """Hold all the agent's capacity rows (or none: SKIP LOCKED), with their loads of now."""
    if worker.id in locked:
        return True
    rows = await repository.capacities_of(session, [worker.id], lock=True)
    if {row.channel for row in rows} != set(worker.capacity):
        return False
    worker.capacity = {row.channel: row.capacity for row in rows}
    worker.load = {row.channel: row.active for row in rows if row.channel != TOTAL}
    locked.add(worker.id)
    return True


async def take_next(session: AsyncSession, agent: Agent) -> RoutingTask | None:
    """Pull: the agent takes the first-ranked waiting task of their queues."""
    await repository.lock_capacity_waiting(session, agent.id)
    found = await snapshot(session, agent_ids=[agent.id])
    worker = found.workers.get(agent.id)
    if worker is None:
        raise Conflict("set yourself available, with capacity, to take work", code="not_available")
    queue_ids = [q for q, members in found.eligible.items() if agent.id in members]
    tasks = {t.id: t for t in await repository.waiting_tasks(session, queue_ids=queue_ids)}
    chosen = engine.choose_task(worker, [task_view(t) for t in tasks.values()])
    if chosen is None:
        return None
    task = tasks[chosen.id]
    if not await _claim(session, task, worker, status="assigned"):
        return None
    return task


async def _offer(session: AsyncSession, task: RoutingTask, worker: Worker, found: Snapshot) -> int:
    auto = task.channel in found.auto_accept.get(worker.id, [])
    if not await _claim(session, task, worker, status="assigned" if auto else "offered"):
        return 0
    worker.take(task.channel)
    return 1


async def _claim(session: AsyncSession, task: RoutingTask, worker: Worker, *, status: str) -> bool:
    """Take the agent's slots, then the task; undo the slots if the task was gone."""
    if not await _take_slots(session, worker.id, task.channel, total=TOTAL in worker.capacity):
        return False
    now = utcnow()
    values: dict[str, object] = {
        "status": status,
        "assignee_id": worker.id,
        "offered_at": now,
        "holds_slot": True,
        "by_hand": False,
    }
    if status == "assigned":
        values["accepted_at"] = now
    else:
        values["offer_expires_at"] = now + OFFER_TIMEOUT
    if not await repository.claim_task(session, task.id, from_status="waiting", values=values):
        await _release(session, worker.id, task.channel)
        return False
    await session.refresh(task)
    await repository.mark_offered(session, worker.id, now)
    if status == "offered":
        await schedule_offer_timeout(session, task)
        record_task(session, task, "task.offered", agent_id=worker.id)
    else:
        record_task(session, task, "task.assigned", agent_id=worker.id)
        await _assign_conversation(session, task, worker.id)
        if await _on_a_call(session, task, worker.id):
            worker.available = False  # busy now: no more offers in this pass
    return True


async def _on_a_call(session: AsyncSession, task: RoutingTask, agent_id: int) -> bool:
    """The presence rule: taking a call's task makes the agent busy."""
    return await service.call_started(
        session, agent_id, channel=task.channel, reason="task_accepted"
    )


async def _assign_conversation(session: AsyncSession, task: RoutingTask, agent_id: int) -> None:
    """A conversation task's holder becomes the conversation's assignee."""
    if task.conversation_id is None:
        return
    conversation = await conversations_repository.get_conversation(session, task.conversation_id)
    agent = await auth_repository.get_agent(session, agent_id)
    if conversation is None or agent is None or conversation.assignee_id == agent_id:
        return
    try:
        await conversations_service.update(
            session, conversation, ConversationUpdate(assignee_id=agent_id), by=agent
        )
    except Invalid as exc:  # the queue admits an agent the inbox does not: the task stands
        log.warning("task %s: conversation not assigned to %s: %s", task.id, agent_id, exc)


# An offer not answered in this time goes back to the queue for someone else.
OFFER_TIMEOUT = timedelta(seconds=30)


async def _release(session: AsyncSession, agent_id: int, channel: str) -> None:
    await repository.give_slot(session, agent_id, channel)
    await repository.give_slot(session, agent_id, TOTAL)


async def accept(session: AsyncSession, task: RoutingTask, agent: Agent) -> RoutingTask:
    """The agent accepts the offer made to them."""
    if task.status != "offered" or task.assignee_id != agent.id:
        raise Conflict("this task is not offered to you", code="not_offered")
    values = {"status": "assigned", "accepted_at": utcnow(), "offer_expires_at": None}
    if not await repository.claim_task(session, task.id, from_status="offered", values=values):
        raise Conflict("the offer has ended", code="not_offered")
    await session.refresh(task)
    record_task(session, task, "task.accepted", agent_id=agent.id)
    await _assign_conversation(session, task, agent.id)
    await _on_a_call(session, task, agent.id)
    return task


async def reject(session: AsyncSession, task: RoutingTask, agent: Agent) -> RoutingTask:
    """The agent declines; the task waits again and is not offered to them again."""
    if task.status != "offered" or task.assignee_id != agent.id:
        raise Conflict("this task is not offered to you", code="not_offered")
    await _back_to_queue(session, task, from_status="offered", rejected=True)
    record_task(session, task, "task.rejected", agent_id=agent.id)
    return task


async def expire_offer(session: AsyncSession, task_id: int, offered_at: str) -> None:
    """The offer's time ran out without an answer (a job at the offer's expiry)."""
    task = await repository.get_task(session, task_id, lock=True)
    if task is None or task.status != "offered" or task.offered_at is None:
        return
    if task.offered_at.isoformat() != offered_at:
        return  # a later offer; its own timeout will come
    agent_id = task.assignee_id
    await _back_to_queue(session, task, from_status="offered", rejected=True)
    record_task(session, task, "task.offer_expired", agent_id=agent_id)


async def _back_to_queue(
    session: AsyncSession, task: RoutingTask, *, from_status: str, rejected: bool
) -> None:
    agent_id = task.assignee_id
    rejected_by = list(task.rejected_by or [])
    if rejected and agent_id is not None and agent_id not in rejected_by:
        rejected_by.append(agent_id)
    held = task.holds_slot
    values = {
        "status": "waiting",
        "assignee_id": None,
        "offer_expires_at": None,
        "rejected_by": rejected_by,
        "holds_slot": True,
        "by_hand": False,
    }
    if not await repository.claim_task(session, task.id, from_status=from_status, values=values):
        raise Conflict("the task changed meanwhile; try again", code="task_changed")
    if agent_id is not None and held:
        await _release(session, agent_id, task.channel)
    await session.refresh(task)


async def give_back(
    session: AsyncSession, task: RoutingTask, *, rejected: bool, reason: str
) -> RoutingTask:
    """The holder's conversation was taken from them (unassigned by a person, or a call they
    did not pick up, `rejected`: not offered to them again): the task waits again and their
    slot is free; the presence rule's hold on them for this call ends."""
    holder = task.assignee_id
    await _back_to_queue(session, task, from_status=task.status, rejected=rejected)
    record_task(session, task, "task.returned", agent_id=holder, reason=reason)
    if holder is not None and task.channel in CALL_CHANNELS:
        await service.end_after_call_work(session, holder, since=None, reason=reason)
    return task


async def wrap_up(session: AsyncSession, task: RoutingTask, agent: Agent) -> RoutingTask:
    """The agent is done with the customer and finishing notes (the slot is still held)."""
    _must_hold(task, agent, ("assigned",))
    await _move(session, task, "assigned", {"status": "wrapping"})
    record_task(session, task, "task.wrapping", agent_id=agent.id)
    # The presence rule: wrapping up a call is after-call work.
    await service.call_ended(session, agent.id, channel=task.channel, reason="wrap_up")
    return task


async def complete(session: AsyncSession, task: RoutingTask, agent: Agent | None) -> RoutingTask:
    """The work is done; the agent's slot is free again."""
    if agent is not None:
        _must_hold(task, agent, ("assigned", "wrapping"))
    if task.status not in ("assigned", "wrapping", "waiting", "offered"):
        raise Conflict("the task is closed already", code="task_closed")
    holder = task.assignee_id if task.status != "waiting" else None
    held = task.holds_slot
    await _move(
        session,
        task,
        task.status,
        {"status": "completed", "completed_at": utcnow(), "open_conversation_id": None},
    )
    if holder is not None and held:
        await _release(session, holder, task.channel)
    record_task(session, task, "task.completed", agent_id=holder)
    if holder is not None and task.channel in CALL_CHANNELS:
        # The presence rule: the call's work is done, the agent is back.
        await service.end_after_call_work(session, holder, since=None, reason="task_completed")
    return task


async def assign_by_hand(
    session: AsyncSession, task: RoutingTask, agent_id: int, *, by: int | None
) -> RoutingTask:
    """A person assigned the task's conversation to `agent_id`: the waiting or offered task
    is accepted for that agent now (offered and accepted at this moment, `by_hand`), so the
    work counts like any handled task. An offer to someone else ends and frees their slot;
    the agent picked takes a slot of their own when one is free (an accepted task holds one),
    and holds the task without one otherwise: the person decided, capacity never overfills."""
    if task.status not in ("waiting", "offered"):
        raise Conflict("the task is taken already", code="task_taken")
    from_status, offered_to = task.status, task.assignee_id if task.status == "offered" else None
    keeps = offered_to == agent_id  # the offer was theirs: its slot is the task's
    holds = keeps or await _take_slots(session, agent_id, task.channel)
    now = utcnow()
    values: dict[str, object] = {
        "status": "assigned", "assignee_id": agent_id, "offered_at": now, "accepted_at": now,
        "offer_expires_at": None, "by_hand": True, "holds_slot": holds,
    }  # fmt: skip
    if not await repository.claim_task(session, task.id, from_status=from_status, values=values):
        if holds and not keeps:
            await _release(session, agent_id, task.channel)
        raise Conflict("the task changed meanwhile; try again", code="task_changed")
    if offered_to is not None and not keeps:
        await _release(session, offered_to, task.channel)
    await session.refresh(task)
    record_task(session, task, "task.accepted", agent_id=agent_id, by_hand=True, by=by)
    await _on_a_call(session, task, agent_id)
    return task


async def _take_slots(
    session: AsyncSession, agent_id: int, channel: str, *, total: bool | None = None
) -> bool:
    """The channel's slot and the total's (when the agent has a total: `total`, or read from
    their capacity rows when the caller does not know), or neither."""
    if not await repository.take_slot(session, agent_id, channel):
        return False
    if total is None:
        total = await repository.has_capacity_row(session, agent_id, TOTAL)
    if total and not await repository.take_slot(session, agent_id, TOTAL):
        await repository.give_slot(session, agent_id, channel)
        return False
    return True


async def _move(
    session: AsyncSession, task: RoutingTask, from_status: str, values: dict[str, object]
) -> None:
    if not await repository.claim_task(session, task.id, from_status=from_status, values=values):
        raise Conflict("the task changed meanwhile; try again", code="task_changed")
    await session.refresh(task)


def _must_hold(task: RoutingTask, agent: Agent, statuses: tuple[str, ...]) -> None:
    if task.assignee_id != agent.id or task.status not in statuses:
        raise Conflict("you do not hold this task", code="not_yours")


async def transfer(
    session: AsyncSession,
    task: RoutingTask,
    *,
    by: Agent,
    agent_id: int | None = None,
    queue: RoutingQueue | None = None,
) -> RoutingTask:
    """Hand the task to another agent (offered to them) or put it in another queue."""
    if task.status not in ("waiting", "offered", "assigned", "wrapping"):
        raise Conflict("the task is closed already", code="task_closed")
    if task.status != "waiting":
        await _back_to_queue(session, task, from_status=task.status, rejected=False)
    if queue is not None:
        # Out of its policy too: an escalation still pending must not move it back.
        values: dict[str, object] = {
            "queue_id": queue.id,
            "agent_expression": None,
            "policy_id": None,
        }
        await _move(session, task, "waiting", values)
    if agent_id is not None:
        found = await snapshot(session, agent_ids=[agent_id])
        worker = found.workers.get(agent_id)
        if (
            worker is None
            or not await _lock(session, worker, set())
            or not worker.free(task.channel)
        ):
            raise Conflict("that agent is not available with room for it", code="no_capacity")
        if not await _claim(session, task, worker, status="offered"):
            raise Conflict("that agent is not available with room for it", code="no_capacity")
    record_task(session, task, "task.transferred", agent_id=agent_id, by=by.id)
    return task


async def escalate(session: AsyncSession, task_id: int, target_index: int) -> None:
    """A target's timeout passed with the task still waiting: on to the policy's next target."""
    task = await repository.get_task(session, task_id, lock=True)
    if task is None or task.status != "waiting" or task.target_index != target_index:
        return
    policy = await repository.get_policy(session, task.policy_id) if task.policy_id else None
    if policy is None or target_index + 1 >= len(policy.targets):
        return
    target = policy.targets[target_index + 1]
    task.target_index = target_index + 1
    task.target_started_at = utcnow()
    task.queue_id = int(target["queue_id"])
    task.agent_expression = target.get("agent_expression")
    task.base_priority += int(target.get("priority_boost") or 0)
    task.rank_at = engine.rank_at(task.created_at, task.base_priority, task.due_at)
    await session.flush()
    await enqueue_escalation(session, task, target)
    record_task(session, task, "task.escalated", target_index=task.target_index)

"""All SQL of routing: presence, workers and capacity, queues, policies, tasks."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, false, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.auth.models import Agent, Team, TeamMember
from frontdesk.conversations.models import Conversation
from frontdesk.customers.models import Customer
from frontdesk.inboxes.models import InboxTeam
from frontdesk.kit import jobs
from frontdesk.routing.models import (
    OPEN_TASK_STATUSES,
    AgentCapacity,
    AgentPresence,
    PresenceRule,
    RoutingPolicy,
    RoutingQueue,
    RoutingTask,
    WorkerProfile,
)


async def get_presence(
    session: AsyncSession, agent_id: int, *, lock: bool = False
) -> AgentPresence | None:
    if not lock:
        return await session.get(AgentPresence, agent_id)
    query = select(AgentPresence).where(AgentPresence.agent_id == agent_id).with_for_update()
    return await session.scalar(query.execution_options(populate_existing=True))


async def get_presence_rule(session: AsyncSession) -> PresenceRule | None:
    return await session.get(PresenceRule, 1)


async def presence_rule_on(session: AsyncSession) -> bool:
    found = await session.scalar(select(PresenceRule.enabled).where(PresenceRule.id == 1))
    return bool(found)


async def list_presence(session: AsyncSession) -> Sequence[AgentPresence]:
    return (await session.scalars(select(AgentPresence))).all()


async def any_available_for_inbox(
    session: AsyncSession, inbox_id: int, *, seen_after: datetime
) -> bool:
    """Whether an agent who serves the inbox (or sees everything) is available right now."""
    serving = (
        select(TeamMember.agent_id)
        .join(InboxTeam, InboxTeam.team_id == TeamMember.team_id)
        .where(InboxTeam.inbox_id == inbox_id)
    )
    found = await session.scalar(
        select(AgentPresence.agent_id)
        .join(Agent, Agent.id == AgentPresence.agent_id)
        .where(
            AgentPresence.status == "available",
            AgentPresence.last_seen_at > seen_after,
            Agent.active.is_(True),
            (Agent.id.in_(serving)) | (Agent.role.in_(("admin", "supervisor"))),
        )
        .limit(1)
    )
    return found is not None


async def open_conversation_counts(session: AsyncSession) -> dict[int, int]:
    rows = await session.execute(
        select(Conversation.assignee_id, func.count())
        .where(Conversation.assignee_id.is_not(None), Conversation.status.in_(("open", "pending")))
        .group_by(Conversation.assignee_id)
    )
    return {int(agent_id): int(n) for agent_id, n in rows.all() if agent_id is not None}


async def open_conversations_of(
    session: AsyncSession, agent_id: int, limit: int = 20
) -> Sequence[Conversation]:
    return (
        await session.scalars(
            select(Conversation)
            .where(
                Conversation.assignee_id == agent_id, Conversation.status.in_(("open", "pending"))
            )
            .order_by(Conversation.id.desc())
            .limit(limit)
        )
    ).all()


# Workers, capacity, queues, policies (routing setup)


async def get_worker(session: AsyncSession, agent_id: int) -> WorkerProfile | None:
    return await session.get(WorkerProfile, agent_id)


async def capacities_of(
    session: AsyncSession, agent_ids: Sequence[int], *, lock: bool = False
) -> list[AgentCapacity]:
    """Capacity rows; with `lock`, only those no other transaction holds (SKIP LOCKED)."""
    query = select(AgentCapacity).where(AgentCapacity.agent_id.in_(agent_ids))
    if lock:
        query = query.with_for_update(skip_locked=True)
    return list((await session.scalars(query.execution_options(populate_existing=True))).all())


async def lock_capacity_waiting(session: AsyncSession, agent_id: int) -> list[AgentCapacity]:
    """The agent's own capacity rows, waiting for a router that holds them (pull)."""
    query = select(AgentCapacity).where(AgentCapacity.agent_id == agent_id).with_for_update()
    return list((await session.scalars(query.execution_options(populate_existing=True))).all())


async def take_slot(session: AsyncSession, agent_id: int, channel: str) -> bool:
    """One conditional UPDATE: true only if the slot existed and was free."""
    result = await session.execute(
        update(AgentCapacity)
        .where(
            AgentCapacity.agent_id == agent_id,
            AgentCapacity.channel == channel,
            AgentCapacity.active < AgentCapacity.capacity,
        )
        .values(active=AgentCapacity.active + 1)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) == 1


async def has_capacity_row(session: AsyncSession, agent_id: int, channel: str) -> bool:
    found = await session.scalar(
        select(AgentCapacity.agent_id).where(
            AgentCapacity.agent_id == agent_id, AgentCapacity.channel == channel
        )
    )
    return found is not None


async def give_slot(session: AsyncSession, agent_id: int, channel: str) -> None:
    await session.execute(
        update(AgentCapacity)
        .where(
            AgentCapacity.agent_id == agent_id,
            AgentCapacity.channel == channel,
            AgentCapacity.active > 0,
        )
        .values(active=AgentCapacity.active - 1)
        .execution_options(synchronize_session=False)
    )


async def set_capacity(session: AsyncSession, agent_id: int, capacity: dict[str, int]) -> None:
    """Replace the agent's capacities, keeping how many tasks each channel holds now."""
    rows = {row.channel: row for row in await capacities_of(session, [agent_id])}
    for channel, row in rows.items():
        if channel not in capacity:
            if row.active:
                row.capacity = 0  # still holding tasks: closed for new ones
            else:
                await session.delete(row)
    for channel, slots in capacity.items():
        if channel in rows:
            rows[channel].capacity = slots
        else:
            session.add(AgentCapacity(agent_id=agent_id, channel=channel, capacity=slots, active=0))
    await session.flush()


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


async def workers_snapshot(
    session: AsyncSession, *, seen_after: datetime, agent_ids: Sequence[int] | None = None
) -> list[tuple[Agent, WorkerProfile | None, AgentPresence]]:
    """Active agents who say they are available and were seen lately, with their profiles."""
    query = (
        select(Agent, WorkerProfile, AgentPresence)
        .join(AgentPresence, AgentPresence.agent_id == Agent.id)
        .outerjoin(WorkerProfile, WorkerProfile.agent_id == Agent.id)
        .where(
            Agent.active.is_(True),
            AgentPresence.status == "available",
            AgentPresence.last_seen_at > seen_after,
        )
        .order_by(Agent.id)
    )
    if agent_ids is not None:
        query = query.where(Agent.id.in_(agent_ids))
    return [(a, w, p) for a, w, p in (await session.execute(query)).all()]


async def team_names_of(session: AsyncSession, agent_ids: Sequence[int]) -> dict[int, list[str]]:
    rows = await session.execute(
        select(TeamMember.agent_id, Team.name)
        .join(Team, Team.id == TeamMember.team_id)
        .where(TeamMember.agent_id.in_(agent_ids))
    )
    found: dict[int, list[str]] = {}
    for agent_id, name in rows.all():
        found.setdefault(int(agent_id), []).append(name)
    return found


async def list_queues(session: AsyncSession) -> Sequence[RoutingQueue]:
    return (await session.scalars(select(RoutingQueue).order_by(RoutingQueue.id))).all()


async def get_queue(session: AsyncSession, queue_id: int) -> RoutingQueue | None:
    return await session.get(RoutingQueue, queue_id)


async def list_policies(session: AsyncSession) -> Sequence[RoutingPolicy]:
    return (
        await session.scalars(
            select(RoutingPolicy).order_by(RoutingPolicy.position, RoutingPolicy.id)
        )
    ).all()


async def get_policy(session: AsyncSession, policy_id: int) -> RoutingPolicy | None:
    return await session.get(RoutingPolicy, policy_id)


# Whether any routing policy exists (asked with the commit's other `enabled` checks).
any_policy = jobs.AnyRow(lambda: select(RoutingPolicy.id))


async def queue_in_use(session: AsyncSession, queue_id: int) -> bool:
    found = await session.scalar(
        select(RoutingTask.id)
        .where(RoutingTask.queue_id == queue_id, RoutingTask.status.in_(OPEN_TASK_STATUSES))
        .limit(1)
    )
    return found is not None


# Tasks


async def get_task(
    session: AsyncSession, task_id: int, *, lock: bool = False
) -> RoutingTask | None:
    if not lock:
        return await session.get(RoutingTask, task_id)
    query = select(RoutingTask).where(RoutingTask.id == task_id).with_for_update()
    return await session.scalar(query.execution_options(populate_existing=True))


async def open_task_of_conversation(
    session: AsyncSession, conversation_id: int
) -> RoutingTask | None:
    return await session.scalar(
        select(RoutingTask).where(RoutingTask.open_conversation_id == conversation_id)
    )


async def waiting_tasks(
    session: AsyncSession,
    *,
    queue_ids: Sequence[int] | None = None,
    lines: Sequence[tuple[int, str]] | None = None,
    limit: int = 100,
) -> list[RoutingTask]:
    """Waiting tasks in rank order, only those no other router holds (SKIP LOCKED).
    Uses index: ix_routing_tasks_queue_rank."""
    query = (
        select(RoutingTask)
        .where(RoutingTask.status == "waiting", RoutingTask.queue_id.is_not(None))
        .order_by(RoutingTask.rank_at, RoutingTask.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    )
    if queue_ids is not None:
        query = query.where(RoutingTask.queue_id.in_(queue_ids or [-1]))
    if lines is not None:  # (queue, channel) pairs
        by_queue: dict[int, list[str]] = {}
        for queue_id, channel in lines:
            by_queue.setdefault(queue_id, []).append(channel)
        query = query.where(
            or_(
                *(
                    and_(RoutingTask.queue_id == queue_id, RoutingTask.channel.in_(channels))
                    for queue_id, channels in by_queue.items()
                ),
                false(),
            )
        )
    return list((await session.scalars(query)).all())


async def claim_task(
    session: AsyncSession, task_id: int, *, from_status: str, values: dict[str, Any]
) -> bool:
    """Move a task on only if it is still in `from_status`: whoever changes it first wins."""
    result = await session.execute(
        update(RoutingTask)
        .where(RoutingTask.id == task_id, RoutingTask.status == from_status)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) == 1


async def list_tasks(
    session: AsyncSession,
    *,
    statuses: Sequence[str],
    assignee_id: int | None = None,
    queue_ids: Sequence[int] | None = None,
    kind: str | None = None,
    channel: str | None = None,
    after: tuple[datetime, int] | None = None,
    limit: int = 50,
) -> list[RoutingTask]:
    """The task list in priority order (rank, then id), filtered; keyset-paginated."""
    query = select(RoutingTask).where(RoutingTask.status.in_(statuses))
    if assignee_id is not None:
        query = query.where(RoutingTask.assignee_id == assignee_id)
    if queue_ids is not None:
        query = query.where(RoutingTask.queue_id.in_(queue_ids or [-1]))
    if kind is not None:
        query = query.where(RoutingTask.kind == kind)
    if channel is not None:
        query = query.where(RoutingTask.channel == channel)
    if after is not None:
        rank, task_id = after
        query = query.where(
            (RoutingTask.rank_at > rank)
            | ((RoutingTask.rank_at == rank) & (RoutingTask.id > task_id))
        )
    query = query.order_by(RoutingTask.rank_at, RoutingTask.id).limit(limit)
    return list((await session.scalars(query)).all())


async def position_in_queue(session: AsyncSession, task: RoutingTask) -> int:
    ahead = await session.scalar(
        select(func.count())
        .select_from(RoutingTask)
        .where(
            RoutingTask.status == "waiting",
            RoutingTask.queue_id == task.queue_id,
            (RoutingTask.rank_at < task.rank_at)
            | ((RoutingTask.rank_at == task.rank_at) & (RoutingTask.id < task.id)),
        )
    )
    return int(ahead or 0) + 1


async def customer_exists(session: AsyncSession, customer_id: int) -> bool:
    return await session.get(Customer, customer_id) is not None


async def customer_attributes(session: AsyncSession, customer_id: int) -> dict[str, Any]:
    """What a task inherits from its customer: value, tier, VIP (from customer attributes)."""
    customer = await session.get(Customer, customer_id)
    attributes = (customer.attributes or {}) if customer else {}
    return {key: attributes[key] for key in ("value", "tier", "vip") if key in attributes}


async def last_agent_of(session: AsyncSession, customer_id: int) -> int | None:
    """Whoever last helped this customer (the sticky agent)."""
    return await session.scalar(
        select(Conversation.assignee_id)
        .where(Conversation.customer_id == customer_id, Conversation.assignee_id.is_not(None))
        .order_by(Conversation.updated_at.desc(), Conversation.id.desc())
        .limit(1)
    )


async def mark_offered(session: AsyncSession, agent_id: int, at: datetime) -> None:
    await session.execute(
        update(WorkerProfile)
        .where(WorkerProfile.agent_id == agent_id)
        .values(last_offered_at=at)
        .execution_options(synchronize_session=False)
    )


async def waiting_counts(session: AsyncSession) -> dict[int, int]:
    rows = await session.execute(
        select(RoutingTask.queue_id, func.count())
        .where(RoutingTask.status == "waiting", RoutingTask.queue_id.is_not(None))
        .group_by(RoutingTask.queue_id)
    )
    return {int(queue_id): int(n) for queue_id, n in rows.all() if queue_id is not None}


async def get_agent_for_routing(session: AsyncSession, agent_id: int) -> Agent:
    agent = await session.get(Agent, agent_id)
    if agent is None:
        raise LookupError(f"agent {agent_id}")
    return agent


async def waiting_order(session: AsyncSession, *, queue_ids: Sequence[int]) -> list[Any]:
    """(id, queue_id, channel, inbox_id, customer_id, kind) of every waiting task of these
    queues in the order they are served: queue, then rank, then id (no lock: a read for
    display). Uses index: ix_routing_tasks_queue_rank."""
    if not queue_ids:
        return []
    rows = await session.execute(
        select(
            RoutingTask.id,
            RoutingTask.queue_id,
            RoutingTask.channel,
            RoutingTask.inbox_id,
            RoutingTask.customer_id,
            RoutingTask.kind,
        )
        .where(RoutingTask.status == "waiting", RoutingTask.queue_id.in_(queue_ids))
        .order_by(RoutingTask.queue_id, RoutingTask.rank_at, RoutingTask.id)
    )
    return list(rows.all())


async def queues_of_waiting_customers(
    session: AsyncSession, owners: Sequence[tuple[int, int]]
) -> list[int]:
    """The queues where a conversation task of one of these (inbox, customer) pairs waits."""
    if not owners:
        return []
    customers = sorted({customer for _, customer in owners})
    rows = await session.scalars(
        select(RoutingTask.queue_id)
        .where(
            RoutingTask.status == "waiting",
            RoutingTask.kind == "conversation",
            RoutingTask.customer_id.in_(customers),
            RoutingTask.queue_id.is_not(None),
        )
        .distinct()
    )
    return [int(queue_id) for queue_id in rows if queue_id is not None]


async def recent_handle_times(
    session: AsyncSession, *, queue_id: int, channel: str, since: datetime, limit: int = 100
) -> list[float]:
    """Seconds from acceptance to completion of the queue's latest completed tasks of one
    channel. Uses index: ix_routing_tasks_completed."""
    rows = await session.execute(
        select(RoutingTask.accepted_at, RoutingTask.completed_at)
        .where(
            RoutingTask.completed_at > since,
            RoutingTask.channel == channel,
            RoutingTask.queue_id == queue_id,
            RoutingTask.accepted_at.is_not(None),
        )
        .order_by(RoutingTask.completed_at.desc())
        .limit(limit)
    )
    return [
        (completed - accepted).total_seconds()
        for accepted, completed in rows.all()
        if accepted is not None and completed is not None and completed >= accepted
    ]


async def offered_conversation_tasks(
    session: AsyncSession, owners: Sequence[tuple[int, int]]
) -> list[tuple[tuple[int, int], int, int]]:
    """((inbox, customer), task id, queue id) of these pairs' conversation tasks on offer."""
    if not owners:
        return []
    customers = sorted({customer for _, customer in owners})
    rows = await session.execute(
        select(
            RoutingTask.inbox_id, RoutingTask.customer_id, RoutingTask.id, RoutingTask.queue_id
        ).where(
            RoutingTask.status == "offered",
            RoutingTask.kind == "conversation",
            RoutingTask.customer_id.in_(customers),
        )
    )
    return [
        ((int(inbox_id), int(customer_id)), int(task_id), int(queue_id or 0))
        for inbox_id, customer_id, task_id, queue_id in rows.all()
        if inbox_id is not None and customer_id is not None
    ]


async def oldest_waiting(session: AsyncSession) -> dict[int, datetime]:
    """When the longest-waiting task of each queue was made."""
    rows = await session.execute(
        select(RoutingTask.queue_id, func.min(RoutingTask.created_at))
        .where(RoutingTask.status == "waiting", RoutingTask.queue_id.is_not(None))
        .group_by(RoutingTask.queue_id)
    )
    return {int(queue_id): at for queue_id, at in rows.all() if queue_id is not None and at}


async def due_counts(session: AsyncSession, *, due_before: datetime) -> dict[int, int]:
    """Open tasks per queue whose SLA due time is passed or comes before `due_before`."""
    rows = await session.execute(
        select(RoutingTask.queue_id, func.count())
        .where(
            RoutingTask.status.in_(OPEN_TASK_STATUSES),
            RoutingTask.queue_id.is_not(None),
            RoutingTask.due_at.is_not(None),
            RoutingTask.due_at <= due_before,
        )
        .group_by(RoutingTask.queue_id)
    )
    return {int(queue_id): int(n) for queue_id, n in rows.all() if queue_id is not None}


async def active_workers(
    session: AsyncSession,
) -> list[tuple[Agent, WorkerProfile | None]]:
    """Every active agent with their routing profile (whatever their presence)."""
    rows = await session.execute(
        select(Agent, WorkerProfile)
        .outerjoin(WorkerProfile, WorkerProfile.agent_id == Agent.id)
        .where(Agent.active.is_(True))
        .order_by(Agent.id)
    )
    return [(agent, profile) for agent, profile in rows.all()]

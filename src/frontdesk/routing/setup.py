"""Admin writes of routing: queues, policies, and agents as workers (attributes, capacity)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.auth import repository as auth_repository
from frontdesk.auth.models import Agent
from frontdesk.db import utcnow
from frontdesk.kit.errors import Conflict, Invalid, NotFound
from frontdesk.kit.events import record
from frontdesk.routing import repository, service
from frontdesk.routing.models import RoutingPolicy, RoutingQueue, WorkerProfile
from frontdesk.routing.schemas import (
    PolicyCreate,
    PolicyUpdate,
    QueueCreate,
    QueueUpdate,
    Target,
    WorkerUpdate,
)


async def get_queue_or_raise(session: AsyncSession, queue_id: int) -> RoutingQueue:
    queue = await repository.get_queue(session, queue_id)
    if queue is None:
        raise NotFound("queue not found")
    return queue


async def create_queue(session: AsyncSession, data: QueueCreate) -> RoutingQueue:
    """A queue that selects agents by its expression."""
    await _unique_queue_name(session, data.name)
    queue = RoutingQueue(
        name=data.name, agent_expression=data.agent_expression, created_at=utcnow()
    )
    session.add(queue)
    await session.flush()
    record(session, "routing.queue_changed", {"queue_id": queue.id})
    return queue


async def update_queue(
    session: AsyncSession, queue: RoutingQueue, data: QueueUpdate
) -> RoutingQueue:
    if data.name is not None and data.name != queue.name:
        await _unique_queue_name(session, data.name)
        queue.name = data.name
    if data.agent_expression is not None:
        queue.agent_expression = data.agent_expression
    await session.flush()
    record(session, "routing.queue_changed", {"queue_id": queue.id})
    return queue


async def delete_queue(session: AsyncSession, queue: RoutingQueue) -> None:
    if await repository.queue_in_use(session, queue.id):
        raise Conflict("the queue still holds open tasks", code="queue_in_use")
    for policy in await repository.list_policies(session):
        if any(int(t["queue_id"]) == queue.id for t in policy.targets):
            raise Conflict(f"policy {policy.name!r} sends tasks here", code="queue_in_use")
    await session.delete(queue)
    await session.flush()
    record(session, "routing.queue_changed", {"queue_id": queue.id, "deleted": True})


async def _unique_queue_name(session: AsyncSession, name: str) -> None:
    if any(queue.name == name for queue in await repository.list_queues(session)):
        raise Conflict("a queue of that name exists", code="duplicate_name")


async def get_policy_or_raise(session: AsyncSession, policy_id: int) -> RoutingPolicy:
    policy = await repository.get_policy(session, policy_id)
    if policy is None:
        raise NotFound("policy not found")
    return policy


async def create_policy(session: AsyncSession, data: PolicyCreate) -> RoutingPolicy:
    """A policy: tasks matching its expression go through its targets in order."""
    if any(p.name == data.name for p in await repository.list_policies(session)):
        raise Conflict("a policy of that name exists", code="duplicate_name")
    policy = RoutingPolicy(
        name=data.name,
        position=data.position,
        task_expression=data.task_expression,
        targets=await _targets(session, data.targets),
        created_at=utcnow(),
    )
    session.add(policy)
    await session.flush()
    record(session, "routing.policy_changed", {"policy_id": policy.id})
    return policy


async def update_policy(
    session: AsyncSession, policy: RoutingPolicy, data: PolicyUpdate
) -> RoutingPolicy:
    if data.name is not None and data.name != policy.name:
        if any(p.name == data.name for p in await repository.list_policies(session)):
            raise Conflict("a policy of that name exists", code="duplicate_name")
        policy.name = data.name
    if data.position is not None:
        policy.position = data.position
    if data.task_expression is not None:
        policy.task_expression = data.task_expression
    if data.targets is not None:
        policy.targets = await _targets(session, data.targets)
    await session.flush()
    record(session, "routing.policy_changed", {"policy_id": policy.id})
    return policy


async def delete_policy(session: AsyncSession, policy: RoutingPolicy) -> None:
    await session.delete(policy)
    await session.flush()
    record(session, "routing.policy_changed", {"policy_id": policy.id, "deleted": True})


async def _targets(session: AsyncSession, targets: list[Target]) -> list[dict[str, object]]:
    for target in targets:
        if await repository.get_queue(session, target.queue_id) is None:
            raise Invalid(f"queue {target.queue_id} does not exist", code="unknown_queue")
    return [target.model_dump(exclude_none=True) for target in targets]


async def get_agent_or_raise(session: AsyncSession, agent_id: int) -> Agent:
    agent = await auth_repository.get_agent(session, agent_id)
    if agent is None:
        raise NotFound("agent not found")
    return agent


async def update_worker(session: AsyncSession, agent: Agent, data: WorkerUpdate) -> WorkerProfile:
    """Set an agent's routing attributes, capacity per channel and presence."""
    profile = await repository.get_worker(session, agent.id)
    if profile is None:
        profile = WorkerProfile(
            agent_id=agent.id, skills={}, languages=[], tier="L1", auto_accept=[], reserved={}
        )
        session.add(profile)
    changes = data.model_dump(exclude_unset=True)
    for name in ("skills", "languages", "location", "tier", "auto_accept", "reserved"):
        if name in changes:
            setattr(profile, name, changes[name])
    profile.updated_at = utcnow()
    await session.flush()
    if data.capacity is not None:
        await repository.set_capacity(session, agent.id, data.capacity)
    if data.presence is not None:
        await service.set_status(session, agent, data.presence)
    record(session, "routing.worker_changed", {"agent_id": agent.id})
    return profile

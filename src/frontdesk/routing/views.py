"""Routing over HTTP: admins set queues, policies and workers; agents work the task list."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Response
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.auth.models import Agent
from frontdesk.db import utcnow
from frontdesk.deps import AdminAgent, CurrentAgent, SessionDep
from frontdesk.inboxes.service import visible_inbox_ids
from frontdesk.kit import uow
from frontdesk.kit.errors import Forbidden, Invalid, NotFound
from frontdesk.kit.openapi import errors
from frontdesk.kit.pagination import Page, clamp_limit, decode_cursor, encode_cursor
from frontdesk.kit.schemas import Id
from frontdesk.routing import dispatch, engine, placing, repository, service, setup
from frontdesk.routing.models import OPEN_TASK_STATUSES, RoutingTask
from frontdesk.routing.schemas import (
    PolicyCreate,
    PolicyRead,
    PolicyUpdate,
    PresenceRuleRead,
    PresenceRuleUpdate,
    QueueCreate,
    QueueRead,
    QueueUpdate,
    TaskCreate,
    TaskRead,
    TransferCreate,
    WorkerRead,
    WorkerUpdate,
)
from frontdesk.routing.service import of as presence_of

router = APIRouter(tags=["routing"])
SEES_ALL = ("admin", "supervisor")


# Queues and policies (admins)


@router.get("/routing/queues", response_model=list[QueueRead])
async def list_queues(session: SessionDep, admin: AdminAgent) -> list[QueueRead]:
    counts = await repository.waiting_counts(session)
    return [
        QueueRead(
            id=q.id, name=q.name, agent_expression=q.agent_expression, waiting=counts.get(q.id, 0)
        )
        for q in await repository.list_queues(session)
    ]


@router.post("/routing/queues", response_model=QueueRead, status_code=201, responses=errors(409))
async def create_queue(data: QueueCreate, session: SessionDep, admin: AdminAgent) -> QueueRead:
    queue = await setup.create_queue(session, data)
    await uow.commit(session)
    return QueueRead(id=queue.id, name=queue.name, agent_expression=queue.agent_expression)


@router.patch("/routing/queues/{queue_id}", response_model=QueueRead, responses=errors(409))
async def update_queue(
    queue_id: Id, data: QueueUpdate, session: SessionDep, admin: AdminAgent
) -> QueueRead:
    queue = await setup.update_queue(
        session, await setup.get_queue_or_raise(session, queue_id), data
    )
    await uow.commit(session)
    return QueueRead(id=queue.id, name=queue.name, agent_expression=queue.agent_expression)


@router.delete("/routing/queues/{queue_id}", status_code=204, responses=errors(409))
async def delete_queue(queue_id: Id, session: SessionDep, admin: AdminAgent) -> Response:
    await setup.delete_queue(session, await setup.get_queue_or_raise(session, queue_id))
    await uow.commit(session)
    return Response(status_code=204)


def _policy(policy: object) -> PolicyRead:
    return PolicyRead.model_validate(policy, from_attributes=True)


@router.get("/routing/policies", response_model=list[PolicyRead])
async def list_policies(session: SessionDep, admin: AdminAgent) -> list[PolicyRead]:
    return [_policy(p) for p in await repository.list_policies(session)]


@router.post("/routing/policies", response_model=PolicyRead, status_code=201, responses=errors(409))
async def create_policy(data: PolicyCreate, session: SessionDep, admin: AdminAgent) -> PolicyRead:
    policy = await setup.create_policy(session, data)
    await uow.commit(session)
    return _policy(policy)


@router.patch("/routing/policies/{policy_id}", response_model=PolicyRead, responses=errors(409))
async def update_policy(
    policy_id: Id, data: PolicyUpdate, session: SessionDep, admin: AdminAgent
) -> PolicyRead:
    policy = await setup.get_policy_or_raise(session, policy_id)
    await setup.update_policy(session, policy, data)
    await uow.commit(session)
    return _policy(policy)


@router.delete("/routing/policies/{policy_id}", status_code=204)
async def delete_policy(policy_id: Id, session: SessionDep, admin: AdminAgent) -> Response:
    await setup.delete_policy(session, await setup.get_policy_or_raise(session, policy_id))
    await uow.commit(session)
    return Response(status_code=204)


# The presence rule (admins): busy on a call, after-call work, then back


@router.get("/routing/presence-rule", response_model=PresenceRuleRead)
async def get_presence_rule(session: SessionDep, admin: AdminAgent) -> PresenceRuleRead:
    return service.read_rule(await service.rule(session))


@router.patch("/routing/presence-rule", response_model=PresenceRuleRead)
async def update_presence_rule(
    data: PresenceRuleUpdate, session: SessionDep, admin: AdminAgent
) -> PresenceRuleRead:
    """Switch the rule on or off; after-call work seconds per call channel (0: no limit)."""
    found = await service.update_rule(session, data, by=admin)
    await uow.commit(session)
    return service.read_rule(found)


# Agents as workers


async def worker_read(session: AsyncSession, agent: Agent) -> WorkerRead:
    profile = await repository.get_worker(session, agent.id)
    rows = await repository.capacities_of(session, [agent.id])
    teams = await repository.team_names_of(session, [agent.id])
    return WorkerRead(
        agent_id=agent.id,
        skills=dict(profile.skills) if profile else {},
        languages=list(profile.languages) if profile else [],
        location=profile.location if profile else None,
        tier=profile.tier if profile else "L1",
        teams=teams.get(agent.id, []),
        capacity={row.channel: row.capacity for row in rows},
        active={row.channel: row.active for row in rows},
        reserved=dict(profile.reserved) if profile else {},
        auto_accept=list(profile.auto_accept) if profile else [],
        presence=(await presence_of(session, agent)).effective,
    )


@router.get("/routing/agents/{agent_id}", response_model=WorkerRead)
async def get_worker(agent_id: Id, session: SessionDep, agent: CurrentAgent) -> WorkerRead:
    if agent.id != agent_id and agent.role not in SEES_ALL:
        raise NotFound("agent not found")
    return await worker_read(session, await setup.get_agent_or_raise(session, agent_id))


@router.patch("/routing/agents/{agent_id}", response_model=WorkerRead, responses=errors(403))
async def update_worker(
    agent_id: Id, data: WorkerUpdate, session: SessionDep, agent: CurrentAgent
) -> WorkerRead:
    """Admins set everything; an agent may set only their own presence."""
    if agent.role != "admin" and (agent.id != agent_id or data.model_fields_set - {"presence"}):
        raise Forbidden("only admins may change routing attributes", code="admin_only")
    worker = await setup.get_agent_or_raise(session, agent_id)
    await setup.update_worker(session, worker, data)
    await dispatch.route(session)
    await uow.commit(session)
    return await worker_read(session, worker)


# The task list


async def read_tasks(session: AsyncSession, tasks: list[RoutingTask]) -> list[TaskRead]:
    now = utcnow()
    items = []
    for task in tasks:
        position = (
            await repository.position_in_queue(session, task) if task.status == "waiting" else None
        )
        items.append(
            TaskRead.model_validate(
                {
                    **{
                        name: getattr(task, name)
                        for name in TaskRead.model_fields
                        if hasattr(task, name)
                    },
                    "effective_priority": round(engine.effective_priority(task.rank_at, now), 3),
                    "position": position,
                }
            )
        )
    return items


async def visible_task(session: AsyncSession, task_id: int, agent: Agent) -> RoutingTask:
    task = await repository.get_task(session, task_id)
    if task is None or not await _may_see(session, task, agent):
        raise NotFound("task not found")
    return task


async def _may_see(session: AsyncSession, task: RoutingTask, agent: Agent) -> bool:
    if agent.role in SEES_ALL or task.assignee_id == agent.id:
        return True
    if task.inbox_id is not None:
        inbox_ids = await visible_inbox_ids(session, agent)
        if inbox_ids is None or task.inbox_id in inbox_ids:
            return True
    return task.queue_id in await dispatch.queues_of_agent(session, agent)


@router.get("/tasks", response_model=Page[TaskRead])
async def list_tasks(
    session: SessionDep,
    agent: CurrentAgent,
    status: Literal["open", "waiting", "offered", "assigned", "wrapping", "completed", "canceled"]
    | None = None,
    queue_id: Id | None = None,
    kind: Literal["conversation", "work_item"] | None = None,
    channel: str | None = None,
    mine: bool = False,
    cursor: str | None = None,
    limit: int | None = None,
) -> Page[TaskRead]:
    """The universal task list in priority order: the caller's queues (everything for
    supervisors and admins), or only what is offered to or held by the caller (`mine`)."""
    size = clamp_limit(limit)
    statuses = OPEN_TASK_STATUSES if status in (None, "open") else (status,)
    queue_ids: list[int] | None = None
    if not mine and agent.role not in SEES_ALL:
        queue_ids = list(await dispatch.queues_of_agent(session, agent))
    if queue_id is not None:
        queue_ids = [queue_id] if queue_ids is None or queue_id in queue_ids else []
    after = await _after(session, decode_cursor(cursor))
    rows = await repository.list_tasks(
        session,
        statuses=statuses,
        assignee_id=agent.id if mine else None,
        queue_ids=queue_ids,
        kind=kind,
        channel=channel,
        after=after,
        limit=size,
    )
    next_cursor = encode_cursor(rows[-1].id) if len(rows) == size else None
    return Page(items=await read_tasks(session, rows), next_cursor=next_cursor)


async def _after(session: AsyncSession, task_id: int | None) -> tuple[datetime, int] | None:
    if task_id is None:
        return None
    task = await repository.get_task(session, task_id)
    if task is None:
        raise Invalid(
            "query.cursor: malformed cursor",
            details=[{"loc": ["query", "cursor"], "msg": "malformed cursor"}],
        )
    return (task.rank_at, task.id)


@router.post("/tasks", response_model=TaskRead, status_code=201)
async def create_task(data: TaskCreate, session: SessionDep, agent: CurrentAgent) -> TaskRead:
    """A back-office work item; routed like any task."""
    task = await placing.create_work_item(session, data, by=agent)
    await dispatch.route(session)
    await uow.commit(session)
    return (await read_tasks(session, [task]))[0]


@router.get("/tasks/{task_id}", response_model=TaskRead)
async def get_task(task_id: Id, session: SessionDep, agent: CurrentAgent) -> TaskRead:
    return (await read_tasks(session, [await visible_task(session, task_id, agent)]))[0]


@router.post("/tasks/next", response_model=TaskRead | None, responses=errors(409))
async def take_next(session: SessionDep, agent: CurrentAgent) -> TaskRead | None:
    """Pull: take the first-ranked waiting task of your queues (null when none fits)."""
    task = await dispatch.take_next(session, agent)
    await uow.commit(session)
    return (await read_tasks(session, [task]))[0] if task else None


@router.post("/tasks/{task_id}/transfer", response_model=TaskRead, responses=errors(403, 409))
async def transfer(
    task_id: Id, data: TransferCreate, session: SessionDep, agent: CurrentAgent
) -> TaskRead:
    """Hand a task you hold (or, for supervisors, any) to an agent or a queue."""
    if (data.agent_id is None) == (data.queue_id is None):
        raise Invalid("give exactly one of agent_id and queue_id", code="invalid")
    task = await visible_task(session, task_id, agent)
    if agent.role not in SEES_ALL and task.assignee_id != agent.id:
        raise Forbidden("you do not hold this task", code="not_yours")
    queue = await setup.get_queue_or_raise(session, data.queue_id) if data.queue_id else None
    if data.agent_id is not None:
        await setup.get_agent_or_raise(session, data.agent_id)
    await dispatch.transfer(session, task, by=agent, agent_id=data.agent_id, queue=queue)
    await dispatch.route(session)
    await uow.commit(session)
    return (await read_tasks(session, [task]))[0]


Action = Literal["accept", "reject", "wrap-up", "complete"]


@router.post("/tasks/{task_id}/{action}", response_model=TaskRead, responses=errors(409))
async def act(task_id: Id, action: Action, session: SessionDep, agent: CurrentAgent) -> TaskRead:
    """Accept or reject an offer; wrap up or complete a task you hold."""
    task = await visible_task(session, task_id, agent)
    if action == "accept":
        await dispatch.accept(session, task, agent)
    elif action == "reject":
        await dispatch.reject(session, task, agent)
    elif action == "wrap-up":
        await dispatch.wrap_up(session, task, agent)
    else:
        await dispatch.complete(session, task, agent)
    if action != "accept":
        await dispatch.route(session)
    await uow.commit(session)
    return (await read_tasks(session, [task]))[0]

"""Several routers and pulling agents at once on one database: never two agents on one task,
never an agent over capacity. On PostgreSQL each router is its own connection and transaction
(row locks, SKIP LOCKED and conditional updates decide); SQLite serialises the writers."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select

from frontdesk.auth import service as auth
from frontdesk.auth.schemas import AgentCreate
from frontdesk.kit import uow
from frontdesk.kit.events import Event
from frontdesk.routing import dispatch, placing, setup
from frontdesk.routing.models import AgentCapacity, RoutingTask
from frontdesk.routing.schemas import PolicyCreate, QueueCreate, Target, TaskCreate, WorkerUpdate
from frontdesk.runtime import Runtime

AGENTS, TASKS, ROUTERS, PULLERS = 30, 400, 4, 3
SKILLS = ("billing", "refunds", "voice")


async def _organisation(runtime: Runtime) -> list[int]:
    rng = random.Random(5)
    async with runtime.db.session() as session:
        queues = [
            await setup.create_queue(
                session, QueueCreate(name=skill, agent_expression=f"skills HAS '{skill}'")
            )
            for skill in SKILLS
        ]
        await setup.create_policy(
            session, PolicyCreate(name="all", targets=[Target(queue_id=queues[0].id)])
        )
        agents = []
        for n in range(AGENTS):
            agent = await auth.create_agent(
                session,
                AgentCreate(email=f"w{n}@frontdesk.test", name=f"W{n}", password="password-123"),
            )
            skills = {skill: 1 for skill in rng.sample(SKILLS, 2)}
            capacity = {"backoffice": rng.randint(1, 3), "*": 2}
            await setup.update_worker(
                session, agent, WorkerUpdate(skills=skills, capacity=capacity, presence="available")
            )
            agents.append(agent)
        for n in range(TASKS):
            await placing.create_work_item(
                session,
                TaskCreate(type=f"item {n}", base_priority=n % 3, queue_id=queues[n % 3].id),
                by=agents[0],
            )
        await uow.commit(session)
    return [agent.id for agent in agents]


async def _router(runtime: Runtime) -> None:
    for _ in range(30):
        async with runtime.db.session() as session:
            await dispatch.route(session, limit=10)
            await uow.commit(session)


async def _puller(runtime: Runtime, agent_ids: list[int], seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(30):
        async with runtime.db.session() as session:
            agent = await setup.get_agent_or_raise(session, rng.choice(agent_ids))
            await dispatch.take_next(session, agent)
            await uow.commit(session)


async def test_concurrent_routers_never_double_assign_or_overfill(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The agents' desks are not open during the test: on a loaded machine the run outlasts
    # the 75 s after which an agent not seen counts as offline, and pullers were refused.
    monkeypatch.setattr(dispatch, "STALE_AFTER", timedelta(hours=1))
    agent_ids = await _organisation(runtime)
    await asyncio.gather(
        *(_router(runtime) for _ in range(ROUTERS)),
        *(_puller(runtime, agent_ids, seed) for seed in range(PULLERS)),
    )
    async with runtime.db.session() as session:
        held = (
            await session.scalars(
                select(RoutingTask).where(RoutingTask.status.in_(("offered", "assigned")))
            )
        ).all()
        rows = (await session.scalars(select(AgentCapacity))).all()
        events = (
            await session.scalars(
                select(Event).where(Event.type.in_(("task.offered", "task.assigned")))
            )
        ).all()
    per_task = Counter(event.payload["task_id"] for event in events)
    assert held, "nothing was routed"
    assert max(per_task.values()) == 1, "a task was handed out twice"
    assert set(per_task) == {task.id for task in held}
    holding = Counter(task.assignee_id for task in held)
    for row in rows:
        assert row.active <= row.capacity, f"agent {row.agent_id} over {row.channel} capacity"
        assert row.active == holding.get(row.agent_id, 0), "slots and tasks disagree"
    # Everyone who could take more has been filled: the routers ran until work or room ran out.
    room = {(r.agent_id, r.channel): r.capacity for r in rows}
    assert sum(holding.values()) == sum(min(room[a, "backoffice"], room[a, "*"]) for a in agent_ids)

"""Two routing processes against one PostgreSQL — 5,000 tasks, 200 agents, each process
routing, pulling and completing — with zero double assignments and zero over-capacity."""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select, update

from frontdesk.auth.models import Agent
from frontdesk.db import utcnow
from frontdesk.kit import uow
from frontdesk.kit.events import Event
from frontdesk.routing import placing, setup
from frontdesk.routing.models import AgentCapacity, AgentPresence, RoutingTask
from frontdesk.routing.schemas import QueueCreate, TaskCreate, WorkerUpdate
from frontdesk.runtime import Runtime
from tests.conftest import _truncate_pg

AGENTS, TASKS, QUEUES, LOOPS = 200, 5000, 5, 60
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def settings(pg_database, tmp_path):  # type: ignore[no-untyped-def]
    from frontdesk.config import Settings

    _truncate_pg(pg_database)
    return Settings(env="development", data_dir=tmp_path / "data", database_url=pg_database)


async def _organisation(runtime: Runtime) -> None:
    rng = random.Random(11)
    async with runtime.db.session() as session:
        queues = [
            await setup.create_queue(
                session, QueueCreate(name=f"q{n}", agent_expression=f"skills HAS 's{n}'")
            )
            for n in range(QUEUES)
        ]
        for n in range(AGENTS):
            agent = Agent(email=f"p{n}@frontdesk.test", name=f"P{n}", password_hash="-")
            session.add(agent)
            await session.flush()
            skills = {f"s{s}": 1 for s in rng.sample(range(QUEUES), 2)}
            capacity = {"backoffice": rng.randint(1, 3), "*": 2}
            await setup.update_worker(
                session, agent, WorkerUpdate(skills=skills, capacity=capacity, presence="available")
            )
        for n in range(TASKS):
            data = TaskCreate(type=f"t{n}", base_priority=n % 3, queue_id=queues[n % QUEUES].id)
            await placing.create_work_item(session, data, by=agent)
        await uow.commit(session)


async def test_two_processes_never_double_assign_or_overfill(runtime: Runtime) -> None:
    await _organisation(runtime)
    async with runtime.db.session() as session:  # at their desks now (the processes take a while)
        await session.execute(update(AgentPresence).values(last_seen_at=utcnow()))
        await session.commit()
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}"}
    url = runtime.settings.database_url
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.routing.router_process", url, str(seed), str(LOOPS)],
            cwd=ROOT, env=env, stderr=subprocess.PIPE,
        )
        for seed in (1, 2)
    ]  # fmt: skip
    for process in processes:
        _, err = await asyncio.to_thread(process.communicate, timeout=600)
        assert process.returncode == 0, err.decode()
    async with runtime.db.session() as session:
        tasks = (await session.scalars(select(RoutingTask))).all()
        rows = (await session.scalars(select(AgentCapacity))).all()
        handed = (
            await session.scalars(
                select(Event.payload).where(Event.type.in_(("task.offered", "task.assigned")))
            )
        ).all()
    per_task = Counter(payload["task_id"] for payload in handed)
    completed = [t for t in tasks if t.status == "completed"]
    assert completed, "the processes completed nothing"
    assert max(per_task.values()) == 1, "a task was handed to two agents"
    holding = Counter(t.assignee_id for t in tasks if t.status in ("offered", "assigned"))
    for row in rows:
        assert row.active <= row.capacity, f"agent {row.agent_id} over {row.channel} capacity"
        assert row.active == holding.get(row.agent_id, 0), "slots and held tasks disagree"

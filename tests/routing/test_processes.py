"""Two routing processes against one PostgreSQL — 5,000 tasks, 200 agents — with zero double
assignments and zero over-capacity: two `frontdesk worker` processes routing (their jobs)
while the agents accept and complete here, and two processes routing, pulling and
completing."""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, update

from frontdesk.auth.models import Agent
from frontdesk.db import utcnow
from frontdesk.kit import jobs, uow
from frontdesk.kit.errors import Conflict
from frontdesk.kit.events import Event
from frontdesk.routing import dispatch, placing, repository, setup
from frontdesk.routing.models import AgentCapacity, AgentPresence, RoutingTask
from frontdesk.routing.schemas import QueueCreate, TaskCreate, WorkerUpdate
from frontdesk.routing.tasks import SWEEP_JOB
from frontdesk.runtime import Runtime
from tests.conftest import _truncate_pg
from tests.test_multiprocess import Processes, process_env

AGENTS, TASKS, QUEUES, LOOPS = 200, 5000, 5, 60
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def workers() -> Iterator[Processes]:
    group = Processes()
    yield group
    group.stop_all()


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
    routers = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.routing.router_process", url, str(seed), str(LOOPS)],
            cwd=ROOT, env=env, stderr=subprocess.PIPE,
        )
        for seed in (1, 2)
    ]  # fmt: skip
    for process in routers:
        _, err = await asyncio.to_thread(process.communicate, timeout=600)
        assert process.returncode == 0, err.decode()
    await _check(runtime)


async def test_two_frontdesk_workers_never_double_assign_or_overfill(
    runtime: Runtime, workers: Processes, tmp_path: Path
) -> None:
    """The `frontdesk worker` processes route (the routing sweep job, and the offer timeouts
    their offers schedule) while 200 agents here keep their desks open, accept what they are
    offered and complete what they hold, until 600 tasks are done."""
    await _organisation(runtime)
    env = process_env(
        runtime.settings.database_url, tmp_path / "data", FRONTDESK_JOB_CONCURRENCY="4"
    )
    for n in (1, 2):
        workers.start(["worker"], env, tmp_path / f"worker{n}.log")
    rng = random.Random(3)
    deadline = time.monotonic() + 900
    done = 0
    while done < 600:
        assert time.monotonic() < deadline, f"only {done} tasks done in 900 s"
        for number, process in enumerate(workers.running, 1):
            log = (tmp_path / f"worker{number}.log").read_text()
            assert process.poll() is None, f"worker {number} exited:\n{log}"
        async with runtime.db.session() as session:  # the desks are open (their heartbeat)
            await session.execute(update(AgentPresence).values(last_seen_at=utcnow()))
            for _ in range(2):
                await jobs.enqueue(session, SWEEP_JOB, {})
            await uow.commit(session)
        for status, act in (("offered", dispatch.accept), ("assigned", None)):
            async with runtime.db.session() as session:
                found = (
                    await session.scalars(
                        select(RoutingTask.id).where(RoutingTask.status == status).limit(60)
                    )
                ).all()
            for task_id in rng.sample(list(found), min(len(found), 30)):
                async with runtime.db.session() as session:
                    task = await repository.get_task(session, task_id)
                    if task is None or task.assignee_id is None:
                        continue
                    try:
                        if act is not None:
                            agent = await repository.get_agent_for_routing(
                                session, task.assignee_id
                            )
                            await act(session, task, agent)
                        else:
                            await dispatch.complete(session, task, None)
                            done += 1
                        await uow.commit(session)
                    except Conflict:  # the offer timed out or moved meanwhile
                        await uow.rollback(session)
                        done -= act is None
        await asyncio.sleep(0.05)
    workers.stop_all()
    await _check(runtime)


async def _check(runtime: Runtime) -> None:
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

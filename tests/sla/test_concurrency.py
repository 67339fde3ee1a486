"""Warnings and breaches fire once with two workers on one PostgreSQL, also when a job runs
twice (a lease that ran out) or two workers fire the same clock at the same moment."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from sqlalchemy import select, update

from frontdesk.db import utcnow
from frontdesk.kit import uow
from frontdesk.kit.jobs import Job, JobRunner
from frontdesk.runtime import Runtime
from frontdesk.sla import service
from frontdesk.sla.models import SlaClock
from tests.sla.helpers import customer_writes, events_of, make_due, make_policy

pytestmark = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
CONVERSATIONS = 12


async def work(runtime: Runtime, name: str) -> int:
    runner = JobRunner(runtime.db, runtime.settings, name=name)
    done = 0
    while claimed := await runner.claim(3):
        for job in claimed:
            await runner.execute(job)
            done += 1
    return done


async def two_workers(runtime: Runtime) -> tuple[int, int]:
    first, second = await asyncio.gather(work(runtime, "worker-1"), work(runtime, "worker-2"))
    return first, second


class TestTwoWorkers:
    async def test_each_warning_and_breach_fires_once(self, client, cast, runtime):
        await make_policy(client, cast)
        for n in range(CONVERSATIONS):
            await customer_writes(client, cast, runtime, f"m{n}", address=f"c{n}@example.com")
        due = await make_due(runtime, service.WARN_JOB) + await make_due(
            runtime, service.BREACH_JOB
        )
        assert len(due) == 4 * CONVERSATIONS  # first response and resolution, warn and breach
        done = await two_workers(runtime)
        assert sum(done) == len(due)
        # Every lease runs out and each job is claimed and run again by either worker.
        async with runtime.db.session() as session:
            await session.execute(
                update(Job)
                .where(Job.id.in_(due))
                .values(state="available", run_at=utcnow(), locked_by=None)
            )
            await session.commit()
        await two_workers(runtime)
        for type in ("sla.warning", "sla.breached"):
            fired = Counter(
                (e.conversation_id, e.payload["kind"]) for e in await events_of(runtime, type)
            )
            assert len(fired) == 2 * CONVERSATIONS
            assert set(fired.values()) == {1}, type

    async def test_two_workers_firing_one_clock_at_once_record_one_breach(
        self, client, cast, runtime
    ):
        await make_policy(client, cast, resolution_seconds=None)
        await customer_writes(client, cast, runtime, "m1")
        async with runtime.db.session() as session:
            clock = (await session.scalars(select(SlaClock))).one()

        async def fire() -> bool:
            async with runtime.db.session() as session:
                fired = await service.fire(session, clock.id, clock.generation, breach=True)
                await uow.commit(session)
                return fired

        results = await asyncio.gather(*(fire() for _ in range(4)))
        assert sorted(results) == [False, False, False, True]
        assert len(await events_of(runtime, "sla.breached")) == 1

"""Escalation fires on time (issue 11, Proof): over random policies and random clock steps, a
task moves to its policy's next target no earlier than the target's timeout and no later than
the first job run after it, never skips a target and stops at the last one. The real path
runs: a work item placed by the API (placing.place enqueues `routing.escalate` at the target's
start + timeout), the job runner claiming due jobs by the clock, and the job's handler
(routing.tasks.escalate → dispatch.escalate). The clock is time-machine's, moved by the steps."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

import httpx
import time_machine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from frontdesk.db import utcnow
from frontdesk.kit.events import Event
from frontdesk.kit.jobs import Job
from frontdesk.routing.models import RoutingTask
from frontdesk.routing.placing import ESCALATE_JOB
from frontdesk.runtime import Runtime
from tests.conftest import Cast, run_jobs

# Each example makes its own queues and policy; names and task types stay unique.
EXAMPLES = itertools.count(1)
# A target without a timeout keeps the task for good (the last one usually has none).
timeouts = st.lists(st.one_of(st.none(), st.integers(1, 600)), min_size=1, max_size=4)
# Seconds between two runs of the job runner.
steps = st.lists(st.integers(1, 400), min_size=1, max_size=12)


async def policy_of(client: httpx.AsyncClient, cast: Cast, n: int, limits: list[int | None]):
    """Queues nobody serves (the task keeps waiting) and a policy over them for type `n`."""
    queues = []
    for i in range(len(limits)):
        made = await client.post(
            "/api/v1/routing/queues",
            json={"name": f"E{n}-{i}", "agent_expression": "id == -1"},
            headers=cast.ada.headers,
        )
        assert made.status_code == 201, made.text
        queues.append(int(made.json()["id"]))
    targets = [
        {"queue_id": q} | ({"timeout_seconds": t} if t is not None else {})
        for q, t in zip(queues, limits, strict=True)
    ]
    made = await client.post(
        "/api/v1/routing/policies",
        json={"name": f"E{n}", "task_expression": f"type == 'escalation {n}'", "targets": targets},
        headers=cast.ada.headers,
    )
    assert made.status_code == 201, made.text
    return queues


async def where_is(runtime: Runtime, task_id: int) -> tuple[int, datetime, int | None, list]:
    async with runtime.db.session() as session:
        task = await session.get(RoutingTask, task_id)
        assert task is not None
        events = (
            await session.scalars(
                select(Event).where(Event.type == "task.escalated").order_by(Event.sequence)
            )
        ).all()
        moves = [e.payload["target_index"] for e in events if e.payload["task_id"] == task_id]
        return task.target_index, task.target_started_at, task.queue_id, moves


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(limits=timeouts, gaps=steps)
async def test_escalation_fires_on_time(
    client: httpx.AsyncClient,
    cast: Cast,
    runtime: Runtime,
    limits: list[int | None],
    gaps: list[int],
) -> None:
    n = next(EXAMPLES)
    async with runtime.db.session() as session:  # escalations left by earlier examples
        await session.execute(delete(Job).where(Job.kind == ESCALATE_JOB))
        await session.commit()
    queues = await policy_of(client, cast, n, limits)
    start = utcnow().replace(microsecond=0) + timedelta(days=n)
    with time_machine.travel(start, tick=False) as clock:
        made = await client.post(
            "/api/v1/tasks", json={"type": f"escalation {n}"}, headers=cast.ada.headers
        )
        assert made.status_code == 201, made.text
        task_id = int(made.json()["id"])
        # The model: target i, entered at `entered`, is left at the first job run at or after
        # entered + its timeout, for target i + 1, unless it is the last or has no timeout.
        index, entered, now = 0, start, start
        for gap in gaps:
            clock.shift(gap)
            now += timedelta(seconds=gap)
            await run_jobs(runtime)
            limit = limits[index]
            due = limit is not None and now >= entered + timedelta(seconds=limit)
            if index + 1 < len(limits) and due:
                index, entered = index + 1, now
            found, since, queue_id, moves = await where_is(runtime, task_id)
            assert found == index, f"at +{(now - start).seconds}s: target {found}, not {index}"
            assert since == entered  # moved at this run, not before its timeout nor later
            assert queue_id == queues[index]
            assert moves == list(range(1, index + 1))  # one target at a time, none skipped

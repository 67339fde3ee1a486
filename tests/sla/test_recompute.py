"""Editing an SLA policy or calendar moves the running clocks under it (the `sla.recompute`
job, after the change commits): new due and warning instants, old jobs left without effect,
the routing task's due time fed again; applying the change twice moves nothing."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from frontdesk.kit.jobs import Job
from frontdesk.routing.models import RoutingTask
from frontdesk.sla import service
from frontdesk.sla.models import SlaClock
from frontdesk.sla.service import BREACH_JOB, RECOMPUTE_JOB, WARN_JOB
from tests.conftest import run_jobs
from tests.routing.test_views import set_worker, setup_support
from tests.sla.helpers import (
    HOUR,
    agent_replies,
    clocks,
    customer_writes,
    events_of,
    make_due,
    make_policy,
)


def at(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def patch_policy(client, cast, policy_id: int, **fields) -> None:
    answer = await client.patch(
        f"/api/v1/sla/policies/{policy_id}", json=fields, headers=cast.ada.headers
    )
    assert answer.status_code == 200, answer.text


async def clock_rows(runtime, conversation_id: int) -> dict[str, SlaClock]:
    async with runtime.db.session() as session:
        rows = await session.scalars(
            select(SlaClock).where(SlaClock.conversation_id == conversation_id)
        )
        return {row.kind: row for row in rows}


class TestPolicyChange:
    async def test_a_shorter_target_moves_the_running_clock_and_its_jobs(
        self, client, cast, runtime
    ):
        policy = await make_policy(client, cast)
        conversation_id = await customer_writes(client, cast, runtime, "m1")
        before = (await clocks(client, cast, conversation_id))["first_response"]
        started = at(before["started_at"])
        await patch_policy(client, cast, policy["id"], first_response_seconds=HOUR // 2)
        # Nothing moves before the job runs (it runs after the change commits).
        unchanged = (await clocks(client, cast, conversation_id))["first_response"]
        assert unchanged["due_at"] == before["due_at"]
        await run_jobs(runtime)
        after = (await clocks(client, cast, conversation_id))["first_response"]
        assert after["target_seconds"] == HOUR // 2
        assert abs((at(after["due_at"]) - started).total_seconds() - HOUR / 2) < 1
        rows = await clock_rows(runtime, conversation_id)
        first = rows["first_response"]
        # The resolution clock kept its target, due time and generation.
        assert rows["resolution"].target_seconds == 8 * HOUR
        async with runtime.db.session() as session:
            waiting = list(
                await session.scalars(
                    select(Job).where(Job.kind == BREACH_JOB, Job.state == "available")
                )
            )
        mine = [j for j in waiting if j.payload["clock_id"] == first.id]
        assert sorted(j.payload["generation"] for j in mine) == [
            first.generation - 1,
            first.generation,
        ]
        current = next(j for j in mine if j.payload["generation"] == first.generation)
        assert abs((current.run_at - started).total_seconds() - HOUR / 2) < 1
        # Both come due: only the current generation's job records a breach, once.
        await make_due(runtime, BREACH_JOB)
        await make_due(runtime, WARN_JOB)
        await run_jobs(runtime)
        breached = [
            e for e in await events_of(runtime, "sla.breached")
            if e.payload["kind"] == "first_response"
        ]  # fmt: skip
        assert len(breached) == 1

    async def test_the_change_is_applied_once_however_often_the_job_runs(
        self, client, cast, runtime
    ):
        policy = await make_policy(client, cast)
        conversation_id = await customer_writes(client, cast, runtime, "m1")
        await patch_policy(client, cast, policy["id"], first_response_seconds=2 * HOUR)
        await run_jobs(runtime)
        rows = await clock_rows(runtime, conversation_id)
        generations = {kind: row.generation for kind, row in rows.items()}
        updates = len(await events_of(runtime, "sla.updated"))
        async with runtime.db.session() as session:
            await service.recompute(session, policy_ids=[policy["id"]], after=0)
            await session.commit()
        again = await clock_rows(runtime, conversation_id)
        assert {kind: row.generation for kind, row in again.items()} == generations
        assert len(await events_of(runtime, "sla.updated")) == updates
        assert again["first_response"].target_seconds == 2 * HOUR

    async def test_a_paused_clock_takes_the_new_target_when_it_resumes(self, client, cast, runtime):
        policy = await make_policy(client, cast)
        conversation_id = await customer_writes(client, cast, runtime, "m1")
        await agent_replies(client, cast, runtime, conversation_id)  # resolution pauses
        assert (await clocks(client, cast, conversation_id))["resolution"]["state"] == "paused"
        await patch_policy(client, cast, policy["id"], resolution_seconds=2 * HOUR)
        await run_jobs(runtime)
        paused = (await clocks(client, cast, conversation_id))["resolution"]
        assert paused["state"] == "paused" and paused["target_seconds"] == 2 * HOUR
        await customer_writes(client, cast, runtime, "m2")
        running = (await clocks(client, cast, conversation_id))["resolution"]
        assert running["state"] == "running"
        assert running["remaining_seconds"] <= 2 * HOUR
        assert running["remaining_seconds"] > 2 * HOUR - 60

    async def test_a_removed_target_ends_its_clock(self, client, cast, runtime):
        policy = await make_policy(client, cast)
        conversation_id = await customer_writes(client, cast, runtime, "m1")
        await patch_policy(client, cast, policy["id"], resolution_seconds=None)
        await run_jobs(runtime)
        now = await clocks(client, cast, conversation_id)
        assert now["resolution"]["state"] == "canceled"
        assert now["first_response"]["state"] == "running"

    async def test_other_policies_clocks_stay(self, client, cast, runtime):
        await make_policy(client, cast)
        other = await make_policy(client, cast, name="Other", position=500)
        conversation_id = await customer_writes(client, cast, runtime, "m1")
        rows = await clock_rows(runtime, conversation_id)
        await patch_policy(client, cast, other["id"], first_response_seconds=60)
        await run_jobs(runtime)
        again = await clock_rows(runtime, conversation_id)
        assert {k: r.generation for k, r in again.items()} == {
            k: r.generation for k, r in rows.items()
        }

    async def test_the_routing_task_gets_the_new_due_time(self, client, cast, runtime):
        await setup_support(client, cast)
        await set_worker(client, cast, cast.alice.id, presence="away")  # the task waits
        policy = await make_policy(client, cast, resolution_seconds=None)
        conversation_id = await customer_writes(client, cast, runtime, "m1")
        await patch_policy(client, cast, policy["id"], first_response_seconds=HOUR // 4)
        await run_jobs(runtime)
        first = (await clocks(client, cast, conversation_id))["first_response"]
        async with runtime.db.session() as session:
            task = await session.scalar(
                select(RoutingTask).where(RoutingTask.conversation_id == conversation_id)
            )
        assert task is not None and task.due_at == at(first["due_at"])


class TestCalendarChange:
    async def test_a_calendar_change_moves_the_clocks_of_its_policies(self, client, cast, runtime):
        everyday = {
            day: ["00:00-24:00"] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
        }
        made = await client.post(
            "/api/v1/sla/calendars",
            json={"name": "Always", "time_zone": "UTC", "hours": everyday},
            headers=cast.ada.headers,
        )
        assert made.status_code == 201, made.text
        calendar_id = made.json()["id"]
        await make_policy(client, cast, calendar_id=calendar_id, resolution_seconds=None)
        conversation_id = await customer_writes(client, cast, runtime, "m1")
        before = (await clocks(client, cast, conversation_id))["first_response"]
        started = at(before["started_at"])
        assert abs((at(before["due_at"]) - started).total_seconds() - HOUR) < 1
        # Working time is now only the hour from tomorrow 10:00 UTC on each day.
        short = {day: ["10:00-11:00"] for day in everyday}
        changed = await client.patch(
            f"/api/v1/sla/calendars/{calendar_id}", json={"hours": short}, headers=cast.ada.headers
        )
        assert changed.status_code == 200, changed.text
        await run_jobs(runtime)
        after = (await clocks(client, cast, conversation_id))["first_response"]
        due = at(after["due_at"])
        assert due != at(before["due_at"])
        assert (due.hour == 11 and due.minute == 0) or (due.hour == 10 and due.minute > 0)
        assert due - started < timedelta(days=2)
        async with runtime.db.session() as session:
            kinds = list(await session.scalars(select(Job.kind).where(Job.kind == RECOMPUTE_JOB)))
        assert kinds

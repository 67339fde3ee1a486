"""Clocks per conversation: started by events, paused while waiting on the customer, resumed
when the customer writes, stopped by replies and resolution; warnings and breaches fire once
and escalate; lifecycle timestamps; policy selection."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update

from frontdesk.db import utcnow
from frontdesk.kit.jobs import Job
from frontdesk.routing.models import RoutingTask
from frontdesk.sla.service import BREACH_JOB, WARN_JOB
from tests.conftest import inbound_payload, post_inbound, run_jobs
from tests.routing.test_views import set_worker, setup_support
from tests.sla.helpers import (
    HOUR,
    agent_replies,
    clocks,
    conversation,
    customer_writes,
    events_of,
    make_due,
    make_policy,
    set_status,
)


def at(value: str) -> datetime:
    return datetime.fromisoformat(value)


class TestStart:
    async def test_no_policy_no_clock_and_no_job(self, client, cast, runtime):
        conversation_id = await customer_writes(client, cast, runtime, "m1")
        assert (await conversation(client, cast, conversation_id))["sla"] == []
        async with runtime.db.session() as session:
            kinds = set(await session.scalars(select(Job.kind)))
        assert not {k for k in kinds if k.startswith("sla.")}

    async def test_a_new_conversation_starts_first_response_and_resolution(
        self, client, cast, runtime
    ):
        policy = await make_policy(client, cast)
        conversation_id = await customer_writes(client, cast, runtime, "m1")
        read = await conversation(client, cast, conversation_id)
        running = {clock["kind"]: clock for clock in read["sla"]}
        assert set(running) == {"first_response", "resolution"}
        first = running["first_response"]
        assert first["state"] == "running" and first["policy_id"] == policy["id"]
        started = at(read["created_at"])
        assert abs((at(first["due_at"]) - started).total_seconds() - HOUR) < 1
        assert abs((at(running["resolution"]["due_at"]) - started).total_seconds() - 8 * HOUR) < 1
        assert 0 < first["remaining_seconds"] <= HOUR
        async with runtime.db.session() as session:
            jobs = list(await session.scalars(select(Job).where(Job.kind == BREACH_JOB)))
        assert len(jobs) == 2
        # The warning comes at 80 % of the target.
        async with runtime.db.session() as session:
            warns = list(await session.scalars(select(Job).where(Job.kind == WARN_JOB)))
        assert sorted(round((j.run_at - started).total_seconds()) for j in warns) == [
            int(0.8 * HOUR),
            int(0.8 * 8 * HOUR),
        ]


class TestPauseResume:
    async def test_an_agent_reply_meets_first_response_and_pauses_resolution(
        self, client, cast, runtime
    ):
        await make_policy(client, cast, next_response_seconds=2 * HOUR)
        conversation_id = await customer_writes(client, cast, runtime, "m1")
        await agent_replies(client, cast, runtime, conversation_id)
        now = await clocks(client, cast, conversation_id)
        assert now["first_response"]["state"] == "met"
        assert now["first_response"]["breached_at"] is None
        assert now["resolution"]["state"] == "paused" and now["resolution"]["due_at"] is None
        assert "next_response" not in now
        read = await conversation(client, cast, conversation_id)
        assert read["first_response_at"] is not None

    async def test_the_customer_writing_resumes_and_starts_next_response(
        self, client, cast, runtime
    ):
        await make_policy(client, cast, next_response_seconds=2 * HOUR)
        conversation_id = await customer_writes(client, cast, runtime, "m1")
        await agent_replies(client, cast, runtime, conversation_id)
        paused = (await clocks(client, cast, conversation_id))["resolution"]
        await customer_writes(client, cast, runtime, "m2")
        now = await clocks(client, cast, conversation_id)
        assert now["resolution"]["state"] == "running"
        # The time used before the pause is kept: less than the whole target is left.
        assert now["resolution"]["remaining_seconds"] <= paused["remaining_seconds"]
        assert now["next_response"]["state"] == "running"
        assert now["next_response"]["target_seconds"] == 2 * HOUR
        await agent_replies(client, cast, runtime, conversation_id)
        assert (await clocks(client, cast, conversation_id))["next_response"]["state"] == "met"

    async def test_pending_pauses_and_a_customer_message_resumes(self, client, cast, runtime):
        await make_policy(client, cast)
        conversation_id = await customer_writes(client, cast, runtime, "m1")
        await set_status(client, cast, runtime, conversation_id, "pending")
        now = await clocks(client, cast, conversation_id)
        assert {c["state"] for c in now.values()} == {"paused"}
        await customer_writes(client, cast, runtime, "m2")
        now = await clocks(client, cast, conversation_id)
        assert {c["state"] for c in now.values()} == {"running"}

    async def test_a_paused_clock_schedules_no_breach(self, client, cast, runtime):
        await make_policy(client, cast)
        conversation_id = await customer_writes(client, cast, runtime, "m1")
        await set_status(client, cast, runtime, conversation_id, "pending")
        await make_due(runtime, BREACH_JOB)
        await make_due(runtime, WARN_JOB)
        await run_jobs(runtime)
        assert await events_of(runtime, "sla.breached") == []
        assert await events_of(runtime, "sla.warning") == []

    async def test_resolve_stops_and_reopen_resumes_resolution(self, client, cast, runtime):
        await make_policy(client, cast)
        conversation_id = await customer_writes(client, cast, runtime, "m1")
        await set_status(client, cast, runtime, conversation_id, "resolved")
        now = await clocks(client, cast, conversation_id)
        assert now["resolution"]["state"] == "met"
        assert now["first_response"]["state"] == "canceled"
        read = await conversation(client, cast, conversation_id)
        assert read["resolved_at"] is not None and read["reopened_at"] is None
        await set_status(client, cast, runtime, conversation_id, "open")
        now = await clocks(client, cast, conversation_id)
        assert now["resolution"]["state"] == "running"
        assert (await conversation(client, cast, conversation_id))["reopened_at"] is not None


class TestBreach:
    async def test_warning_and_breach_fire_once(self, client, cast, runtime):
        await make_policy(client, cast, resolution_seconds=None)
        conversation_id = await customer_writes(client, cast, runtime, "m1")
        await make_due(runtime, WARN_JOB)
        await run_jobs(runtime)
        [warning] = await events_of(runtime, "sla.warning")
        assert warning.payload["kind"] == "first_response"
        assert warning.conversation_id == conversation_id
        await make_due(runtime, BREACH_JOB)
        await run_jobs(runtime)
        [breach] = await events_of(runtime, "sla.breached")
        assert breach.payload["kind"] == "first_response"
        now = await clocks(client, cast, conversation_id)
        assert now["first_response"]["breached_at"] is not None
        # A reply after the breach meets the clock late: it stays breached.
        await agent_replies(client, cast, runtime, conversation_id)
        now = await clocks(client, cast, conversation_id)
        assert now["first_response"]["state"] == "met"
        assert now["first_response"]["breached_at"] is not None
        assert len(await events_of(runtime, "sla.breached")) == 1

    async def test_a_breach_boosts_the_task_and_moves_it_to_the_escalation_queue(
        self, client, cast, runtime
    ):
        await setup_support(client, cast)
        await set_worker(client, cast, cast.alice.id, presence="away")  # the task waits
        supervisors = await client.post(
            "/api/v1/routing/queues",
            json={"name": "Supervisors", "agent_expression": "role == 'supervisor'"},
            headers=cast.ada.headers,
        )
        escalation = int(supervisors.json()["id"])
        await make_policy(
            client, cast, resolution_seconds=None, priority_boost=3,
            escalation_queue_id=escalation,
        )  # fmt: skip
        conversation_id = await customer_writes(client, cast, runtime, "m1")
        async with runtime.db.session() as session:
            task = await session.scalar(
                select(RoutingTask).where(RoutingTask.conversation_id == conversation_id)
            )
        assert task is not None and task.status == "waiting"
        first = (await clocks(client, cast, conversation_id))["first_response"]
        # The SLA's due time feeds the routing rank.
        assert task.due_at == at(first["due_at"])
        before = task.base_priority
        await make_due(runtime, BREACH_JOB)
        await run_jobs(runtime)
        async with runtime.db.session() as session:
            task = await session.get(RoutingTask, task.id)
        assert task is not None
        assert task.base_priority == before + 3
        assert task.queue_id == escalation
        escalated = await events_of(runtime, "task.escalated")
        assert [e.payload.get("reason") for e in escalated] == ["sla_breach"]


class TestPolicySelection:
    @pytest.mark.parametrize(("tier", "expected"), [("gold", "Gold"), (None, "Standard")])
    async def test_the_first_matching_policy_wins(self, client, cast, runtime, tier, expected):
        made = [
            # Position 0, but for e-mail only: the API inbox's conversations skip it.
            await make_policy(client, cast, name="E-mail", position=0, channels=["email"]),
            await make_policy(
                client, cast, name="Gold", position=1, tiers=["gold"], channels=["api"],
                priorities=["normal", "high"], first_response_seconds=600,
            ),
            await make_policy(client, cast, name="Standard", position=50),
        ]  # fmt: skip
        names = {policy["id"]: policy["name"] for policy in made}
        first = await customer_writes(client, cast, runtime, "m0")
        await set_status(client, cast, runtime, first, "resolved")
        customer_id = (await conversation(client, cast, first))["customer_id"]
        if tier:
            patched = await client.patch(
                f"/api/v1/customers/{customer_id}",
                json={"attributes": {"tier": tier}},
                headers=cast.ada.headers,
            )
            assert patched.status_code == 200, patched.text
        second = await customer_writes(client, cast, runtime, "m1")
        assert second != first
        now = await clocks(client, cast, second)
        assert names[now["first_response"]["policy_id"]] == expected
        if expected == "Gold":
            assert now["first_response"]["target_seconds"] == 600


class TestOrder:
    async def test_events_applied_out_of_order_never_rewind_the_clocks(self, client, cast, runtime):
        """Workers may run a conversation's jobs in any order: an event older than one
        already applied is skipped, and the reply (stamped on the conversation) still meets
        the first response."""
        await make_policy(client, cast, next_response_seconds=2 * HOUR)
        conversation_id = await customer_writes(client, cast, runtime, "m1")
        await agent_replies_later(client, cast, conversation_id)
        await customer_writes_later(client, cast, "m2")
        async with runtime.db.session() as session:
            pending = list(
                await session.scalars(
                    select(Job.id).where(Job.kind == "sla.track", Job.state == "available")
                )
            )
            assert len(pending) == 2
            # The newest event first: the reply's job waits until after it.
            await session.execute(
                update(Job)
                .where(Job.id == min(pending))
                .values(run_at=utcnow() + timedelta(hours=1))
            )
            await session.commit()
        await run_jobs(runtime)
        now = await clocks(client, cast, conversation_id)
        assert now["first_response"]["state"] == "met"
        assert now["next_response"]["state"] == "running"
        assert now["resolution"]["state"] == "running"
        await make_due_all(runtime)
        await run_jobs(runtime)  # the reply's event, now older than one applied: no change
        after = await clocks(client, cast, conversation_id)
        assert {k: (c["state"], c["due_at"]) for k, c in after.items()} == {
            k: (c["state"], c["due_at"]) for k, c in now.items()
        }


async def agent_replies_later(client, cast, conversation_id):  # type: ignore[no-untyped-def]
    answer = await client.post(
        f"/api/v1/conversations/{conversation_id}/messages",
        json={"text": "on it"},
        headers=cast.ada.headers,
    )
    assert answer.status_code in (200, 201), answer.text


async def customer_writes_later(client, cast, external_id):  # type: ignore[no-untyped-def]
    answer = await post_inbound(
        client, cast.website, inbound_payload(external_id, "mona@example.com", "again")
    )
    assert answer.status_code == 202, answer.text


async def make_due_all(runtime):  # type: ignore[no-untyped-def]
    async with runtime.db.session() as session:
        await session.execute(
            update(Job)
            .where(Job.kind == "sla.track", Job.state == "available")
            .values(run_at=utcnow() - timedelta(seconds=1))
        )
        await session.commit()

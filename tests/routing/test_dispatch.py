"""Offers time out, targets escalate on time, sticky agents and auto-accept, and offers reach
the agent over the events websocket."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import httpx
import websockets
from sqlalchemy import select, update

from frontdesk.db import utcnow
from frontdesk.kit.jobs import Job
from frontdesk.routing.placing import ESCALATE_JOB, OFFER_TIMEOUT_JOB
from frontdesk.runtime import Runtime
from tests.conftest import Cast, run_jobs
from tests.realtime.test_events import drain, url
from tests.routing.test_views import set_worker, tasks


async def make_queue(client: httpx.AsyncClient, cast: Cast, name: str, expression: str) -> int:
    answer = await client.post(
        "/api/v1/routing/queues",
        json={"name": name, "agent_expression": expression},
        headers=cast.ada.headers,
    )
    assert answer.status_code == 201, answer.text
    return int(answer.json()["id"])


async def make_policy(client: httpx.AsyncClient, cast: Cast, *targets: dict[str, Any]) -> None:
    answer = await client.post(
        "/api/v1/routing/policies",
        json={"name": "Tiers", "targets": list(targets)},
        headers=cast.ada.headers,
    )
    assert answer.status_code == 201, answer.text


async def work_item(client: httpx.AsyncClient, cast: Cast, **fields: Any) -> dict:
    answer = await client.post(
        "/api/v1/tasks", json={"type": "call back", **fields}, headers=cast.ada.headers
    )
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


async def job_due(runtime: Runtime, kind: str) -> Job:
    """The one job of `kind`, made due now (the clock jumps to it)."""
    async with runtime.db.session() as session:
        job = (await session.scalars(select(Job).where(Job.kind == kind))).one()
        await session.execute(
            update(Job).where(Job.id == job.id).values(run_at=utcnow() - timedelta(seconds=1))
        )
        await session.commit()
    return job


class TestEscalation:
    async def test_l1_to_l2_when_the_target_times_out(self, client, cast, runtime):
        l1 = await make_queue(client, cast, "L1", "tier == 'L1'")
        l2 = await make_queue(client, cast, "L2", "tier == 'L2'")
        await make_policy(
            client, cast,
            {"queue_id": l1, "timeout_seconds": 120},
            {"queue_id": l2, "priority_boost": 1},
        )  # fmt: skip
        item = await work_item(client, cast)
        assert item["queue_id"] == l1 and item["status"] == "waiting"
        async with runtime.db.session() as session:
            job = (await session.scalars(select(Job).where(Job.kind == ESCALATE_JOB))).one()
        assert abs((job.run_at - utcnow()).total_seconds() - 120) < 30  # fires on time, not before
        assert await run_jobs(runtime) == 0  # not due yet: nothing runs
        await set_worker(client, cast, cast.bob.id, tier="L2", capacity={"backoffice": 1})
        await job_due(runtime, ESCALATE_JOB)
        await run_jobs(runtime)
        [mine] = await tasks(client, cast.bob, mine="true")
        assert mine["id"] == item["id"] and mine["queue_id"] == l2
        assert mine["base_priority"] == 1 and mine["status"] == "offered"


class TestOffers:
    async def test_an_unanswered_offer_goes_to_the_next_agent(self, client, cast, runtime):
        queue = await make_queue(client, cast, "Anyone", "TRUE")
        await make_policy(client, cast, {"queue_id": queue})
        await set_worker(client, cast, cast.alice.id, capacity={"backoffice": 1})
        item = await work_item(client, cast)
        assert item["assignee_id"] == cast.alice.id and item["status"] == "offered"
        await set_worker(client, cast, cast.bob.id, capacity={"backoffice": 1})
        await job_due(runtime, OFFER_TIMEOUT_JOB)
        await run_jobs(runtime)
        [moved] = await tasks(client, cast.bob, mine="true")
        assert moved["id"] == item["id"] and moved["status"] == "offered"
        alice = await set_worker(client, cast, cast.alice.id)
        assert alice["active"]["backoffice"] == 0

    async def test_auto_accept_assigns_at_once(self, client, cast, runtime):
        queue = await make_queue(client, cast, "Anyone", "TRUE")
        await set_worker(
            client, cast, cast.alice.id, capacity={"backoffice": 1}, auto_accept=["backoffice"]
        )
        item = await work_item(client, cast, queue_id=queue)
        assert item["status"] == "assigned" and item["accepted_at"] is not None

    async def test_the_sticky_agent_first(self, client, cast, runtime):
        queue = await make_queue(client, cast, "Anyone", "TRUE")
        await make_policy(
            client, cast,
            {"queue_id": queue, "agent_expression": "id == task.last_agent_id",
             "timeout_seconds": 60},
            {"queue_id": queue},
        )  # fmt: skip
        await set_worker(client, cast, cast.alice.id, capacity={"backoffice": 1})
        await set_worker(client, cast, cast.bob.id, capacity={"backoffice": 1})
        item = await work_item(client, cast, attributes={"last_agent_id": cast.bob.id})
        assert item["assignee_id"] == cast.bob.id

    async def test_the_offer_reaches_the_agent_over_the_events_socket(
        self, client, cast, runtime, live_server
    ):
        queue = await make_queue(client, cast, "Anyone", "TRUE")
        await set_worker(client, cast, cast.bob.id, capacity={"backoffice": 1})
        async with websockets.connect(url(live_server, cast.bob.token)) as socket:
            await drain(socket, 0.3)
            item = await work_item(client, cast, queue_id=queue)
            offered = await until_offered(socket)
        assert offered["payload"]["task_id"] == item["id"]
        assert offered["payload"]["agent_id"] == cast.bob.id
        assert offered["payload"]["expires_at"]


async def until_offered(socket: Any) -> dict[str, Any]:
    async with asyncio.timeout(20):
        while True:
            event = json.loads(await socket.recv())
            if event["type"] == "task.offered":
                return dict(event)

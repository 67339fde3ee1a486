"""A chat visitor waiting for an agent sees their place in the queue and an expected wait,
live over the widget socket, and nothing once an agent takes the chat. SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from frontdesk.customers.models import Customer
from frontdesk.db import utcnow
from frontdesk.routing import waits
from frontdesk.routing.models import RoutingTask
from tests.conftest import run_jobs
from tests.helpers import Visitor, make_chat, visitor_token
from tests.routing.test_views import set_worker

FRAME = {"type", "position", "wait_minutes"}


async def support_queue(client, cast) -> int:  # type: ignore[no-untyped-def]
    queue = await client.post(
        "/api/v1/routing/queues",
        json={"name": "Support", "agent_expression": "teams HAS 'Support'"},
        headers=cast.ada.headers,
    )
    assert queue.status_code == 201, queue.text
    queue_id = int(queue.json()["id"])
    policy = await client.post(
        "/api/v1/routing/policies",
        json={"name": "Everything", "targets": [{"queue_id": queue_id}]},
        headers=cast.ada.headers,
    )
    assert policy.status_code == 201, policy.text
    # Alice serves one chat at a time, but is away for now: chats wait.
    await set_worker(
        client, cast, cast.alice.id, capacity={"webchat": 1, "backoffice": 1}, presence="away"
    )
    return queue_id


async def place(visitor: Visitor, **expected: Any) -> dict[str, Any]:
    """The next queue frame that says what `expected` says (earlier ones may be in between)."""

    async def wait() -> dict[str, Any]:
        while True:
            frame = await visitor.next("queue", timeout=10)
            assert set(frame) == FRAME  # nothing about anyone else
            if all(frame[k] == v for k, v in expected.items()):
                return frame

    try:
        return await asyncio.wait_for(wait(), 15)
    except TimeoutError:
        raise AssertionError(f"no queue frame with {expected}: {visitor.frames}") from None


async def first_task(runtime) -> RoutingTask:  # type: ignore[no-untyped-def]
    async with runtime.db.session() as session:
        task = await session.scalar(select(RoutingTask).order_by(RoutingTask.id).limit(1))
    assert task is not None
    return task


class TestPlaceInQueue:
    async def test_positions_follow_the_queue_and_end_when_an_agent_accepts(
        self, client, cast, runtime, live_server
    ):
        await support_queue(client, cast)
        chat = await make_chat(runtime, cast)
        first = await Visitor.connect(live_server, await visitor_token(client, chat))
        second = await Visitor.connect(live_server, await visitor_token(client, chat))
        await first.say("client-q-0001", "I need help")
        await run_jobs(runtime)
        await second.say("client-q-0002", "me too")
        await run_jobs(runtime)
        # Nobody who could answer is available: the position alone.
        await place(first, position=1, wait_minutes=None)
        await place(second, position=2, wait_minutes=None)
        # Alice is back, with room for one chat: routing offers her the first at once
        # (its place stays shown until she answers) and the second is first in line.
        # No handle time measured yet (5 minutes), one slot: about 5 minutes.
        await set_worker(client, cast, cast.alice.id, presence="available")
        await run_jobs(runtime)
        task = await first_task(runtime)
        assert task.status == "offered" and task.assignee_id == cast.alice.id
        await place(second, position=1, wait_minutes=5)
        accepted = await client.post(f"/api/v1/tasks/{task.id}/accept", headers=cast.alice.headers)
        assert accepted.status_code == 200, accepted.text
        await run_jobs(runtime)
        gone = await place(first, position=None)
        assert gone["wait_minutes"] is None
        await first.close()
        await second.close()

    async def test_a_higher_ranked_task_goes_ahead(self, client, cast, runtime, live_server):
        queue_id = await support_queue(client, cast)
        chat = await make_chat(runtime, cast)
        visitor = await Visitor.connect(live_server, await visitor_token(client, chat))
        await visitor.say("client-q-0003", "hello?")
        await run_jobs(runtime)
        await place(visitor, position=1)
        # A work item of the same queue with a higher base priority ranks first.
        made = await client.post(
            "/api/v1/tasks",
            json={"type": "call back", "base_priority": 5, "queue_id": queue_id},
            headers=cast.ada.headers,
        )
        assert made.status_code == 201, made.text
        await run_jobs(runtime)
        await place(visitor, position=2)
        await visitor.close()

    async def test_a_reconnecting_visitor_is_told_at_once(self, client, cast, runtime, live_server):
        await support_queue(client, cast)
        chat = await make_chat(runtime, cast)
        token = await visitor_token(client, chat)
        visitor = await Visitor.connect(live_server, token)
        await visitor.say("client-q-0004", "anyone?")
        await run_jobs(runtime)
        await place(visitor, position=1)
        await visitor.close()
        again = await Visitor.connect(live_server, token)
        await place(again, position=1, wait_minutes=None)
        await again.close()


class TestExpectedWait:
    async def test_the_wait_uses_the_measured_handle_time(self, client, cast, runtime):
        queue_id = await support_queue(client, cast)
        await set_worker(client, cast, cast.alice.id, presence="available")
        await set_worker(client, cast, cast.bob.id, presence="available")  # not in the queue
        now = utcnow()
        async with runtime.db.session() as session:
            mona = Customer(name="Mona")
            session.add(mona)
            await session.flush()
            # Two chats handled in 10 and 14 minutes today: 12 minutes on average; one
            # from two days ago is not counted.
            for minutes, ago in ((10, 1), (14, 2), (60, 48)):
                done = now - timedelta(hours=ago)
                session.add(
                    RoutingTask(
                        kind="conversation", channel="webchat", queue_id=queue_id,
                        status="completed", accepted_at=done - timedelta(minutes=minutes),
                        completed_at=done, created_at=done - timedelta(hours=1),
                        rank_at=done - timedelta(hours=1),
                    )
                )  # fmt: skip
            # Two tasks rank ahead of Mona's chat, one behind it.
            for n, (customer, ago) in enumerate(((None, 30), (None, 20), (mona.id, 10), (None, 5))):
                session.add(
                    RoutingTask(
                        kind="conversation", channel="webchat", queue_id=queue_id,
                        status="waiting", inbox_id=500 + n, customer_id=customer,
                        created_at=now, rank_at=now - timedelta(seconds=ago),
                    )
                )  # fmt: skip
            await session.commit()
            owner = (502, mona.id)
        async with runtime.db.session() as session:
            found = await waits.places(session, [owner, (501, mona.id)])
        # Only the pair's own chat is described (Mona has none in inbox 501).
        assert set(found) == {owner}
        # Third in line, Alice's one chat slot: 3 * 720 s / 1 slot = 36 minutes.
        assert found[owner].position == 3
        assert found[owner].wait_minutes == 36

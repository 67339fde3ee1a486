"""Presence and the presence rule: an agent who answers a call is busy, its end puts them in
after-call work, and the wrap-up or the channel's limit gives back the status they had chosen;
a status they choose meanwhile wins; busy agents are offered nothing; the agent's desk hears
every change. Calls come from the CTI event API (the PBX's signed events)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
import websockets
from sqlalchemy import select

from frontdesk.kit.events import Event
from frontdesk.kit.jobs import Job
from frontdesk.routing.service import ACW_END_JOB
from frontdesk.runtime import Runtime
from tests.channels.cti.conftest import CtiInbox, make_cti_inbox
from tests.channels.cti.test_events import give_extension, offered
from tests.conftest import Cast, run_jobs
from tests.realtime.test_events import drain, url
from tests.routing.test_dispatch import job_due, make_queue, work_item
from tests.routing.test_views import set_worker, tasks

RULE = "/api/v1/routing/presence-rule"


@pytest.fixture
async def pbx(runtime: Runtime) -> CtiInbox:
    return await make_cti_inbox(runtime)


async def rule_on(client: httpx.AsyncClient, cast: Cast, **limits: int) -> dict:
    answer = await client.patch(
        RULE, json={"enabled": True, "acw_seconds": limits or {"cti": 30}}, headers=cast.ada.headers
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def presence(client: httpx.AsyncClient, cast: Cast, agent_id: int) -> str:
    answer = await client.get(f"/api/v1/routing/agents/{agent_id}", headers=cast.ada.headers)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["presence"])


async def call(client: httpx.AsyncClient, pbx: CtiInbox, runtime: Runtime, event: str) -> Any:
    answer = await pbx.post(client, {**offered(), "event": event})
    assert answer.status_code == 202, answer.text
    await run_jobs(runtime)
    return answer.json()


async def changes(runtime: Runtime, agent_id: int) -> list[tuple[str, str, str | None]]:
    """(status, by, reason) of the agent's presence history, oldest first."""
    async with runtime.db.session() as session:
        rows = await session.scalars(
            select(Event).where(Event.type == "presence.changed").order_by(Event.sequence)
        )
        found = [
            (e.payload["status"], e.payload.get("by"), e.payload.get("reason"))
            for e in rows.all()
            if e.payload["agent_id"] == agent_id
        ]
        await session.commit()
    return found


class TestRuleSettings:
    async def test_off_until_an_admin_turns_it_on(self, client, cast, runtime, pbx):
        answer = await client.get(RULE, headers=cast.ada.headers)
        assert answer.json() == {"enabled": False, "acw_seconds": {"voice": 30, "cti": 30}}
        await give_extension(client, cast, cast.alice.id, "201")
        await set_worker(client, cast, cast.alice.id)
        await call(client, pbx, runtime, "answered")
        assert await presence(client, cast, cast.alice.id) == "available"

    async def test_only_admins_and_only_sane_limits(self, client, cast):
        mine = await client.patch(RULE, json={"enabled": True}, headers=cast.alice.headers)
        assert mine.status_code == 403
        for body in ({"acw_seconds": {"voice": 3601}}, {"acw_seconds": {"chat": 10}},
                     {"acw_seconds": {"voice": -1}}, {"enabled": None}, {"enabled": 0},
                     {"limit": 3}):  # fmt: skip
            answer = await client.patch(RULE, json=body, headers=cast.ada.headers)
            assert answer.status_code == 422, body
        saved = await rule_on(client, cast, voice=0)
        assert saved == {"enabled": True, "acw_seconds": {"voice": 0, "cti": 30}}


class TestCalls:
    async def test_busy_on_the_call_then_after_call_work_then_back(
        self, client, cast, runtime, pbx
    ):
        await rule_on(client, cast, cti=45)
        await give_extension(client, cast, cast.alice.id, "201")
        await set_worker(client, cast, cast.alice.id)
        await call(client, pbx, runtime, "answered")
        assert await presence(client, cast, cast.alice.id) == "busy"
        await call(client, pbx, runtime, "ended")
        assert await presence(client, cast, cast.alice.id) == "after_call_work"
        async with runtime.db.session() as session:
            job = (await session.scalars(select(Job).where(Job.kind == ACW_END_JOB))).one()
            assert abs((job.run_at - job.created_at).total_seconds() - 45) < 1
        assert await run_jobs(runtime) == 0  # not before the limit
        await job_due(runtime, ACW_END_JOB)
        await run_jobs(runtime)
        assert await presence(client, cast, cast.alice.id) == "available"
        assert (await changes(runtime, cast.alice.id))[-3:] == [
            ("busy", "rule", "call_answered"),
            ("after_call_work", "rule", "call_ended"),
            ("available", "rule", "acw_timeout"),
        ]

    async def test_a_status_chosen_meanwhile_wins(self, client, cast, runtime, pbx):
        await rule_on(client, cast)
        await give_extension(client, cast, cast.alice.id, "201")
        await set_worker(client, cast, cast.alice.id)
        await call(client, pbx, runtime, "answered")
        await call(client, pbx, runtime, "ended")
        away = await client.patch(
            f"/api/v1/routing/agents/{cast.alice.id}",
            json={"presence": "away"},
            headers=cast.alice.headers,
        )
        assert away.status_code == 200 and away.json()["presence"] == "away"
        await job_due(runtime, ACW_END_JOB)
        await run_jobs(runtime)
        assert await presence(client, cast, cast.alice.id) == "away"

    async def test_an_agent_away_by_hand_stays_away_on_a_call(self, client, cast, runtime, pbx):
        await rule_on(client, cast)
        await give_extension(client, cast, cast.alice.id, "201")
        await set_worker(client, cast, cast.alice.id, presence="away")
        await call(client, pbx, runtime, "answered")
        await call(client, pbx, runtime, "ended")
        assert await presence(client, cast, cast.alice.id) == "away"
        assert await changes(runtime, cast.alice.id) == [("away", "agent", None)]

    async def test_a_transfer_hands_the_busy_state_over(self, client, cast, runtime, pbx):
        await rule_on(client, cast)
        await give_extension(client, cast, cast.alice.id, "201")
        await give_extension(client, cast, cast.bob.id, "202")
        await set_worker(client, cast, cast.alice.id)
        await set_worker(client, cast, cast.bob.id)
        await call(client, pbx, runtime, "answered")
        moved = await pbx.post(client, {**offered(extension="202"), "event": "transferred"})
        assert moved.status_code == 202
        await run_jobs(runtime)
        assert await presence(client, cast, cast.alice.id) == "after_call_work"
        assert await presence(client, cast, cast.bob.id) == "busy"

    async def test_a_busy_agent_is_offered_nothing_until_back(self, client, cast, runtime, pbx):
        await rule_on(client, cast)
        queue = await make_queue(client, cast, "Anyone", "TRUE")
        await give_extension(client, cast, cast.alice.id, "201")
        await set_worker(client, cast, cast.alice.id, capacity={"backoffice": 1})
        await call(client, pbx, runtime, "answered")
        item = await work_item(client, cast, queue_id=queue)
        assert item["status"] == "waiting"
        await call(client, pbx, runtime, "ended")
        assert (await tasks(client, cast.alice, mine="true")) == []  # after-call work: nothing
        await job_due(runtime, ACW_END_JOB)
        await run_jobs(runtime)
        [offer] = await tasks(client, cast.alice, mine="true")
        assert offer["id"] == item["id"] and offer["status"] == "offered"


class TestCallTasks:
    async def test_without_a_limit_the_wrap_up_ends_after_call_work(
        self, client, cast, runtime, pbx
    ):
        """A routed call (a task on the CTI inbox): accepting it makes the agent busy,
        wrapping up is after-call work (no limit: no job), completing it brings them back."""
        await rule_on(client, cast, cti=0)
        queue = await make_queue(client, cast, "Phones", "TRUE")
        created = await client.post(
            "/api/v1/routing/policies",
            json={"name": "Calls", "targets": [{"queue_id": queue}]},
            headers=cast.ada.headers,
        )
        assert created.status_code == 201
        await give_extension(client, cast, cast.alice.id, "201")
        await set_worker(client, cast, cast.alice.id, capacity={"cti": 1})
        await pbx.post(client, offered())
        await run_jobs(runtime)
        [task] = await tasks(client, cast.alice, mine="true")
        assert task["channel"] == "cti" and task["status"] == "offered"
        accepted = await client.post(
            f"/api/v1/tasks/{task['id']}/accept", headers=cast.alice.headers
        )
        assert accepted.status_code == 200
        assert await presence(client, cast, cast.alice.id) == "busy"
        await call(client, pbx, runtime, "answered")
        await call(client, pbx, runtime, "ended")
        assert await presence(client, cast, cast.alice.id) == "after_call_work"
        async with runtime.db.session() as session:
            assert (await session.scalars(select(Job).where(Job.kind == ACW_END_JOB))).all() == []
        for action in ("wrap-up", "complete"):
            done = await client.post(
                f"/api/v1/tasks/{task['id']}/{action}", headers=cast.alice.headers
            )
            assert done.status_code == 200, done.text
        assert await presence(client, cast, cast.alice.id) == "available"
        assert [c[2] for c in await changes(runtime, cast.alice.id)][-3:] == [
            "task_accepted", "call_ended", "task_completed",
        ]  # fmt: skip


class TestLive:
    async def test_the_agents_desk_hears_the_rules_change(
        self, client, cast, runtime, pbx, live_server
    ):
        await rule_on(client, cast)
        await give_extension(client, cast, cast.alice.id, "201")
        await set_worker(client, cast, cast.alice.id)
        async with websockets.connect(url(live_server, cast.alice.token)) as socket:
            await drain(socket, 0.3)
            await call(client, pbx, runtime, "answered")
            async with asyncio.timeout(20):
                while True:
                    event = json.loads(await socket.recv())
                    if event["type"] == "presence.changed":
                        break
        assert event["payload"] == {
            "agent_id": cast.alice.id, "status": "busy", "by": "rule", "reason": "call_answered",
        }  # fmt: skip

"""`frontdesk demo` shows routing at work (issue 11): agents as workers, queues, policies, a
backlog of conversations waiting on the supervisor's board, and the website chat's visitor
told their place in the queue once the bot hands them to a person."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from sqlalchemy import select

from frontdesk.auth import repository as auth_repository
from frontdesk.inboxes.models import Inbox
from frontdesk.routing import board, repository
from frontdesk.routing.models import RoutingTask
from frontdesk.runtime import Runtime
from frontdesk.seed import seed
from tests.conftest import run_jobs
from tests.helpers import Visitor


async def test_the_demo_routes_conversations(client: httpx.AsyncClient, runtime: Runtime) -> None:
    seeded = await seed(runtime)
    headers = {"Authorization": f"Bearer {seeded.token}"}
    async with runtime.db.session() as session:
        assert await repository.any_policy(session)
        lines = {line.name: line for line in await board.lines(session)}
        tasks = list(
            await session.scalars(select(RoutingTask).where(RoutingTask.status == "waiting"))
        )
        await session.commit()
    assert set(lines) >= {"Support", "Billing", "Arabic desk", "Persian desk", "Escalations"}
    conversations = [t for t in tasks if t.kind == "conversation"]
    assert conversations, "no conversation waits in a queue"
    assert all(t.queue_id is not None and t.policy_id is not None for t in conversations)
    # The back-office work is still there, and the board counts both kinds.
    assert lines["Billing"].waiting == 2 and lines["Billing"].at_risk == 1
    assert sum(line.waiting for line in lines.values()) == len(tasks)
    # Agents are workers with skills, languages, tiers and capacity per channel.
    async with runtime.db.session() as session:
        agent = await auth_repository.get_agent_by_email(session, "bob@frontdesk.test")
        await session.commit()
    assert agent is not None
    bob = (await client.get(f"/api/v1/routing/agents/{agent.id}", headers=headers)).json()
    assert bob["skills"]["billing"] >= 1 and "ar" in bob["languages"] and bob["tier"] == "L2"
    assert bob["capacity"]["webchat"] >= 1
    rule = (await client.get("/api/v1/routing/presence-rule", headers=headers)).json()
    assert rule == {"enabled": True, "acw_seconds": {"voice": 30, "cti": 30}}
    assert bob["capacity"]["voice"] == bob["capacity"]["cti"] == 1
    policies = (await client.get("/api/v1/routing/policies", headers=headers)).json()
    assert [p["position"] for p in policies] == sorted(p["position"] for p in policies)
    assert any(len(p["targets"]) > 1 and p["targets"][0]["timeout_seconds"] for p in policies)
    # Seeding again (a restart) leaves the set-up alone.
    again = await seed(runtime)
    async with runtime.db.session() as session:
        assert len(list(await session.scalars(select(RoutingTask)))) >= len(tasks)
        assert len(await repository.list_policies(session)) == len(policies)
        await session.commit()
    assert again.token


async def test_the_demo_chat_tells_a_visitor_their_place(
    client: httpx.AsyncClient, runtime: Runtime, live_server: str
) -> None:
    await seed(runtime)
    await run_jobs(runtime)
    async with runtime.db.session() as session:
        chat = await session.scalar(select(Inbox).where(Inbox.channel == "webchat"))
        await session.commit()
    assert chat is not None
    session_ = await client.post("/widget/api/session", json={"inbox_id": chat.id})
    assert session_.status_code == 200, session_.text
    visitor = await Visitor.connect(live_server, session_.json()["token"])
    try:
        # The bot answers the demo chat first; asking for a person hands the chat to routing.
        await visitor.say("client-demo-q1", "I want to talk to a real person please")
        await run_jobs(runtime)
        frame = await _queue_frame(visitor)
        assert frame["position"] >= 1
        assert frame["wait_minutes"] is None  # nobody is at their desk in a fresh demo
    finally:
        await visitor.ws.close()


async def _queue_frame(visitor: Visitor) -> dict[str, Any]:
    async def wait() -> dict[str, Any]:
        while True:
            frame = await visitor.next("queue", timeout=20)
            if frame["position"] is not None:
                return frame

    try:
        return await asyncio.wait_for(wait(), 30)
    except TimeoutError:
        raise AssertionError(f"no place in the queue: {visitor.frames}") from None

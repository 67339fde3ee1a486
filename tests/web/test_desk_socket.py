"""Collision detection and presence over /desk/ws against a real server."""

from __future__ import annotations

import asyncio
import json

import pytest
import websockets

from tests.conftest import inbound_payload, post_inbound
from tests.realtime.test_events import close_code
from tests.web.test_desk import CSRF, login


async def desk_socket(client, person, address: str, origin: str | None = None):  # type: ignore[no-untyped-def]
    client.cookies.clear()
    await login(client, person)
    cookie = f"fd_session={client.cookies.get('fd_session')}"
    return await websockets.connect(
        f"ws://{address}/desk/ws",
        additional_headers={"Cookie": cookie},
        origin=origin if origin is not None else f"http://{address}",  # type: ignore[arg-type]
    )


async def frames(ws, seconds: float = 0.6) -> list[dict]:  # type: ignore[no-untyped-def]
    got = []
    try:
        while True:
            got.append(json.loads(await asyncio.wait_for(ws.recv(), seconds)))
    except TimeoutError:
        pass
    return got


class TestCollision:
    async def test_others_who_may_see_it_learn_who_is_viewing_and_typing(
        self, client, cast, live_server
    ):
        found = (
            await post_inbound(client, cast.website, inbound_payload("d-1", "a@example.com"))
        ).json()["conversation_id"]
        alice = await desk_socket(client, cast.alice, live_server)
        sara = await desk_socket(client, cast.sara, live_server)
        bob = await desk_socket(client, cast.bob, live_server)
        await asyncio.sleep(0.2)
        await alice.send(json.dumps({"type": "viewing", "conversation_id": found}))
        await alice.send(json.dumps({"type": "typing", "conversation_id": found}))
        seen = await frames(sara)
        assert [(f["type"], f["agent_name"]) for f in seen] == [
            ("viewing", "Alice"),
            ("typing", "Alice"),
        ]
        assert await frames(bob, 0.3) == []  # Bob does not serve the website inbox
        for ws in (alice, sara, bob):
            await ws.close()

    async def test_signals_about_invisible_conversations_are_dropped(
        self, client, cast, live_server
    ):
        found = (
            await post_inbound(client, cast.website, inbound_payload("d-2", "a@example.com"))
        ).json()["conversation_id"]
        bob = await desk_socket(client, cast.bob, live_server)
        sara = await desk_socket(client, cast.sara, live_server)
        await bob.send(json.dumps({"type": "viewing", "conversation_id": found}))
        assert await frames(sara, 0.4) == []
        await bob.close()
        await sara.close()

    async def test_cross_site_socket_is_refused(self, client, cast, live_server):
        with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
            await desk_socket(client, cast.alice, live_server, origin="http://evil.example")
        assert refused.value.response.status_code == 403


class TestEventsVisibility:
    async def test_events_socket_shows_an_agent_only_their_inboxes(self, client, cast, live_server):
        bob = await websockets.connect(f"ws://{live_server}/api/v1/events?token={cast.bob.token}")
        alice = await websockets.connect(
            f"ws://{live_server}/api/v1/events?token={cast.alice.token}"
        )
        await asyncio.sleep(0.2)
        await post_inbound(client, cast.website, inbound_payload("e-1", "a@example.com"))
        seen = await frames(alice)
        assert "message.created" in [f["type"] for f in seen]
        assert await frames(bob, 0.3) == []
        await bob.close()
        await alice.close()

    async def test_reconnecting_with_since_replays_what_was_missed(self, client, cast, live_server):
        await post_inbound(client, cast.website, inbound_payload("e-2", "a@example.com"))
        first = await websockets.connect(
            f"ws://{live_server}/api/v1/events?token={cast.alice.token}"
        )
        before = await frames(first)
        await first.close()
        await post_inbound(client, cast.website, inbound_payload("e-3", "b@example.com"))
        since = before[-1]["sequence"]
        again = await websockets.connect(
            f"ws://{live_server}/api/v1/events?token={cast.alice.token}&since={since}"
        )
        missed = await frames(again)
        assert missed and all(f["sequence"] > since for f in missed)
        assert [f["payload"].get("text") for f in missed if f["type"] == "message.created"] == [
            "hello"
        ]
        await again.close()


class TestAccessEnds:
    async def test_logging_out_closes_the_sessions_desk_and_event_sockets(
        self, client, cast, live_server
    ):
        desk = await desk_socket(client, cast.alice, live_server)
        cookie = f"fd_session={client.cookies.get('fd_session')}"
        events = await websockets.connect(
            f"ws://{live_server}/api/v1/events",
            additional_headers={"Cookie": cookie},
            origin=f"http://{live_server}",  # type: ignore[arg-type]
        )
        await frames(events, 0.3)
        page = await client.get("/")
        csrf = CSRF.search(page.text).group(1)  # type: ignore[union-attr]
        assert (await client.post("/logout", data={"csrf": csrf})).status_code == 303
        assert await close_code(desk) == 4401
        assert await close_code(events) == 4401

    async def test_deactivation_closes_the_desk_socket(self, client, cast, live_server):
        desk = await desk_socket(client, cast.alice, live_server)
        await asyncio.sleep(0.2)
        await client.patch(
            f"/api/v1/agents/{cast.alice.id}", json={"active": False}, headers=cast.ada.headers
        )
        assert await close_code(desk) == 4401

    async def test_a_password_change_closes_the_desk_socket(self, client, cast, live_server):
        desk = await desk_socket(client, cast.alice, live_server)
        await asyncio.sleep(0.2)
        await client.patch(
            f"/api/v1/agents/{cast.alice.id}",
            json={"password": "a-new-password-2"},
            headers=cast.ada.headers,
        )
        assert await close_code(desk) == 4401
        assert (await client.get("/")).status_code == 303  # the session ended too

    async def test_leaving_a_team_stops_its_signals_at_once(self, client, cast, live_server):
        found = (
            await post_inbound(client, cast.website, inbound_payload("d-9", "a@example.com"))
        ).json()["conversation_id"]
        teams = (await client.get("/api/v1/teams", headers=cast.ada.headers)).json()
        support = next(t["id"] for t in teams if t["name"] == "Support")
        alice = await desk_socket(client, cast.alice, live_server)
        sara = await desk_socket(client, cast.sara, live_server)
        await asyncio.sleep(0.2)
        await sara.send(json.dumps({"type": "viewing", "conversation_id": found}))
        assert [f["agent_name"] for f in await frames(alice)] == ["Sara"]
        await client.patch(
            f"/api/v1/teams/{support}", json={"agent_ids": []}, headers=cast.ada.headers
        )
        await asyncio.sleep(0.3)
        await sara.send(json.dumps({"type": "typing", "conversation_id": found}))
        assert await frames(alice) == []
        for ws in (alice, sara):
            await ws.close()

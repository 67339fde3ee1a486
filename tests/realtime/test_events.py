from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import websockets

from tests.conftest import inbound_payload, post_inbound
from tests.web.test_desk import login


async def receive(socket: Any, n: int, timeout: float = 5.0) -> list[dict[str, Any]]:
    events = []
    for _ in range(n):
        events.append(json.loads(await asyncio.wait_for(socket.recv(), timeout)))
    return events


async def drain(socket: Any, quiet: float = 0.5) -> list[dict[str, Any]]:
    events = []
    while True:
        try:
            events.append(json.loads(await asyncio.wait_for(socket.recv(), quiet)))
        except TimeoutError:
            return events


async def silence(socket: Any, seconds: float = 0.4) -> None:
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(socket.recv(), seconds)


def url(address: str, token: str, since: int = 0) -> str:
    return f"ws://{address}/api/v1/events?since={since}&token={token}"


class TestReplayAndStream:
    async def test_replays_history_then_streams_live(self, client, cast, live_server):
        await post_inbound(client, cast.website, inbound_payload("m1", "layla@example.com", "one"))
        async with websockets.connect(url(live_server, cast.alice.token)) as socket:
            history = await receive(socket, 3)
            assert [e["type"] for e in history] == [
                "customer.created",
                "conversation.created",
                "message.created",
            ]
            assert [e["sequence"] for e in history] == sorted(e["sequence"] for e in history)
            await post_inbound(
                client, cast.website, inbound_payload("m2", "layla@example.com", "two")
            )
            [live] = await receive(socket, 1)
            assert live["type"] == "message.created" and live["payload"]["text"] == "two"
            assert live["sequence"] > history[-1]["sequence"]

    async def test_reconnect_with_since_gets_exactly_what_was_missed(
        self, client, cast, live_server
    ):
        await post_inbound(client, cast.website, inbound_payload("m0", "layla@example.com"))
        async with websockets.connect(url(live_server, cast.alice.token)) as socket:
            seen = await receive(socket, 3)
            await silence(socket, 0.2)
        last = seen[-1]["sequence"]
        for i in range(5):
            await post_inbound(
                client, cast.website, inbound_payload(f"m{i + 1}", "layla@example.com", f"t{i}")
            )
        async with websockets.connect(url(live_server, cast.alice.token, since=last)) as socket:
            missed = await receive(socket, 5)
            await silence(socket)
        assert [e["payload"]["text"] for e in missed] == [f"t{i}" for i in range(5)]
        sequences = [e["sequence"] for e in missed]
        assert sequences == sorted(sequences) and sequences[0] > last

    async def test_agent_never_receives_events_of_inboxes_they_do_not_serve(
        self, client, cast, live_server
    ):
        async with websockets.connect(url(live_server, cast.alice.token)) as socket:
            await post_inbound(
                client, cast.app, inbound_payload("a1", "omar@example.org", "secret")
            )
            await post_inbound(
                client, cast.website, inbound_payload("w1", "layla@example.com", "mine")
            )
            events = await receive(socket, 3)
            await silence(socket)
        assert {e["inbox_id"] for e in events} == {cast.website.id}
        assert "secret" not in json.dumps(events)
        async with websockets.connect(url(live_server, cast.bob.token)) as socket:
            replay = await receive(socket, 3)
            await silence(socket)
        assert {e["inbox_id"] for e in replay} == {cast.app.id}

    async def test_supervisor_sees_everything(self, client, cast, live_server):
        await post_inbound(client, cast.app, inbound_payload("a1", "omar@example.org"))
        await post_inbound(client, cast.website, inbound_payload("w1", "layla@example.com"))
        async with websockets.connect(url(live_server, cast.sara.token)) as socket:
            events = await drain(socket)
        assert {"agent.created", "team.created", "inbox.created"} <= {e["type"] for e in events}
        assert {e["inbox_id"] for e in events if e["inbox_id"]} == {cast.website.id, cast.app.id}

    async def test_bad_token_is_refused(self, live_server):
        async with websockets.connect(url(live_server, "fd_nope")) as socket:
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await socket.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401

    async def test_many_concurrent_writers_arrive_in_sequence_order_without_gaps(
        self, client, cast, live_server
    ):
        async with websockets.connect(url(live_server, cast.sara.token)) as socket:
            await drain(socket)
            await asyncio.gather(
                *(
                    post_inbound(
                        client, cast.website, inbound_payload(f"c{i}", f"u{i}@example.com")
                    )
                    for i in range(20)
                )
            )
            events = await receive(socket, 60, timeout=10)
        sequences = [e["sequence"] for e in events]
        assert sequences == list(range(sequences[0], sequences[0] + 60))


async def close_code(socket: Any, within: float = 1.0) -> int:
    """The close code of a socket the server closes within `within` seconds (events that
    arrive meanwhile are skipped); a socket still open by then fails the test."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    with pytest.raises(websockets.ConnectionClosed) as closed:
        while True:
            await asyncio.wait_for(socket.recv(), max(0.001, deadline - loop.time()))
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code


class TestAccessEnds:
    async def test_revoking_a_token_closes_its_sockets_and_no_other(
        self, client, cast, live_server
    ):
        other = (
            await client.post(
                f"/api/v1/agents/{cast.alice.id}/tokens", json={}, headers=cast.ada.headers
            )
        ).json()["token"]
        async with (
            websockets.connect(url(live_server, cast.alice.token)) as revoked,
            websockets.connect(url(live_server, other)) as kept,
        ):
            await asyncio.sleep(0.2)
            response = await client.delete("/api/v1/me/token", headers=cast.alice.headers)
            assert response.status_code == 204
            assert await close_code(revoked) == 4401
            await post_inbound(client, cast.website, inbound_payload("k1", "layla@example.com"))
            assert "message.created" in [e["type"] for e in await drain(kept)]

    async def test_deactivating_an_agent_closes_their_sockets_and_ends_their_tokens(
        self, client, cast, live_server
    ):
        async with websockets.connect(url(live_server, cast.alice.token)) as socket:
            await asyncio.sleep(0.2)
            response = await client.patch(
                f"/api/v1/agents/{cast.alice.id}", json={"active": False}, headers=cast.ada.headers
            )
            assert response.status_code == 200
            assert await close_code(socket) == 4401
        assert (await client.get("/api/v1/me", headers=cast.alice.headers)).status_code == 401
        await client.patch(
            f"/api/v1/agents/{cast.alice.id}", json={"active": True}, headers=cast.ada.headers
        )
        # Reactivation does not bring old credentials back.
        assert (await client.get("/api/v1/me", headers=cast.alice.headers)).status_code == 401

    async def test_a_password_change_closes_the_agents_sockets_and_ends_their_tokens(
        self, client, cast, live_server
    ):
        async with websockets.connect(url(live_server, cast.alice.token)) as socket:
            await asyncio.sleep(0.2)
            response = await client.patch(
                f"/api/v1/agents/{cast.alice.id}",
                json={"password": "a-new-password-2"},
                headers=cast.ada.headers,
            )
            assert response.status_code == 200
            assert await close_code(socket) == 4401
        assert (await client.get("/api/v1/me", headers=cast.alice.headers)).status_code == 401

    async def test_changing_ones_own_password_keeps_the_token_in_use_only(
        self, client, cast, live_server
    ):
        other = (
            await client.post(
                f"/api/v1/agents/{cast.ada.id}/tokens", json={}, headers=cast.ada.headers
            )
        ).json()["token"]
        async with (
            websockets.connect(url(live_server, other)) as ended,
            websockets.connect(url(live_server, cast.ada.token)) as kept,
        ):
            await drain(kept, 0.3)
            response = await client.patch(
                f"/api/v1/agents/{cast.ada.id}",
                json={"password": "a-new-password-2"},
                headers=cast.ada.headers,
            )
            assert response.status_code == 200
            assert await close_code(ended) == 4401
            assert [e["type"] for e in await drain(kept)] == [
                "agent.updated",
                "agent.access_changed",
            ]
        assert (await client.get("/api/v1/me", headers=cast.ada.headers)).status_code == 200
        other_headers = {"Authorization": f"Bearer {other}"}
        assert (await client.get("/api/v1/me", headers=other_headers)).status_code == 401

    async def test_leaving_a_team_stops_its_events_at_once(self, client, cast, live_server):
        teams = (await client.get("/api/v1/teams", headers=cast.ada.headers)).json()
        support = next(t["id"] for t in teams if t["name"] == "Support")
        async with websockets.connect(url(live_server, cast.alice.token)) as socket:
            await asyncio.sleep(0.2)
            await client.patch(
                f"/api/v1/teams/{support}", json={"agent_ids": []}, headers=cast.ada.headers
            )
            await post_inbound(client, cast.website, inbound_payload("t1", "layla@example.com"))
            await silence(socket, 1.0)
            await client.patch(
                f"/api/v1/teams/{support}",
                json={"agent_ids": [cast.alice.id]},
                headers=cast.ada.headers,
            )
            await post_inbound(client, cast.website, inbound_payload("t2", "layla@example.com"))
            assert [e["type"] for e in await receive(socket, 1)] == ["message.created"]

    async def test_moving_an_inbox_to_another_team_moves_its_events_at_once(
        self, client, cast, live_server
    ):
        teams = (await client.get("/api/v1/teams", headers=cast.ada.headers)).json()
        billing = next(t["id"] for t in teams if t["name"] == "Billing")
        async with (
            websockets.connect(url(live_server, cast.alice.token)) as alice,
            websockets.connect(url(live_server, cast.bob.token)) as bob,
        ):
            await asyncio.sleep(0.2)
            response = await client.patch(
                f"/api/v1/inboxes/{cast.website.id}",
                json={"team_ids": [billing]},
                headers=cast.ada.headers,
            )
            assert response.status_code == 200
            await post_inbound(client, cast.website, inbound_payload("i1", "layla@example.com"))
            assert "message.created" in [e["type"] for e in await drain(bob)]
            await silence(alice, 0.5)

    async def test_a_desktop_session_is_not_an_api_token(self, client, cast, live_server):
        await login(client, cast.alice)
        session = client.cookies["fd_session"]
        async with websockets.connect(url(live_server, session)) as socket:
            assert await close_code(socket) == 4401

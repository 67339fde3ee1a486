from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import websockets

from tests.conftest import inbound_payload, post_inbound


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

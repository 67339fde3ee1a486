"""The trimmed uvicorn websocket protocol `frontdesk serve` runs (kit/websocket.py)."""

from __future__ import annotations

import asyncio
import json

import pytest
import websockets

from frontdesk.cli import WS_OPTIONS
from frontdesk.kit.websocket import _Gate, _Inbox
from tests.conftest import serve_app
from tests.helpers import Visitor, make_chat, visitor_token


class TestInbox:
    async def test_hands_items_over_in_order(self) -> None:
        inbox = _Inbox()
        assert inbox.empty()
        inbox.put_nowait("a")
        inbox.put_nowait("b")
        assert inbox.qsize() == 2
        assert await inbox.get() == "a"
        assert await inbox.get() == "b"
        assert inbox.empty()

    async def test_a_waiting_reader_wakes_on_put(self) -> None:
        inbox = _Inbox()
        reader = asyncio.ensure_future(inbox.get())
        await asyncio.sleep(0)
        assert not reader.done()
        inbox.put_nowait("frame")
        assert await asyncio.wait_for(reader, 1) == "frame"

    async def test_a_cancelled_reader_leaves_no_waiter_behind(self) -> None:
        inbox = _Inbox()
        reader = asyncio.ensure_future(inbox.get())
        await asyncio.sleep(0)
        reader.cancel()
        with pytest.raises(asyncio.CancelledError):
            await reader
        inbox.put_nowait("next")
        assert await inbox.get() == "next"


class TestGate:
    async def test_writers_wait_while_closed(self) -> None:
        gate = _Gate()
        assert await gate.wait()
        gate.clear()
        writers = [asyncio.ensure_future(gate.wait()) for _ in range(3)]
        await asyncio.sleep(0)
        assert not any(w.done() for w in writers)
        gate.set()
        assert await asyncio.wait_for(asyncio.gather(*writers), 1) == [True, True, True]
        assert gate.is_set()


class TestWidgetSocketOnTheServeProtocol:
    async def test_messages_acks_and_reconnects(self, client, cast, runtime, app):  # type: ignore[no-untyped-def]
        chat = await make_chat(runtime, cast)
        token = await visitor_token(client, chat)
        async with serve_app(app, **WS_OPTIONS) as address:
            visitor = await Visitor.connect(address, token)
            first = await visitor.say("lean-00001", "through the lean protocol")
            big = "x" * 9_000
            second = await visitor.say("lean-00002", big)
            assert second["message"]["text"] == big
            await visitor.ws.send("not json")
            assert (await visitor.next("error"))["code"] == "invalid_payload"
            await visitor.close()
            again = await Visitor.connect(address, token)
            replayed = await again.drain(0.5)
            assert [m["id"] for m in replayed] == [first["message"]["id"], second["message"]["id"]]
            repeat = await again.say("lean-00001", "through the lean protocol")
            assert repeat["duplicate"] is True
            await again.close()

    async def test_refused_token(self, client, cast, runtime, app):  # type: ignore[no-untyped-def]
        await make_chat(runtime, cast)
        async with serve_app(app, **WS_OPTIONS) as address:
            # Accepted, then closed with a code the widget can read (a refused handshake reaches
            # a browser as a bare 403); nothing else is sent.
            ws = await websockets.connect(f"ws://{address}/widget/ws?token=forged.token")
            with pytest.raises(websockets.exceptions.ConnectionClosed) as closed:
                await ws.recv()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401

    async def test_many_frames_both_ways(self, client, cast, runtime, app):  # type: ignore[no-untyped-def]
        chat = await make_chat(runtime, cast)
        async with serve_app(app, **WS_OPTIONS) as address:
            visitor = await Visitor.connect(address, await visitor_token(client, chat))
            for n in range(50):
                await visitor.ws.send(json.dumps({"type": "ping", "n": n}))
            pongs = [await visitor.next("pong") for _ in range(50)]
            assert len(pongs) == 50
            await visitor.close()

    async def test_widget_socket_below_a_root_path(self, client, cast, runtime, app):  # type: ignore[no-untyped-def]
        chat = await make_chat(runtime, cast)
        token = await visitor_token(client, chat)
        async with serve_app(app, root_path="/chat", **WS_OPTIONS) as address:
            # Behind a proxy that serves us at /chat and strips it (uvicorn --root-path /chat).
            visitor = await Visitor.connect(address, token)
            ack = await visitor.say("root-00001", "below a root path")
            assert ack["message"]["text"] == "below a root path"
            await visitor.close()

"""The visitor's websocket against a real server, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json

import pytest
import websockets
from sqlalchemy import func, select

from frontdesk.conversations.models import Message
from tests.helpers import Visitor, make_chat, visitor_token


async def count_messages(runtime, text: str) -> int:  # type: ignore[no-untyped-def]
    async with runtime.db.session() as session:
        return int(
            await session.scalar(
                select(func.count()).select_from(Message).where(Message.text == text)
            )
            or 0
        )


class TestVisitorMessages:
    async def test_message_is_acknowledged_once_committed(self, client, cast, runtime, live_server):
        chat = await make_chat(runtime, cast)
        visitor = await Visitor.connect(live_server, await visitor_token(client, chat))
        ack = await visitor.say("client-0001", "Where is my parcel?")
        assert ack["id"] == "client-0001"
        assert ack["message"]["client_id"] == "client-0001"
        assert await count_messages(runtime, "Where is my parcel?") == 1
        await visitor.close()

    async def test_resent_client_id_is_stored_once(self, client, cast, runtime, live_server):
        chat = await make_chat(runtime, cast)
        token = await visitor_token(client, chat)
        visitor = await Visitor.connect(live_server, token)
        first = await visitor.say("client-0002", "only once")
        await visitor.close()
        # The ack was lost (socket cut): the widget resends the same id on reconnect.
        again = await Visitor.connect(live_server, token)
        second = await again.say("client-0002", "only once")
        assert second["message"]["id"] == first["message"]["id"]
        assert await count_messages(runtime, "only once") == 1
        await again.close()

    async def test_two_visitors_with_the_same_client_id_do_not_collide(
        self, client, cast, runtime, live_server
    ):
        chat = await make_chat(runtime, cast)
        one = await Visitor.connect(live_server, await visitor_token(client, chat))
        two = await Visitor.connect(live_server, await visitor_token(client, chat))
        a = await one.say("same-id-0001", "from one")
        b = await two.say("same-id-0001", "from two")
        assert a["message"]["id"] != b["message"]["id"]
        await one.close()
        await two.close()

    async def test_empty_message_is_refused(self, client, cast, runtime, live_server):
        chat = await make_chat(runtime, cast)
        visitor = await Visitor.connect(live_server, await visitor_token(client, chat))
        await visitor.ws.send(json.dumps({"type": "message", "id": "client-0003", "text": " "}))
        error = await visitor.next("error")
        assert error["code"] == "empty_message"
        await visitor.close()


class TestReplies:
    async def test_agent_reply_reaches_the_visitor_live(self, client, cast, runtime, live_server):
        chat = await make_chat(runtime, cast)
        visitor = await Visitor.connect(live_server, await visitor_token(client, chat))
        ack = await visitor.say("client-0010", "hello?")
        conversation_id = await _conversation_of(client, cast, ack["message"]["id"])
        response = await client.post(
            f"/api/v1/conversations/{conversation_id}/messages",
            json={"text": "Hi, Alice here"},
            headers=cast.alice.headers,
        )
        assert response.status_code == 201, response.text
        [message] = await visitor.messages(1)
        assert message["text"] == "Hi, Alice here"
        assert message["author_name"] == "Alice"
        await visitor.close()

    async def test_reconnect_replays_exactly_what_was_missed(
        self, client, cast, runtime, live_server
    ):
        chat = await make_chat(runtime, cast)
        token = await visitor_token(client, chat)
        visitor = await Visitor.connect(live_server, token)
        ack = await visitor.say("client-0011", "first")
        conversation_id = await _conversation_of(client, cast, ack["message"]["id"])
        await visitor.close()
        sent = []
        for n in range(3):
            response = await client.post(
                f"/api/v1/conversations/{conversation_id}/messages",
                json={"text": f"missed {n}"},
                headers=cast.alice.headers,
            )
            sent.append(response.json()["id"])
        since = ack["message"]["id"]
        back = await Visitor.connect(live_server, token, since=since)
        replayed = await back.drain()
        # Everything after `since` exactly once, in order; the last seconds' messages may be
        # repeated below `since` (a late commit can carry a smaller id) — the widget dedupes.
        assert [m["id"] for m in replayed if m["id"] > since] == sent
        assert all(m["id"] == since for m in replayed if m["id"] <= since)
        await back.close()

    async def test_read_receipt_marks_replies_read(self, client, cast, runtime, live_server):
        chat = await make_chat(runtime, cast)
        visitor = await Visitor.connect(live_server, await visitor_token(client, chat))
        ack = await visitor.say("client-0012", "hi")
        conversation_id = await _conversation_of(client, cast, ack["message"]["id"])
        reply = await client.post(
            f"/api/v1/conversations/{conversation_id}/messages",
            json={"text": "hello"},
            headers=cast.alice.headers,
        )
        [message] = await visitor.messages(1)
        await visitor.ws.send(json.dumps({"type": "read", "up_to": message["id"]}))
        for _ in range(50):
            got = await client.get(
                f"/api/v1/conversations/{conversation_id}/messages", headers=cast.alice.headers
            )
            statuses = {m["id"]: m["delivery_status"] for m in got.json()["items"]}
            if statuses[reply.json()["id"]] == "read":
                break
            await asyncio.sleep(0.05)
        assert statuses[reply.json()["id"]] == "read"
        await visitor.close()


class TestTokens:
    async def test_forged_token_is_refused(self, client, cast, runtime, live_server):
        await make_chat(runtime, cast)
        with pytest.raises(websockets.exceptions.WebSocketException):
            await Visitor.connect(live_server, "eyJpIjoxfQ.deadbeef")

    async def test_a_token_reaches_only_its_own_conversation(
        self, client, cast, runtime, live_server
    ):
        chat = await make_chat(runtime, cast)
        mallory = await Visitor.connect(live_server, await visitor_token(client, chat))
        victim = await Visitor.connect(live_server, await visitor_token(client, chat))
        ack = await victim.say("client-0020", "my secret order")
        conversation_id = await _conversation_of(client, cast, ack["message"]["id"])
        await client.post(
            f"/api/v1/conversations/{conversation_id}/messages",
            json={"text": "your secret answer"},
            headers=cast.alice.headers,
        )
        await victim.messages(1)
        await mallory.say("client-0021", "hi")
        await mallory.drain(0.3)
        texts = [f["message"]["text"] for f in mallory.frames if "message" in f]
        assert texts == ["hi"]
        await mallory.close()
        await victim.close()

    async def test_a_token_cannot_download_someone_elses_file(
        self, client, cast, runtime, live_server
    ):
        chat = await make_chat(runtime, cast)
        owner = await visitor_token(client, chat)
        other = await visitor_token(client, chat)
        uploaded = await client.post(
            "/widget/api/upload",
            data={"token": owner, "id": "upload-0001"},
            files={"file": ("note.txt", b"private", "text/plain")},
        )
        assert uploaded.status_code == 200, uploaded.text
        file_id = uploaded.json()["message"]["attachments"][0]["id"]
        mine = await client.get(f"/widget/api/attachments/{file_id}?token={owner}")
        assert mine.status_code == 200 and mine.content == b"private"
        theirs = await client.get(f"/widget/api/attachments/{file_id}?token={other}")
        assert theirs.status_code == 404


async def _conversation_of(client, cast, message_id: int) -> int:  # type: ignore[no-untyped-def]
    items = (await client.get("/api/v1/conversations", headers=cast.alice.headers)).json()["items"]
    for item in items:
        got = await client.get(
            f"/api/v1/conversations/{item['id']}/messages", headers=cast.alice.headers
        )
        if any(m["id"] == message_id for m in got.json()["items"]):
            return int(item["id"])
    raise AssertionError("message not found in Alice's conversations")


class TestOrigins:
    async def test_socket_refuses_sites_outside_allowed_origins(
        self, client, cast, runtime, live_server
    ):
        chat = await make_chat(runtime, cast, allowed_origins=["https://shop.example"])
        token = await visitor_token(client, chat)
        with pytest.raises(websockets.exceptions.WebSocketException):
            await websockets.connect(
                f"ws://{live_server}/widget/ws?token={token}",
                origin="https://evil.example",  # type: ignore[arg-type]
            )
        ok = await websockets.connect(
            f"ws://{live_server}/widget/ws?token={token}",
            origin="https://shop.example",  # type: ignore[arg-type]
        )
        assert json.loads(await ok.recv())["type"] == "hello"
        await ok.close()

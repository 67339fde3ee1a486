"""The visitor's websocket against a real server, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json

import pytest
import websockets
from sqlalchemy import func, select
from sqlalchemy import text as sql

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
        assert first["duplicate"] is False
        assert second["duplicate"] is True
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

    async def test_malformed_frames_get_error_frames(self, client, cast, runtime, live_server):
        chat = await make_chat(runtime, cast)
        visitor = await Visitor.connect(live_server, await visitor_token(client, chat))
        await visitor.ws.send("{not json")
        assert (await visitor.next("error"))["code"] == "invalid_payload"
        await visitor.ws.send("[" * 100_000 + "]" * 100_000)  # was a RecursionError
        assert (await visitor.next("error"))["code"] == "invalid_payload"
        await visitor.ws.send(json.dumps({"type": "message", "id": "x", "text": "short id"}))
        error = await visitor.next("error")
        assert error["id"] == "x"
        assert error["code"] == "invalid_payload"
        # The socket is still in service.
        ack = await visitor.say("client-0004", "still here")
        assert ack["message"]["text"] == "still here"
        await visitor.close()


class TestGroupCommit:
    """Visitor messages share commits (the webchat intake); each ack follows its commit."""

    async def test_concurrent_visitors_are_each_stored_once_and_acked(
        self, client, cast, runtime, live_server
    ):
        chat = await make_chat(runtime, cast)
        visitors = [
            await Visitor.connect(live_server, await visitor_token(client, chat)) for _ in range(12)
        ]
        for n, visitor in enumerate(visitors):
            await visitor.ws.send(
                json.dumps({"type": "message", "id": f"burst-{n:04d}", "text": f"burst {n}"})
            )
        acks = await asyncio.gather(*(visitor.next("ack") for visitor in visitors))
        assert [ack["id"] for ack in acks] == [f"burst-{n:04d}" for n in range(12)]
        assert all(ack["duplicate"] is False for ack in acks)
        for n in range(12):
            assert await count_messages(runtime, f"burst {n}") == 1
        for visitor in visitors:
            await visitor.close()

    async def test_repeats_in_one_burst_are_one_message(self, client, cast, runtime, live_server):
        chat = await make_chat(runtime, cast)
        token = await visitor_token(client, chat)
        tabs = [await Visitor.connect(live_server, token) for _ in range(3)]
        frame = json.dumps({"type": "message", "id": "tabs-00001", "text": "from every tab"})
        for tab in tabs:
            await tab.ws.send(frame)
        acks = await asyncio.gather(*(tab.next("ack") for tab in tabs))
        assert len({ack["message"]["id"] for ack in acks}) == 1
        assert sorted(ack["duplicate"] for ack in acks) == [False, True, True]
        assert await count_messages(runtime, "from every tab") == 1
        for tab in tabs:
            await tab.close()

    async def test_a_message_that_fails_alone_is_refused_for_good_and_a_resend_stores_once(
        self, client, cast, runtime, live_server
    ):
        chat = await make_chat(runtime, cast)
        good = await Visitor.connect(live_server, await visitor_token(client, chat))
        bad = await Visitor.connect(live_server, await visitor_token(client, chat))
        await refuse_text(runtime, "the database says no")
        try:
            await bad.ws.send(
                json.dumps({"type": "message", "id": "fail-0001", "text": "the database says no"})
            )
            await good.ws.send(json.dumps({"type": "message", "id": "fine-0001", "text": "fine"}))
            error = await bad.next("error")
            ack = await good.next("ack")
        finally:
            await accept_text_again(runtime)
        # A batch that held both is rolled back and replayed one by one: the good one is stored.
        assert ack["id"] == "fine-0001"
        assert await count_messages(runtime, "fine") == 1
        assert error["id"] == "fail-0001"
        # It failed alone too, the same way every time: no retry for ever (issue 9).
        assert error["code"] == "not_storable"
        assert error["retry"] is False
        assert await count_messages(runtime, "the database says no") == 0
        # The visitor sends it again once the cause is gone: stored once.
        again = await bad.say("fail-0001", "the database says no")
        assert again["duplicate"] is False
        assert await count_messages(runtime, "the database says no") == 1
        await good.close()
        await bad.close()


async def refuse_text(runtime, text: str) -> None:  # type: ignore[no-untyped-def]
    """A database trigger refuses inserts of one text: a real write failure."""
    async with runtime.db.session() as session:
        if runtime.db.is_postgres:
            await session.execute(
                sql(
                    "CREATE FUNCTION rt_refuse() RETURNS trigger AS $$ BEGIN "
                    f"IF NEW.text = '{text}' THEN RAISE EXCEPTION 'refused'; END IF; "
                    "RETURN NEW; END $$ LANGUAGE plpgsql"
                )
            )
            await session.execute(
                sql(
                    "CREATE TRIGGER rt_refuse BEFORE INSERT ON messages "
                    "FOR EACH ROW EXECUTE FUNCTION rt_refuse()"
                )
            )
        else:
            await session.execute(
                sql(
                    "CREATE TRIGGER rt_refuse BEFORE INSERT ON messages "
                    f"WHEN NEW.text = '{text}' BEGIN SELECT RAISE(ABORT, 'refused'); END"
                )
            )
        await session.commit()


async def accept_text_again(runtime) -> None:  # type: ignore[no-untyped-def]
    async with runtime.db.session() as session:
        await session.execute(
            sql("DROP TRIGGER rt_refuse" + (" ON messages" if runtime.db.is_postgres else ""))
        )
        if runtime.db.is_postgres:
            await session.execute(sql("DROP FUNCTION rt_refuse()"))
        await session.commit()


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
        for _ in range(1200):  # up to 60 s under load
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

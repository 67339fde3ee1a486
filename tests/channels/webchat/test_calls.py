"""Browser calls (WebRTC) over the widget and desk sockets, against a real server, on SQLite
and PostgreSQL: the call on the timeline, signals scoped to the call's conversation and
agent, and the recording's chunked upload and assembly."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from sqlalchemy import select

from frontdesk.channels.webchat import calls, repository
from frontdesk.conversations.models import Attachment, ConversationTag, Message, Tag
from tests.helpers import Chat, Visitor, make_chat, visitor_token
from tests.web.test_desk import login
from tests.web.test_desk_socket import desk_socket, frames

WEBM = b"\x1a\x45\xdf\xa3" + b"\x00" * 200


async def call_row(runtime, call_id: int) -> Message:  # type: ignore[no-untyped-def]
    async with runtime.db.session() as session:
        found = await session.get(Message, call_id)
        await session.commit()
    assert found is not None
    return found


def rtc(frames_: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [f for f in frames_ if f.get("type") == "rtc"]


async def start_call(live_server, client, chat: Chat, media: str = "video") -> tuple[Visitor, int]:  # type: ignore[no-untyped-def]
    visitor = await Visitor.connect(live_server, await visitor_token(client, chat))
    await visitor.say("hello-0001", "Can we talk?")
    await visitor.ws.send(json.dumps({"type": "call", "id": "call-00001", "media": media}))
    started = await visitor.next("call")
    assert started["id"] == "call-00001"
    return visitor, int(started["call_id"])


async def desk_frame(ws, conversation_id: int, call_id: int, data: dict[str, Any]) -> None:  # type: ignore[no-untyped-def]
    await ws.send(
        json.dumps(
            {"type": "rtc", "conversation_id": conversation_id, "call_id": call_id, "data": data}
        )
    )


class TestCallSignalling:
    async def test_a_call_rings_only_agents_who_may_see_its_conversation(
        self, client, cast, runtime, live_server
    ):
        chat = await make_chat(runtime, cast)
        alice = await desk_socket(client, cast.alice, live_server)
        bob = await desk_socket(client, cast.bob, live_server)
        await asyncio.sleep(0.2)
        visitor, call_id = await start_call(live_server, client, chat)
        ring = rtc(await frames(alice))
        assert [f["data"] for f in ring] == [{"kind": "ring", "media": "video", "recorded": False}]
        assert ring[0]["call_id"] == call_id
        assert rtc(await frames(bob, 0.3)) == []  # Bob does not serve the chat inbox
        message = await call_row(runtime, call_id)
        assert message.kind == "call" and message.direction == "inbound"
        assert message.meta["call"]["status"] == "ringing"
        assert message.meta["call"]["media"] == "video"
        for ws in (alice, bob):
            await ws.close()
        await visitor.close()

    async def test_once_answered_signals_go_between_the_visitor_and_that_agent_only(
        self, client, cast, runtime, live_server
    ):
        chat = await make_chat(runtime, cast)
        alice = await desk_socket(client, cast.alice, live_server)
        sara = await desk_socket(client, cast.sara, live_server)
        await asyncio.sleep(0.2)
        visitor, call_id = await start_call(live_server, client, chat)
        other, _ = await start_call(live_server, client, chat, media="audio")
        conversation_id = (await call_row(runtime, call_id)).conversation_id
        await frames(alice)
        await frames(sara)
        await desk_frame(alice, conversation_id, call_id, {"kind": "accept"})
        accepted = await visitor.next("rtc")
        assert accepted["data"] == {"kind": "accept"} and accepted["agent_name"] == "Alice"
        # Sara's page stops ringing; a late accept of hers is refused.
        assert [f["data"]["kind"] for f in rtc(await frames(sara))] == ["taken"]
        await desk_frame(sara, conversation_id, call_id, {"kind": "accept"})
        assert [f["data"] for f in rtc(await frames(sara))] == [{"kind": "fail", "reason": "taken"}]
        # The visitor's offer reaches Alice alone, cleaned of anything but its fields.
        await visitor.ws.send(
            json.dumps(
                {"type": "rtc", "call_id": call_id,
                 "data": {"kind": "offer", "sdp": "v=0 offer", "extra": "<script>"}}
            )
        )  # fmt: skip
        got = rtc(await frames(alice))
        assert [f["data"] for f in got] == [{"kind": "offer", "sdp": "v=0 offer"}]
        assert rtc(await frames(sara, 0.3)) == []
        # Alice's answer reaches this visitor, never the other visitor of the inbox.
        await desk_frame(alice, conversation_id, call_id, {"kind": "answer", "sdp": "v=0 ans"})
        assert (await visitor.next("rtc"))["data"] == {"kind": "answer", "sdp": "v=0 ans"}
        await other.drain(0.3)
        assert rtc(other.frames) == []
        message = await call_row(runtime, call_id)
        assert message.meta["call"]["status"] == "answered"
        assert message.meta["call"]["agent_id"] == cast.alice.id
        for ws in (alice, sara):
            await ws.close()
        await visitor.close()
        await other.close()

    async def test_signals_for_a_call_that_is_not_yours_are_refused(
        self, client, cast, runtime, live_server
    ):
        chat = await make_chat(runtime, cast)
        alice = await desk_socket(client, cast.alice, live_server)
        await asyncio.sleep(0.2)
        visitor, call_id = await start_call(live_server, client, chat)
        other, other_call = await start_call(live_server, client, chat)
        await visitor.ws.send(
            json.dumps({"type": "rtc", "call_id": other_call, "data": {"kind": "hangup"}})
        )
        assert (await visitor.next("error"))["code"] == "unknown_call"
        # An agent's signal for a call they did not answer goes nowhere.
        conversation_id = (await call_row(runtime, call_id)).conversation_id
        await frames(alice)
        await desk_frame(alice, conversation_id, call_id, {"kind": "offer", "sdp": "v=0"})
        assert rtc(await frames(alice)) == [
            {"type": "rtc", "call_id": call_id, "conversation_id": conversation_id,
             "data": {"kind": "fail", "reason": "taken"}}
        ]  # fmt: skip
        await visitor.drain(0.3)
        assert rtc(visitor.frames) == []
        assert (await call_row(runtime, other_call)).meta["call"]["status"] == "ringing"
        await alice.close()
        await visitor.close()
        await other.close()


class TestCallEnds:
    async def test_a_call_hung_up_while_ringing_is_missed_and_needs_a_callback(
        self, client, cast, runtime, live_server
    ):
        chat = await make_chat(runtime, cast)
        alice = await desk_socket(client, cast.alice, live_server)
        await asyncio.sleep(0.2)
        visitor, call_id = await start_call(live_server, client, chat)
        await frames(alice)
        await visitor.ws.send(
            json.dumps(
                {"type": "rtc", "call_id": call_id,
                 "data": {"kind": "fail", "reason": "no_answer"}}
            )
        )  # fmt: skip
        told = rtc(await frames(alice))
        assert [f["data"] for f in told] == [{"kind": "fail", "reason": "no_answer"}]
        message = await call_row(runtime, call_id)
        assert message.meta["call"]["status"] == "missed"
        assert message.meta["call"]["end_reason"] == "no_answer"
        assert message.answered is False
        async with runtime.db.session() as session:
            tags = (
                await session.scalars(
                    select(Tag.name)
                    .join(ConversationTag, ConversationTag.tag_id == Tag.id)
                    .where(ConversationTag.conversation_id == message.conversation_id)
                )
            ).all()
            await session.commit()
        assert "callback" in tags
        await alice.close()
        await visitor.close()

    async def test_the_visitor_leaving_ends_the_call_and_tells_the_agent(
        self, client, cast, runtime, live_server
    ):
        chat = await make_chat(runtime, cast)
        alice = await desk_socket(client, cast.alice, live_server)
        await asyncio.sleep(0.2)
        visitor, call_id = await start_call(live_server, client, chat)
        conversation_id = (await call_row(runtime, call_id)).conversation_id
        await desk_frame(alice, conversation_id, call_id, {"kind": "accept"})
        await visitor.next("rtc")
        await frames(alice)
        await visitor.close()
        told = rtc(await frames(alice, 1.0))
        assert [f["data"] for f in told] == [{"kind": "hangup", "reason": "peer_offline"}]
        message = await call_row(runtime, call_id)
        assert message.meta["call"]["status"] == "ended"
        assert message.meta["call"]["end_reason"] == "peer_offline"
        assert message.meta["call"]["duration_seconds"] >= 0
        assert message.answered is True
        await alice.close()

    async def test_no_agent_online_is_a_clear_refusal(self, client, cast, runtime, live_server):
        chat = await make_chat(runtime, cast)
        visitor = await Visitor.connect(live_server, await visitor_token(client, chat))
        await visitor.ws.send(json.dumps({"type": "call", "id": "call-00001", "media": "video"}))
        refused = await visitor.next("error")
        assert refused["call"] is True and refused["code"] == "no_agent_online"
        await visitor.close()

    async def test_an_inbox_without_calls_refuses_them(self, client, cast, runtime, live_server):
        chat = await make_chat(runtime, cast, calls=False)
        alice = await desk_socket(client, cast.alice, live_server)
        await asyncio.sleep(0.2)
        visitor = await Visitor.connect(live_server, await visitor_token(client, chat))
        await visitor.ws.send(json.dumps({"type": "call", "id": "call-00001", "media": "video"}))
        assert (await visitor.next("error"))["code"] == "calls_disabled"
        await alice.close()
        await visitor.close()


async def answered_recorded_call(client, cast, runtime, live_server):  # type: ignore[no-untyped-def]
    chat = await make_chat(runtime, cast, record_calls=True)
    alice = await desk_socket(client, cast.alice, live_server)
    await asyncio.sleep(0.2)
    visitor, call_id = await start_call(live_server, client, chat)
    conversation_id = (await call_row(runtime, call_id)).conversation_id
    await desk_frame(alice, conversation_id, call_id, {"kind": "accept"})
    await visitor.next("rtc")
    return alice, visitor, call_id


async def put_chunk(client, csrf: str, call_id: int, seq: int, data: bytes, **headers: str):  # type: ignore[no-untyped-def]
    return await client.put(
        f"/desk/calls/{call_id}/recording/{seq}",
        content=data,
        headers={"content-type": "video/webm;codecs=vp8,opus", "x-csrf-token": csrf, **headers},
    )


class TestRecording:
    async def test_chunks_are_kept_once_and_assembled_on_finish(
        self, client, cast, runtime, live_server
    ):
        alice, visitor, call_id = await answered_recorded_call(client, cast, runtime, live_server)
        csrf = await login(client, cast.alice)
        first = await put_chunk(client, csrf, call_id, 0, WEBM)
        assert first.status_code == 200 and first.json() == {"seq": 0, "duplicate": False}
        # A retry of a chunk already kept changes nothing; chunks may arrive out of order.
        again = await put_chunk(client, csrf, call_id, 0, WEBM)
        assert again.json() == {"seq": 0, "duplicate": True}
        assert (await put_chunk(client, csrf, call_id, 2, b"third")).status_code == 200
        assert (await put_chunk(client, csrf, call_id, 1, b"second")).status_code == 200
        done = await client.post(
            f"/desk/calls/{call_id}/recording/finish", headers={"x-csrf-token": csrf}
        )
        assert done.status_code == 200
        recording_id = done.json()["recording"]
        message = await call_row(runtime, call_id)
        assert message.meta["call"]["recording"] == recording_id
        async with runtime.db.session() as session:
            row = await session.get(Attachment, recording_id)
            left = await repository.chunks_of(session, call_id)
            await session.commit()
        assert row is not None and row.message_id == call_id
        assert runtime.blobs.get(row.blob_key) == WEBM + b"second" + b"third"
        assert list(left) == []
        played = await client.get(f"/desk/attachments/{recording_id}")
        assert played.status_code == 200 and played.headers["content-type"] == "video/webm"
        # Closed: a late chunk is refused.
        late = await put_chunk(client, csrf, call_id, 3, b"late")
        assert late.status_code == 409 and late.json()["error"]["code"] == "recording_closed"
        await alice.close()
        await visitor.close()

    async def test_a_first_chunk_of_one_byte_is_kept_as_chromium_sends_it(
        self, client, cast, runtime, live_server
    ):
        # Chromium's MediaRecorder often delivers the WebM magic's first byte (0x1A) alone:
        # refusing it lost the byte and left the recording unplayable.
        alice, visitor, call_id = await answered_recorded_call(client, cast, runtime, live_server)
        csrf = await login(client, cast.alice)
        assert (await put_chunk(client, csrf, call_id, 0, WEBM[:1])).status_code == 200
        assert (await put_chunk(client, csrf, call_id, 1, WEBM[1:])).status_code == 200
        done = await client.post(
            f"/desk/calls/{call_id}/recording/finish", headers={"x-csrf-token": csrf}
        )
        assert done.status_code == 200
        async with runtime.db.session() as session:
            row = await session.get(Attachment, done.json()["recording"])
            await session.commit()
        assert row is not None and runtime.blobs.get(row.blob_key) == WEBM
        await alice.close()
        await visitor.close()

    async def test_only_the_answering_agent_uploads_and_bad_chunks_are_refused(
        self, client, cast, runtime, live_server
    ):
        alice, visitor, call_id = await answered_recorded_call(client, cast, runtime, live_server)
        csrf = await login(client, cast.sara)  # sees the conversation, is not on the call
        refused = await put_chunk(client, csrf, call_id, 0, WEBM)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "not_your_call"
        csrf = await login(client, cast.bob)  # does not see it at all
        assert (await put_chunk(client, csrf, call_id, 0, WEBM)).status_code == 404
        csrf = await login(client, cast.alice)
        assert (await put_chunk(client, "wrong", call_id, 0, WEBM)).status_code == 401
        html = await put_chunk(client, csrf, call_id, 0, WEBM, **{"content-type": "text/html"})
        assert html.status_code == 422 and html.json()["error"]["code"] == "bad_type"
        not_webm = await put_chunk(client, csrf, call_id, 0, b"<html>")
        assert not_webm.status_code == 422
        assert (await put_chunk(client, csrf, call_id, 0, b"\x1aE\x00")).status_code == 422
        big = b"x" * (runtime.settings.call_recording_chunk_bytes + 1)
        assert (await put_chunk(client, csrf, call_id, 1, big)).status_code == 413
        assert (await put_chunk(client, csrf, call_id, -1, WEBM)).status_code == 422
        async with runtime.db.session() as session:
            assert list(await repository.chunks_of(session, call_id)) == []
            await session.commit()
        await alice.close()
        await visitor.close()

    async def test_a_call_that_does_not_record_takes_no_chunks(
        self, client, cast, runtime, live_server
    ):
        chat = await make_chat(runtime, cast)
        alice = await desk_socket(client, cast.alice, live_server)
        await asyncio.sleep(0.2)
        visitor, call_id = await start_call(live_server, client, chat)
        conversation_id = (await call_row(runtime, call_id)).conversation_id
        await desk_frame(alice, conversation_id, call_id, {"kind": "accept"})
        await visitor.next("rtc")
        csrf = await login(client, cast.alice)
        refused = await put_chunk(client, csrf, call_id, 0, WEBM)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "not_recorded"
        await alice.close()
        await visitor.close()

    async def test_uploads_that_stop_are_assembled_after_the_idle_time(
        self, client, cast, runtime, live_server
    ):
        alice, visitor, call_id = await answered_recorded_call(client, cast, runtime, live_server)
        csrf = await login(client, cast.alice)
        await put_chunk(client, csrf, call_id, 0, WEBM)
        await put_chunk(client, csrf, call_id, 1, b"more")
        # The chunks are the blob collector's to keep until assembled.
        async with runtime.db.session() as session:
            [chunk, _] = await repository.chunks_of(session, call_id)
            assert await repository.chunk_blob_keys_in_use(session, [chunk.blob_key, "f" * 64]) == {
                chunk.blob_key
            }
            # Not idle yet: the check looks again later and assembles nothing.
            await calls.assemble_when_idle(
                session, call_id, blobs=runtime.blobs, app=runtime.settings, generation=0
            )
            await session.commit()
        assert (await call_row(runtime, call_id)).meta["call"].get("recording") is None
        idle = runtime.settings.model_copy(update={"call_recording_idle_seconds": 0.001})
        await asyncio.sleep(0.01)
        async with runtime.db.session() as session:
            await calls.assemble_when_idle(
                session, call_id, blobs=runtime.blobs, app=idle, generation=1
            )
            await session.commit()
        call = (await call_row(runtime, call_id)).meta["call"]
        assert call["recording"] is not None
        async with runtime.db.session() as session:
            row = await session.get(Attachment, call["recording"])
            await session.commit()
        assert row is not None and runtime.blobs.get(row.blob_key) == WEBM + b"more"
        await alice.close()
        await visitor.close()


class TestSignalCleaning:
    @pytest.mark.parametrize(
        "data",
        [
            None, "offer", {"kind": "explode"}, {"kind": "offer"}, {"kind": "offer", "sdp": 5},
            {"kind": "offer", "sdp": "x" * (calls.MAX_SDP + 1)}, {"kind": "ice"},
            {"kind": "ice", "candidate": {"candidate": 3}},
        ],
    )  # fmt: skip
    def test_malformed_signals_are_dropped(self, data: Any) -> None:
        assert calls.clean_signal(data) is None

    def test_unknown_reasons_become_a_plain_hangup(self) -> None:
        assert calls.clean_signal({"kind": "hangup", "reason": "<b>"}) == {
            "kind": "hangup",
            "reason": "hangup",
        }


class TestAgentCalls:
    async def test_the_agent_calls_the_visitor_who_accepts(
        self, client, cast, runtime, live_server
    ):
        chat = await make_chat(runtime, cast)
        alice = await desk_socket(client, cast.alice, live_server)
        bob = await desk_socket(client, cast.bob, live_server)
        await asyncio.sleep(0.2)
        visitor = await Visitor.connect(live_server, await visitor_token(client, chat))
        ack = await visitor.say("hello-0001", "Please call me")
        conversation_id = ack["message"]["id"]
        async with runtime.db.session() as session:
            conversation_id = (await session.get(Message, conversation_id)).conversation_id  # type: ignore[union-attr]
            await session.commit()
        # Bob cannot see the conversation: nothing happens.
        await bob.send(
            json.dumps({"type": "call", "conversation_id": conversation_id, "media": "audio"})
        )
        assert await frames(bob, 0.3) == []
        await alice.send(
            json.dumps({"type": "call", "conversation_id": conversation_id, "media": "audio"})
        )
        placed = [f for f in await frames(alice) if f["type"] == "call"]
        assert len(placed) == 1 and placed[0]["media"] == "audio"
        call_id = placed[0]["call_id"]
        ring = await visitor.next("rtc")
        assert ring["call_id"] == call_id and ring["agent_name"] == "Alice"
        assert ring["data"] == {"kind": "ring", "media": "audio", "recorded": False}
        await visitor.ws.send(
            json.dumps({"type": "rtc", "call_id": call_id, "data": {"kind": "accept"}})
        )
        assert [f["data"] for f in rtc(await frames(alice))] == [{"kind": "accept"}]
        message = await call_row(runtime, call_id)
        assert message.direction == "outbound" and message.author_agent_id == cast.alice.id
        assert message.meta["call"]["status"] == "answered"
        # A signal of Alice's call named with another conversation is refused.
        await desk_frame(alice, conversation_id + 1000, call_id, {"kind": "offer", "sdp": "v=0"})
        await desk_frame(alice, conversation_id, call_id, {"kind": "offer", "sdp": "v=0"})
        assert (await visitor.next("rtc"))["data"] == {"kind": "offer", "sdp": "v=0"}
        await visitor.drain(0.3)
        assert len([f for f in rtc(visitor.frames) if f["data"]["kind"] == "offer"]) == 1
        for ws in (alice, bob):
            await ws.close()
        await visitor.close()

"""The generic CTI event API (issue 15 §3): signed call events land as calls on the
customer's timeline, once per PBX call id, and pop the caller on the ringing agent's desk."""

from __future__ import annotations

import asyncio
import json

import httpx
from sqlalchemy import func, select

from frontdesk.conversations.models import Message
from frontdesk.customers.models import Customer
from frontdesk.kit.events import Event
from frontdesk.runtime import Runtime
from tests.channels.cti.conftest import CtiInbox
from tests.conftest import Cast, inbound_payload, post_inbound

CALLER = "+971501234567"


def offered(call_id: str = "1733450000.17", extension: str = "201", **extra: object) -> dict:
    return {"event": "offered", "call_id": call_id, "caller_id": CALLER,
            "extension": extension, **extra}  # fmt: skip


async def give_extension(client: httpx.AsyncClient, cast: Cast, agent_id: int, ext: str) -> None:
    response = await client.patch(
        f"/api/v1/agents/{agent_id}", json={"extension": ext}, headers=cast.ada.headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["extension"] == ext


async def count(runtime: Runtime, model: type) -> int:
    async with runtime.db.session() as session:
        found = await session.scalar(select(func.count()).select_from(model))
        await session.commit()
    return int(found or 0)


async def pops(runtime: Runtime) -> list[dict]:
    async with runtime.db.session() as session:
        rows = await session.scalars(select(Event).where(Event.type == "call.screen_pop"))
        found = [row.payload for row in rows.all()]
        await session.commit()
    return found


class TestExtensions:
    async def test_an_agent_has_one_extension_and_another_cannot_take_it(
        self, client: httpx.AsyncClient, cast: Cast
    ) -> None:
        await give_extension(client, cast, cast.alice.id, "201")
        taken = await client.patch(
            f"/api/v1/agents/{cast.bob.id}", json={"extension": "201"}, headers=cast.ada.headers
        )
        assert taken.status_code == 409
        assert taken.json()["error"]["code"] == "extension_taken"
        bad = await client.patch(
            f"/api/v1/agents/{cast.bob.id}", json={"extension": "20 1\n"}, headers=cast.ada.headers
        )
        assert bad.status_code == 422
        cleared = await client.patch(
            f"/api/v1/agents/{cast.alice.id}", json={"extension": ""}, headers=cast.ada.headers
        )
        assert cleared.json()["extension"] is None


class TestEvents:
    async def test_a_call_lands_on_the_same_customer_as_their_sms(
        self, client: httpx.AsyncClient, cast: Cast, pbx: CtiInbox
    ) -> None:
        earlier = await post_inbound(client, cast.website, inbound_payload("m-1", CALLER))
        assert earlier.status_code == 202
        customer_id = earlier.json()["customer_id"]
        response = await pbx.post(client, offered())
        assert response.status_code == 202, response.text
        assert response.json()["customer_id"] == customer_id
        timeline = await client.get(
            f"/api/v1/customers/{customer_id}/timeline", headers=cast.ada.headers
        )
        calls = [item for item in timeline.json()["items"] if item["kind"] == "call"]
        assert [c["call"]["status"] for c in calls] == ["ringing"]
        assert calls[0]["channel"] == "cti"
        assert calls[0]["call"]["from_number"] == CALLER
        assert calls[0]["call"]["extension"] == "201"

    async def test_answered_then_ended_records_the_agent_and_duration(
        self, client: httpx.AsyncClient, cast: Cast, pbx: CtiInbox
    ) -> None:
        await give_extension(client, cast, cast.alice.id, "201")
        await pbx.post(client, offered(at="2026-12-06T10:00:00Z"))
        answered = await pbx.post(
            client, {**offered(at="2026-12-06T10:00:12Z"), "event": "answered"}
        )
        assert answered.json()["status"] == "answered"
        assert answered.json()["agent_id"] == cast.alice.id
        ended = await pbx.post(client, {**offered(at="2026-12-06T10:03:12Z"), "event": "ended"})
        assert ended.json()["status"] == "ended"
        messages = await client.get(
            f"/api/v1/conversations/{ended.json()['conversation_id']}/messages",
            headers=cast.ada.headers,
        )
        [call] = [m for m in messages.json()["items"] if m["kind"] == "call"]
        assert call["call"]["status"] == "ended"
        assert call["call"]["duration_seconds"] == 180
        assert call["call"]["agent_id"] == cast.alice.id
        assert call["call"]["wait_seconds"] is not None

    async def test_a_call_ended_unanswered_is_missed_and_wants_a_callback(
        self, client: httpx.AsyncClient, cast: Cast, pbx: CtiInbox
    ) -> None:
        await pbx.post(client, offered())
        ended = await pbx.post(client, {**offered(), "event": "ended"})
        assert ended.json()["status"] == "missed"
        conversation = await client.get(
            f"/api/v1/conversations/{ended.json()['conversation_id']}", headers=cast.ada.headers
        )
        assert "callback" in conversation.json()["tags"]
        # A late "answered" does not bring it back.
        late = await pbx.post(client, {**offered(), "event": "answered"})
        assert late.json()["status"] == "missed"
        assert late.json()["duplicate"] is True

    async def test_a_transfer_pops_the_new_extension_and_moves_the_call(
        self, client: httpx.AsyncClient, cast: Cast, runtime: Runtime, pbx: CtiInbox
    ) -> None:
        await give_extension(client, cast, cast.alice.id, "201")
        await give_extension(client, cast, cast.bob.id, "202")
        await pbx.post(client, offered())
        await pbx.post(client, {**offered(), "event": "answered"})
        moved = await pbx.post(client, {**offered(extension="202"), "event": "transferred"})
        assert moved.json()["agent_id"] == cast.bob.id
        assert [p["agent_id"] for p in await pops(runtime)] == [cast.alice.id, cast.bob.id]

    async def test_an_outbound_call_is_the_agents_call_to_the_customer(
        self, client: httpx.AsyncClient, cast: Cast, pbx: CtiInbox
    ) -> None:
        await give_extension(client, cast, cast.alice.id, "201")
        event = offered(direction="outbound", called="201")
        await pbx.post(client, {**event, "event": "answered"})
        ended = await pbx.post(client, {**event, "event": "ended", "duration_seconds": 61})
        assert ended.json()["status"] == "ended"
        messages = await client.get(
            f"/api/v1/conversations/{ended.json()['conversation_id']}/messages",
            headers=cast.ada.headers,
        )
        [call] = messages.json()["items"]
        assert call["direction"] == "outbound"
        assert call["call"]["to_number"] == CALLER
        assert call["call"]["duration_seconds"] == 61

    async def test_the_ringing_agent_gets_one_screen_pop_per_call(
        self, client: httpx.AsyncClient, cast: Cast, runtime: Runtime, pbx: CtiInbox
    ) -> None:
        await give_extension(client, cast, cast.alice.id, "201")
        for _ in range(3):
            assert (await pbx.post(client, offered())).status_code == 202
        [pop] = await pops(runtime)
        assert pop["agent_id"] == cast.alice.id
        assert pop["from_number"] == CALLER
        assert pop["known"] is False  # a number never seen: the desk offers to complete it

    async def test_a_known_caller_pops_as_known(
        self, client: httpx.AsyncClient, cast: Cast, runtime: Runtime, pbx: CtiInbox
    ) -> None:
        await give_extension(client, cast, cast.alice.id, "201")
        await post_inbound(client, cast.website, inbound_payload("m-1", CALLER))
        await pbx.post(client, offered())
        [pop] = await pops(runtime)
        assert pop["known"] is True

    async def test_concurrent_retries_store_one_call(
        self, client: httpx.AsyncClient, cast: Cast, runtime: Runtime, pbx: CtiInbox
    ) -> None:
        await give_extension(client, cast, cast.alice.id, "201")
        answers = await asyncio.gather(*(pbx.post(client, offered()) for _ in range(8)))
        assert {a.status_code for a in answers} == {202}
        assert len({a.json()["message_id"] for a in answers}) == 1
        assert await count(runtime, Message) == 1
        assert len(await pops(runtime)) == 1

    async def test_a_bad_signature_is_401_and_stores_nothing(
        self, client: httpx.AsyncClient, runtime: Runtime, pbx: CtiInbox
    ) -> None:
        wrong = await pbx.post(client, offered(), secret="not-the-pbx-secret-at-all")
        assert wrong.status_code == 401
        unsigned = await client.post(pbx.path, content=json.dumps(offered()).encode())
        assert unsigned.status_code == 401
        assert await count(runtime, Message) == 0
        assert await count(runtime, Customer) == 0

    async def test_bad_events_are_refused_with_a_clear_422(
        self, client: httpx.AsyncClient, runtime: Runtime, pbx: CtiInbox
    ) -> None:
        for event in (
            {**offered(), "event": "exploded"},
            {**offered(), "caller_id": "not a number"},
            {**offered(), "unknown": 1},
            {**offered(), "extension": "20\r\n1"},
        ):
            response = await pbx.post(client, event)
            assert response.status_code == 422, (event, response.text)
        body = b"{not json"
        response = await client.post(pbx.path, content=body, headers=pbx.headers(body))
        assert response.status_code == 422
        assert await count(runtime, Message) == 0

    async def test_the_signing_secret_is_write_only(
        self, client: httpx.AsyncClient, cast: Cast, pbx: CtiInbox
    ) -> None:
        found = await client.get(f"/api/v1/inboxes/{pbx.id}", headers=cast.ada.headers)
        assert found.status_code == 200
        assert "pbx-signing-secret" not in found.text
        assert found.json()["webhook_url"].endswith(pbx.path)


class TestPoison:
    async def test_poison_events_are_refused_and_never_block_the_good_ones(
        self, client: httpx.AsyncClient, runtime: Runtime, pbx: CtiInbox
    ) -> None:
        """What the shared poison test feeds text channels, in a call event's fields (a call
        has no text): NULs, lone surrogates, oversized and nested values, then a good call."""
        poisons: list[bytes] = [
            json.dumps(offered(caller_id="+97150\x001234")).encode(),
            json.dumps(offered(caller_name="Layla\x00")).encode(),
            b'{"event": "offered", "call_id": "p.1", "caller_id": "+97150\\ud8001234"}',
            json.dumps(offered(call_id="x" * 5000)).encode(),
            json.dumps({**offered(), "caller_id": {"nested": [1, 2, 3]}}).encode(),
            b"[" * 5000 + b"]" * 5000,
            b"\xff\xfe not utf-8",
            b"x" * 20000,
        ]
        for n, body in enumerate(poisons):
            response = await client.post(pbx.path, content=body, headers=pbx.headers(body))
            assert response.status_code in (413, 422), (n, response.status_code, response.text)
        good = await pbx.post(client, offered(call_id="good.1", caller_id="+971509999999"))
        assert good.status_code == 202, good.text
        async with runtime.db.session() as session:
            stored = (await session.scalars(select(Message))).all()
            await session.commit()
        assert [m.external_id for m in stored] == ["good.1"]

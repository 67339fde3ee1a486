"""The generic SMS gateway: mapped JSON in and out, its HMAC both ways, exactly-once
storage, delivery reports, keywords and refusals."""

from __future__ import annotations

import asyncio
import copy
import json
from typing import Any

from sqlalchemy import func, select

from frontdesk.conversations.models import Message
from frontdesk.customers.models import Identity
from tests.channels.sms_gateway.conftest import (
    GatewayInbox,
    create_gateway_inbox,
    deliver,
    fixture,
)
from tests.conftest import run_jobs


async def count(runtime, model) -> int:  # type: ignore[no-untyped-def]
    async with runtime.db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def all_messages(runtime) -> list[Message]:  # type: ignore[no-untyped-def]
    async with runtime.db.session() as session:
        return list((await session.scalars(select(Message).order_by(Message.id))).all())


def incoming(**data: Any) -> dict[str, Any]:
    payload = copy.deepcopy(fixture("incoming"))
    if "msg_id" in data:
        payload["msg_id"] = data.pop("msg_id")
    payload["data"].update(data)
    return payload


async def reply(client, cast, conversation_id: int, text: str = "On its way") -> Any:  # type: ignore[no-untyped-def]
    return await client.post(
        f"/api/v1/conversations/{conversation_id}/messages",
        json={"text": text},
        headers=cast.ada.headers,
    )


class TestSignature:
    async def test_a_bad_hmac_is_401_and_nothing_stored(self, client, operator, runtime):
        body = json.dumps(incoming()).encode()
        response = await client.post(
            operator.hook, content=body, headers=operator.headers(body, secret="z" * 40)
        )
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "bad_signature"
        assert await count(runtime, Message) == 0

    async def test_a_body_changed_after_signing_is_refused(self, client, operator, runtime):
        body = json.dumps(incoming()).encode()
        headers = operator.headers(body)
        response = await client.post(
            operator.hook, content=body.replace(b"Hello", b"Hallo"), headers=headers
        )
        assert response.status_code == 401
        assert await count(runtime, Message) == 0

    async def test_the_shared_inbound_route_refuses_gateway_inboxes(
        self, client, operator, runtime
    ):
        body = json.dumps(incoming()).encode()
        response = await client.post(
            f"/api/v1/inboxes/{operator.id}/inbound", content=body, headers=operator.headers(body)
        )
        assert response.status_code == 401
        assert await count(runtime, Message) == 0


class TestStoring:
    async def test_the_mapping_reads_nested_fields_and_the_region_normalises(
        self, client, operator, runtime
    ):
        response = await deliver(client, operator, incoming())
        assert response.status_code == 200, response.text
        assert response.json()["outcome"] == "stored"
        [message] = await all_messages(runtime)
        assert message.text == "Hello, where is my order?"
        assert message.external_id == message.provider_message_id == "gw-7f3a9c21"
        assert message.meta["sms"]["to"] == "30001234"
        async with runtime.db.session() as session:
            identity = await session.get(Identity, message.identity_id)
            assert identity is not None
            assert (identity.kind, identity.address) == ("phone", "+989123456789")

    async def test_three_concurrent_repeats_are_one_message(self, client, operator, runtime):
        payload = incoming()
        responses = await asyncio.gather(*(deliver(client, operator, payload) for _ in range(3)))
        assert sorted(r.json()["outcome"] for r in responses) == [
            "duplicate",
            "duplicate",
            "stored",
        ]
        assert await count(runtime, Message) == 1

    async def test_arabic_and_persian_round_trip(self, client, operator, runtime, cast, gateway):
        persian = "سلام، سفارش من کی می‌رسد؟"
        await deliver(client, operator, incoming(message=persian))
        [message] = await all_messages(runtime)
        assert message.text == persian
        arabic = "مرحباً، طلبك في الطريق."
        response = await reply(client, cast, message.conversation_id, arabic)
        assert response.status_code == 201, response.text
        await run_jobs(runtime)
        [sent] = gateway.received
        assert sent["message"] == arabic
        # 23 characters: one UCS-2 segment holds 70, so three fit and a fourth does not.
        for times, segments in ((3, 1), (4, 2)):
            counted = await client.get(
                "/api/v1/sms/segments", params={"text": arabic * times}, headers=cast.ada.headers
            )
            assert counted.json()["encoding"] == "UCS-2"
            assert (counted.json()["units"], counted.json()["segments"]) == (23 * times, segments)

    async def test_the_same_number_as_on_twilio_sms_is_one_customer(
        self, client, operator, runtime
    ):
        await deliver(client, operator, incoming(sender="+98 912 345 6789"))
        await deliver(client, operator, incoming(sender="0912 345 6789", msg_id="gw-2"))
        first, second = await all_messages(runtime)
        assert first.identity_id == second.identity_id


class TestMalformed:
    async def test_invalid_json_is_400(self, client, operator, runtime):
        body = b"{not json"
        response = await client.post(operator.hook, content=body, headers=operator.headers(body))
        assert response.status_code == 400
        assert await count(runtime, Message) == 0

    async def test_a_missing_mapped_field_is_422(self, client, operator, runtime):
        payload = incoming()
        del payload["data"]["sender"]
        response = await deliver(client, operator, payload)
        assert response.status_code == 422
        assert "data.sender" in response.json()["error"]["message"]
        assert await count(runtime, Message) == 0

    async def test_a_non_object_body_is_422(self, client, operator, runtime):
        response = await deliver(client, operator, ["a", "list"])  # type: ignore[arg-type]
        assert response.status_code == 422
        assert await count(runtime, Message) == 0


class TestOutbound:
    async def test_reply_is_posted_in_the_mapped_shape_signed(
        self, client, operator, runtime, cast, gateway
    ):
        await deliver(client, operator, incoming())
        [inbound] = await all_messages(runtime)
        response = await reply(client, cast, inbound.conversation_id)
        message_id = response.json()["id"]
        await run_jobs(runtime)
        assert gateway.bad_signatures == 0
        [sent] = gateway.received
        assert sent == {
            "recipient": "+989123456789",
            "message": "On its way",
            "sender": "30001234",
            "client_ref": f"frontdesk-message-{message_id}",
        }
        assert gateway.headers[0]["idempotency-key"] == f"frontdesk-message-{message_id}"
        async with runtime.db.session() as session:
            message = await session.get(Message, message_id)
            assert message is not None
            assert message.delivery_status == "sent"
            assert message.provider_message_id is not None
            assert message.provider_message_id.startswith("gw-out-")

    async def test_a_gateway_refusal_fails_with_its_text(
        self, client, operator, runtime, cast, gateway
    ):
        await deliver(client, operator, incoming())
        [inbound] = await all_messages(runtime)
        gateway.failures.append((400, {"error": {"description": "number barred"}}))
        message_id = (await reply(client, cast, inbound.conversation_id)).json()["id"]
        await run_jobs(runtime)
        async with runtime.db.session() as session:
            message = await session.get(Message, message_id)
            assert message is not None
            assert message.delivery_status == "failed"
            assert message.delivery_error == "400: number barred"

    async def test_a_private_outbound_url_is_refused_in_production(
        self, client, cast, runtime, gateway
    ):
        runtime.settings.allow_private_webhooks = False
        try:
            response = await client.post(
                "/api/v1/inboxes",
                json={"channel": "sms_gateway", "name": "x",
                      "settings": {"outbound_url": "http://127.0.0.1:9/send"}},
                headers=cast.ada.headers,
            )  # fmt: skip
        finally:
            runtime.settings.allow_private_webhooks = True
        assert response.status_code == 422


class TestStatuses:
    async def test_a_report_before_its_message_is_applied_when_it_is_sent(
        self, client, operator, runtime, cast, gateway
    ):
        report = fixture("status")
        early = await deliver(client, operator, report, path="/status")
        assert early.json()["outcome"] == "pending"
        await deliver(client, operator, incoming())
        [inbound] = await all_messages(runtime)
        gateway.failures.append((200, {"result": {"msg_id": report["msg_id"]}}))
        message_id = (await reply(client, cast, inbound.conversation_id)).json()["id"]
        await run_jobs(runtime)
        async with runtime.db.session() as session:
            message = await session.get(Message, message_id)
            assert message is not None
            assert message.delivery_status == "delivered"

    async def test_a_failed_report_carries_the_gateways_code(
        self, client, operator, runtime, cast, gateway
    ):
        await deliver(client, operator, incoming())
        [inbound] = await all_messages(runtime)
        message_id = (await reply(client, cast, inbound.conversation_id)).json()["id"]
        await run_jobs(runtime)
        async with runtime.db.session() as session:
            message = await session.get(Message, message_id)
            assert message is not None
            provider_id = message.provider_message_id
        report = {**fixture("status"), "msg_id": provider_id, "state": "UNDELIV",
                  "err": "34", "err_text": "absent subscriber"}  # fmt: skip
        response = await deliver(client, operator, report, path="/status")
        assert response.json()["outcome"] == "applied"
        async with runtime.db.session() as session:
            message = await session.get(Message, message_id)
            assert message is not None
            assert message.delivery_status == "failed"
            assert message.delivery_error == "34: absent subscriber"

    async def test_an_unmapped_state_is_ignored(self, client, operator, runtime):
        report = {**fixture("status"), "state": "ENROUTE"}
        response = await deliver(client, operator, report, path="/status")
        assert response.json()["outcome"] == "ignored"


class TestOptOut:
    async def test_stop_on_the_gateway_refuses_replies(
        self, client, operator, runtime, cast, gateway
    ):
        await deliver(client, operator, incoming(message="STOP"))
        [inbound] = await all_messages(runtime)
        response = await reply(client, cast, inbound.conversation_id)
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "opted_out"

    async def test_persian_help_gets_the_help_text(self, client, runtime, cast, gateway):
        inbox: GatewayInbox = await create_gateway_inbox(
            client, runtime, cast, gateway, help_text="پشتیبانی: برای لغو «لغو» بفرستید."
        )
        await deliver(client, inbox, incoming(message="راهنما"))
        await run_jobs(runtime)
        [sent] = gateway.received
        assert sent["message"] == "پشتیبانی: برای لغو «لغو» بفرستید."


class TestSettings:
    async def test_the_secret_is_generated_sealed_and_write_only(
        self, client, operator, cast, runtime
    ):
        read = (await client.get(f"/api/v1/inboxes/{operator.id}", headers=cast.ada.headers)).json()
        assert read["settings"]["secret"] == "********"
        assert read["webhook_url"].endswith(f"/webhooks/sms_gateway/{operator.id}")
        assert read["settings"]["inbound_fields"]["from"] == "data.sender"
        assert len(operator.secret) >= 32

    async def test_an_unknown_mapping_key_is_refused(self, client, cast, gateway):
        response = await client.post(
            "/api/v1/inboxes",
            json={"channel": "sms_gateway", "name": "x", "settings": {
                "outbound_url": gateway.url, "inbound_fields": {"sender": "from"}}},
            headers=cast.ada.headers,
        )  # fmt: skip
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "invalid_settings"

"""Replying on another of the customer's channels (issue 10 item 6, ADR 0007): the same
phone on SMS and WhatsApp is one customer, and an agent in the SMS conversation answers on
WhatsApp instead — in the customer's WhatsApp conversation, under WhatsApp's rules."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from frontdesk.conversations.models import Conversation
from frontdesk.kit.events import Event
from tests.channels import fakes
from tests.channels.sms import conftest as sms_kit
from tests.channels.whatsapp import conftest as wa_kit
from tests.conftest import inbound_payload, post_inbound, run_jobs

graph = fakes.graph  # the fixture
twilio = fakes.twilio  # the fixture

PHONE = "+971501234567"  # the SMS fixture's sender
WA_ID = PHONE.lstrip("+")


@pytest.fixture
async def sms(client, runtime, cast, twilio) -> sms_kit.SmsInbox:  # type: ignore[no-untyped-def]
    return await sms_kit.create_sms_inbox(client, runtime, cast, twilio)


@pytest.fixture
async def number(client, runtime, cast, graph) -> wa_kit.Number:  # type: ignore[no-untyped-def]
    return await wa_kit.create_number(client, runtime, cast, graph)


async def sms_conversation(client, cast, sms, body: str = "Where is my order?") -> int:  # type: ignore[no-untyped-def]
    response = await sms_kit.deliver(client, sms, sms_kit.fixture("incoming_sms", Body=body))
    assert response.status_code == 200, response.text
    return await only_conversation(client, cast, sms.id)


async def wa_conversation(client, cast, number, *, hours_ago: float = 0, key: str = "1") -> int:  # type: ignore[no-untyped-def]
    payload = wa_kit.notification(
        "text", id=f"wamid.switch{key}", sender=WA_ID, text="hello on WhatsApp",
        timestamp=wa_kit.now_stamp(hours_ago),
    )  # fmt: skip
    response = await wa_kit.deliver(client, number, payload)
    assert response.status_code == 200, response.text
    return await only_conversation(client, cast, number.id)


async def only_conversation(client, cast, inbox_id: int) -> int:  # type: ignore[no-untyped-def]
    listed = await client.get(
        f"/api/v1/conversations?inbox_id={inbox_id}", headers=cast.ada.headers
    )
    [item] = listed.json()["items"]
    return int(item["id"])


async def post(client, person, conversation_id: int, **body: Any):  # type: ignore[no-untyped-def]
    return await client.post(
        f"/api/v1/conversations/{conversation_id}/messages",
        json={"text": "We can talk here too", **body},
        headers=person.headers,
    )


async def conversations_on(runtime, inbox_id: int) -> int:  # type: ignore[no-untyped-def]
    async with runtime.db.session() as session:
        return int(
            await session.scalar(
                select(func.count())
                .select_from(Conversation)
                .where(Conversation.inbox_id == inbox_id)
            )
            or 0
        )


class TestReplyOnWhatsAppInstead:
    async def test_lands_in_the_customers_whatsapp_conversation_and_reaches_whatsapp(
        self, client, runtime, cast, sms, number, graph
    ):
        on_sms = await sms_conversation(client, cast, sms)
        on_wa = await wa_conversation(client, cast, number)
        response = await post(client, cast.alice, on_sms, channel="whatsapp")
        assert response.status_code == 201, response.text
        sent = response.json()
        assert sent["conversation_id"] == on_wa and sent["channel"] == "whatsapp"
        assert sent["inbox_id"] == number.id and sent["delivery_status"] == "queued"
        await run_jobs(runtime)
        [out] = graph.sent("text")
        assert out["to"] == WA_ID and out["text"]["body"] == "We can talk here too"
        listed = await client.get(
            f"/api/v1/conversations/{on_wa}/messages", headers=cast.ada.headers
        )
        assert listed.json()["items"][-1]["delivery_status"] == "sent"

    async def test_the_switch_is_an_event_in_both_conversations(
        self, client, runtime, cast, sms, number
    ):
        on_sms = await sms_conversation(client, cast, sms)
        on_wa = await wa_conversation(client, cast, number)
        assert (await post(client, cast.alice, on_sms, channel="whatsapp")).status_code == 201
        async with runtime.db.session() as session:
            events = (
                await session.scalars(select(Event).where(Event.type == "conversation.switched"))
            ).all()
        assert sorted(e.conversation_id for e in events) == sorted([on_sms, on_wa])
        for event in events:
            assert event.payload["from_conversation_id"] == on_sms
            assert event.payload["to_conversation_id"] == on_wa
            assert (event.payload["from_channel"], event.payload["to_channel"]) == (
                "sms",
                "whatsapp",
            )

    async def test_a_closed_window_is_refused_with_reply_window_closed_and_opens_nothing(
        self, client, runtime, cast, sms, number, graph
    ):
        on_sms = await sms_conversation(client, cast, sms)
        response = await post(client, cast.alice, on_sms, channel="whatsapp")
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "reply_window_closed"
        assert "template" in response.json()["error"]["message"]
        assert await conversations_on(runtime, number.id) == 0
        await run_jobs(runtime)
        assert graph.sent() == []

    async def test_a_window_closed_a_day_ago_is_refused_too(
        self, client, runtime, cast, sms, number
    ):
        on_sms = await sms_conversation(client, cast, sms)
        await wa_conversation(client, cast, number, hours_ago=25)
        response = await post(client, cast.alice, on_sms, channel="whatsapp")
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "reply_window_closed"

    async def test_a_template_opens_a_whatsapp_conversation_the_customers_answer_joins(
        self, client, runtime, cast, sms, number, graph
    ):
        created = await client.post(
            f"/api/v1/inboxes/{number.id}/templates",
            json={"name": "follow_up", "language": "en", "category": "utility",
                  "body": "Hello, about your order {{1}}"},
            headers=cast.ada.headers,
        )  # fmt: skip
        assert created.status_code == 201, created.text
        on_sms = await sms_conversation(client, cast, sms)
        template = {"name": "follow_up", "language": "en", "parameters": ["A-17"]}
        response = await post(client, cast.alice, on_sms, channel="whatsapp", template=template)
        assert response.status_code == 201, response.text
        opened = response.json()["conversation_id"]
        assert opened != on_sms
        assert await only_conversation(client, cast, number.id) == opened
        await run_jobs(runtime)
        assert [m["template"]["name"] for m in graph.sent("template")] == ["follow_up"]
        # The customer answers on WhatsApp: it threads into the conversation we opened.
        await wa_conversation(client, cast, number, key="answer")
        assert await only_conversation(client, cast, number.id) == opened


class TestTheTargetChannelsRules:
    async def test_an_opt_out_on_sms_refuses_the_switch_with_opted_out(
        self, client, runtime, cast, sms, number, twilio
    ):
        await sms_conversation(client, cast, sms, body="STOP")
        on_wa = await wa_conversation(client, cast, number)
        response = await post(client, cast.alice, on_wa, channel="sms")
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "opted_out"
        await run_jobs(runtime)
        assert [m for m in twilio.sent if m.get("Body") == "We can talk here too"] == []

    async def test_back_to_sms_from_whatsapp_goes_to_the_same_phone(
        self, client, runtime, cast, sms, number, twilio
    ):
        on_sms = await sms_conversation(client, cast, sms)
        on_wa = await wa_conversation(client, cast, number)
        response = await post(client, cast.alice, on_wa, channel="sms")
        assert response.status_code == 201, response.text
        assert response.json()["conversation_id"] == on_sms
        await run_jobs(runtime)
        assert [(m["To"], m["Body"]) for m in twilio.sent] == [(PHONE, "We can talk here too")]

    async def test_no_identity_for_the_channel_is_refused_with_no_identity(
        self, client, runtime, cast, number
    ):
        response = await post_inbound(
            client, cast.website, inbound_payload("m1", "layla@example.com")
        )
        assert response.status_code == 202, response.text
        conversation_id = response.json()["conversation_id"]
        refused = await post(client, cast.alice, conversation_id, channel="whatsapp")
        assert refused.status_code == 422
        assert refused.json()["error"]["code"] == "no_identity"
        assert "phone" in refused.json()["error"]["message"]


class TestWhichInbox:
    async def test_two_inboxes_of_the_channel_need_inbox_id(
        self, client, runtime, cast, sms, number, graph
    ):
        second = await wa_kit.create_number(client, runtime, cast, graph)
        on_sms = await sms_conversation(client, cast, sms)
        await wa_conversation(client, cast, number)
        response = await post(client, cast.alice, on_sms, channel="whatsapp")
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "inbox_required"
        chosen = await post(client, cast.alice, on_sms, channel="whatsapp", inbox_id=number.id)
        assert chosen.status_code == 201, chosen.text
        assert chosen.json()["inbox_id"] == number.id
        # The second number never heard from the customer: its window is not open.
        other = await post(client, cast.alice, on_sms, inbox_id=second.id)
        assert other.status_code == 422
        assert other.json()["error"]["code"] == "reply_window_closed"

    async def test_an_inbox_the_agent_does_not_serve_is_not_offered(
        self, client, runtime, cast, number
    ):
        # Bob serves only the app inbox (Billing): the WhatsApp number is Support's.
        response = await post_inbound(client, cast.app, inbound_payload("m1", PHONE))
        assert response.status_code == 202, response.text
        conversation_id = response.json()["conversation_id"]
        await wa_conversation(client, cast, number)
        refused = await post(client, cast.bob, conversation_id, channel="whatsapp")
        assert refused.status_code == 422
        assert refused.json()["error"]["code"] == "no_inbox"
        named = await post(client, cast.bob, conversation_id, inbox_id=number.id)
        assert named.status_code == 422
        assert named.json()["error"]["code"] == "unknown_inbox"

    async def test_an_inbox_of_another_channel_than_named_is_refused(
        self, client, runtime, cast, sms, number
    ):
        on_sms = await sms_conversation(client, cast, sms)
        response = await post(client, cast.alice, on_sms, channel="telegram", inbox_id=number.id)
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "channel_mismatch"

    async def test_the_own_channel_named_is_an_ordinary_reply(
        self, client, runtime, cast, sms, twilio
    ):
        on_sms = await sms_conversation(client, cast, sms)
        response = await post(client, cast.alice, on_sms, channel="sms", inbox_id=sms.id)
        assert response.status_code == 201, response.text
        assert response.json()["conversation_id"] == on_sms

    async def test_a_deactivated_inboxs_conversation_can_still_be_answered_elsewhere(
        self, client, runtime, cast, sms, number
    ):
        on_sms = await sms_conversation(client, cast, sms)
        on_wa = await wa_conversation(client, cast, number)
        closed = await client.delete(f"/api/v1/inboxes/{sms.id}", headers=cast.ada.headers)
        assert closed.status_code in (200, 204), closed.text
        here = await post(client, cast.alice, on_sms)
        assert here.json()["error"]["code"] == "inbox_inactive"
        elsewhere = await post(client, cast.alice, on_sms, channel="whatsapp")
        assert elsewhere.status_code == 201, elsewhere.text
        assert elsewhere.json()["conversation_id"] == on_wa

"""Replies out through the fake Twilio API: basic auth and the form we send, the sid kept
as provider_message_id, 429 backoff, Twilio's refusals, and opt-outs enforced."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from sqlalchemy import select

from frontdesk.conversations.models import Message
from frontdesk.kit.jobs import Job
from tests.channels.sms.conftest import (
    ACCOUNT_SID,
    OUR_NUMBER,
    FakeTwilio,
    SmsInbox,
    deliver,
    fixture,
)
from tests.conftest import run_jobs

CUSTOMER = "+971501234567"


async def conversation_with_customer(client, sms: SmsInbox, body: str = "hi") -> int:  # type: ignore[no-untyped-def]
    response = await deliver(client, sms, fixture("incoming_sms", Body=body))
    assert response.status_code == 200, response.text
    runtime = client._transport.app.state.runtime  # the app under test
    async with runtime.db.session() as session:
        conversation_id = (await session.scalars(select(Message.conversation_id))).first()
    assert conversation_id is not None
    return int(conversation_id)


async def reply(client, cast, conversation_id: int, **body: Any) -> int:  # type: ignore[no-untyped-def]
    response = await client.post(
        f"/api/v1/conversations/{conversation_id}/messages",
        json={"text": "Your order ships today", **body},
        headers=cast.ada.headers,
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


async def message(runtime, message_id: int) -> Message:  # type: ignore[no-untyped-def]
    async with runtime.db.session() as session:
        row = await session.get(Message, message_id)
        assert row is not None
        return row


async def sent_reply(client, sms, runtime, cast, twilio) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    conversation_id = await conversation_with_customer(client, sms)
    message_id = await reply(client, cast, conversation_id)
    await run_jobs(runtime)
    sent = await message(runtime, message_id)
    assert sent.delivery_status == "sent" and sent.provider_message_id
    return message_id, sent.provider_message_id


class TestSend:
    async def test_reply_is_posted_with_basic_auth_and_keeps_the_sid(
        self, client, sms, runtime, cast, twilio: FakeTwilio
    ):
        conversation_id = await conversation_with_customer(client, sms)
        twilio.next_sids.append("SM" + "a" * 32)
        message_id = await reply(client, cast, conversation_id)
        await run_jobs(runtime)
        assert twilio.bad_auth == 0
        [form] = twilio.sent
        assert form == {
            "To": CUSTOMER,
            "From": OUR_NUMBER,
            "Body": "Your order ships today",
            "StatusCallback": runtime.settings.base_url.rstrip("/") + sms.status_hook,
        }
        sent = await message(runtime, message_id)
        assert (sent.delivery_status, sent.provider_message_id) == ("sent", "SM" + "a" * 32)
        read = (
            await client.get(
                f"/api/v1/conversations/{conversation_id}/messages", headers=cast.ada.headers
            )
        ).json()["items"][-1]
        assert read["provider_message_id"] == "SM" + "a" * 32
        assert read["delivery_status"] == "sent"

    async def test_a_messaging_service_sender_is_sent_as_such(self, client, runtime, cast, twilio):
        from tests.channels.sms.conftest import create_sms_inbox

        inbox = await create_sms_inbox(client, runtime, cast, twilio, from_number="MG" + "b" * 32)
        conversation_id = await conversation_with_customer(client, inbox)
        await reply(client, cast, conversation_id)
        await run_jobs(runtime)
        [form] = twilio.sent
        assert form["MessagingServiceSid"] == "MG" + "b" * 32
        assert "From" not in form

    async def test_arabic_and_persian_replies_round_trip(self, client, sms, runtime, cast, twilio):
        conversation_id = await conversation_with_customer(client, sms, "سلام")
        arabic = "شكراً لتواصلك معنا، طلبك في الطريق."
        persian = "سفارش شما فردا می‌رسد."
        for text in (arabic, persian):
            await reply(client, cast, conversation_id, text=text)
        await run_jobs(runtime)
        assert [form["Body"] for form in twilio.sent] == [arabic, persian]
        segments = await client.get(
            "/api/v1/sms/segments", params={"text": arabic}, headers=cast.ada.headers
        )
        assert segments.json() == {
            "encoding": "UCS-2", "units": len(arabic), "segments": 1, "per_segment": 70,
            "remaining": 70 - len(arabic),
        }  # fmt: skip

    async def test_429_waits_without_spending_an_attempt(self, client, sms, runtime, cast, twilio):
        conversation_id = await conversation_with_customer(client, sms)
        twilio.fail(429, "error_20429", **{"Retry-After": "30"})
        message_id = await reply(client, cast, conversation_id)
        before = time.time()
        await run_jobs(runtime)
        assert (await message(runtime, message_id)).delivery_status == "queued"
        async with runtime.db.session() as session:
            [job] = (
                await session.scalars(select(Job).where(Job.kind == "conversations.deliver"))
            ).all()
        assert job.attempts == 0
        assert job.run_at.timestamp() >= before + 29

    async def test_unsubscribed_recipient_fails_for_good_with_twilios_code(
        self, client, sms, runtime, cast, twilio
    ):
        conversation_id = await conversation_with_customer(client, sms)
        twilio.fail(400, "error_21610")
        message_id = await reply(client, cast, conversation_id)
        await run_jobs(runtime)
        failed = await message(runtime, message_id)
        assert failed.delivery_status == "failed"
        assert failed.delivery_error == "21610: Attempt to send to unsubscribed recipient"
        assert len(twilio.sent) == 1  # not retried

    async def test_a_twilio_server_error_is_retried(self, client, sms, runtime, cast, twilio):
        conversation_id = await conversation_with_customer(client, sms)
        twilio.failures.append((503, {"code": 20500, "message": "Service unavailable"}, {}))
        message_id = await reply(client, cast, conversation_id)
        await run_jobs(runtime)
        # The retry is due once its backoff has passed (at most job_backoff_max_seconds).
        await asyncio.sleep(2 * runtime.settings.job_backoff_max_seconds)
        await run_jobs(runtime)
        assert (await message(runtime, message_id)).delivery_status == "sent"
        assert len(twilio.sent) == 2


class TestOptOut:
    async def test_a_reply_after_stop_is_refused_with_opted_out(
        self, client, sms, runtime, cast, twilio
    ):
        conversation_id = await conversation_with_customer(client, sms, "STOP")
        response = await client.post(
            f"/api/v1/conversations/{conversation_id}/messages",
            json={"text": "But wait"},
            headers=cast.ada.headers,
        )
        assert response.status_code == 409
        error = response.json()["error"]
        assert error["code"] == "opted_out"
        assert CUSTOMER in error["message"] and "START" in error["message"]
        await run_jobs(runtime)
        assert twilio.sent == []

    async def test_start_lets_replies_through_again(self, client, sms, runtime, cast, twilio):
        conversation_id = await conversation_with_customer(client, sms, "توقف")
        await deliver(client, sms, fixture("incoming_sms", MessageSid="SM" + "6" * 32, Body="ابدأ"))
        await reply(client, cast, conversation_id)
        await run_jobs(runtime)
        assert len(twilio.sent) == 1

    async def test_a_stop_that_arrives_after_the_reply_was_queued_fails_it(
        self, client, sms, runtime, cast, twilio
    ):
        conversation_id = await conversation_with_customer(client, sms)
        message_id = await reply(client, cast, conversation_id)
        await deliver(client, sms, fixture("incoming_sms", MessageSid="SM" + "7" * 32, Body="لغو"))
        await run_jobs(runtime)
        failed = await message(runtime, message_id)
        assert failed.delivery_status == "failed"
        assert failed.delivery_error is not None
        assert failed.delivery_error.startswith("opted_out: ")
        assert twilio.sent == []

    async def test_stop_on_sms_does_not_block_another_customer(
        self, client, sms, runtime, cast, twilio
    ):
        await conversation_with_customer(client, sms, "STOP")
        other = fixture("incoming_sms", MessageSid="SM" + "8" * 32, From="+971509999999")
        await deliver(client, sms, other)
        async with runtime.db.session() as session:
            rows = (await session.scalars(select(Message).order_by(Message.id))).all()
        await reply(client, cast, rows[-1].conversation_id)
        await run_jobs(runtime)
        assert [form["To"] for form in twilio.sent] == ["+971509999999"]


class TestAccount:
    async def test_wrong_credentials_are_a_permanent_failure(self, client, runtime, cast, twilio):
        from tests.channels.sms.conftest import create_sms_inbox

        inbox = await create_sms_inbox(client, runtime, cast, twilio, auth_token="w" * 32)
        body, headers = inbox.signed(inbox.hook, fixture("incoming_sms"), token="w" * 32)
        await client.post(inbox.hook, content=body, headers=headers)
        async with runtime.db.session() as session:
            conversation_id = (await session.scalars(select(Message.conversation_id))).first()
        message_id = await reply(client, cast, conversation_id)
        await run_jobs(runtime)
        failed = await message(runtime, message_id)
        assert failed.delivery_status == "failed"
        assert failed.delivery_error == "20003: Authenticate"
        assert twilio.bad_auth == 1
        assert ACCOUNT_SID  # the fake refused our basic auth, as Twilio does

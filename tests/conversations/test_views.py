from __future__ import annotations

import asyncio

from sqlalchemy import select

from frontdesk.conversations.models import Message
from frontdesk.conversations.service import DELIVER_JOB
from frontdesk.kit.jobs import Job
from tests.conftest import WebhookReceiver, inbound_payload, post_inbound, run_jobs, serve_app


async def set_webhook(client, cast, inbox, url):  # type: ignore[no-untyped-def]
    response = await client.patch(
        f"/api/v1/inboxes/{inbox.id}", json={"webhook_url": url}, headers=cast.ada.headers
    )
    assert response.status_code == 200, response.text


async def new_conversation(client, cast, external_id="m1", address="layla@example.com"):  # type: ignore[no-untyped-def]
    response = await post_inbound(client, cast.website, inbound_payload(external_id, address))
    assert response.status_code == 202, response.text
    return response.json()["conversation_id"]


async def run_jobs_until(runtime, done, *, attempts: int = 60) -> None:  # type: ignore[no-untyped-def]
    """Run due jobs until `done()`; retries are backed off, so wait between rounds."""
    for _ in range(attempts):
        await run_jobs(runtime)
        if done():
            return
        await asyncio.sleep(0.06)
    raise AssertionError("condition not reached")


class TestThreading:
    async def test_same_customer_same_inbox_threads_into_open_conversation(self, client, cast):
        first = await new_conversation(client, cast, "t1")
        second = await new_conversation(client, cast, "t2")
        assert first == second

    async def test_explicit_thread_key_opens_its_own_conversation(self, client, cast):
        plain = await new_conversation(client, cast, "t1")
        keyed = await post_inbound(
            client, cast.website, inbound_payload("t2", "layla@example.com", thread="order-1")
        )
        again = await post_inbound(
            client, cast.website, inbound_payload("t3", "layla@example.com", thread="order-1")
        )
        assert keyed.json()["conversation_id"] != plain
        assert again.json()["conversation_id"] == keyed.json()["conversation_id"]

    async def test_after_resolving_a_new_message_opens_a_new_conversation(self, client, cast):
        first = await new_conversation(client, cast, "t1")
        await client.patch(
            f"/api/v1/conversations/{first}",
            json={"status": "resolved"},
            headers=cast.alice.headers,
        )
        second = await new_conversation(client, cast, "t2")
        assert second != first

    async def test_thread_key_reopens_a_resolved_conversation(self, client, cast):
        payload = inbound_payload("t1", "layla@example.com", thread="case-9")
        first = (await post_inbound(client, cast.website, payload)).json()["conversation_id"]
        await client.patch(
            f"/api/v1/conversations/{first}",
            json={"status": "resolved"},
            headers=cast.alice.headers,
        )
        payload = inbound_payload("t2", "layla@example.com", thread="case-9")
        again = (await post_inbound(client, cast.website, payload)).json()["conversation_id"]
        assert again == first
        body = (
            await client.get(f"/api/v1/conversations/{first}", headers=cast.alice.headers)
        ).json()
        assert body["status"] == "open"

    async def test_same_address_on_two_inboxes_is_one_customer(self, client, cast):
        a = await post_inbound(client, cast.website, inbound_payload("x1", "+1 202 555 0143"))
        b = await post_inbound(client, cast.app, inbound_payload("x2", "+12025550143"))
        assert a.json()["customer_id"] == b.json()["customer_id"]
        assert a.json()["conversation_id"] != b.json()["conversation_id"]


class TestReply:
    async def test_reply_is_delivered_signed_with_idempotency_key_and_answers(
        self, client, cast, runtime
    ):
        receiver = WebhookReceiver(secret_for={cast.website.id: cast.website.secret})
        async with serve_app(receiver) as address:
            await set_webhook(client, cast, cast.website, f"http://{address}/hook")
            conversation = await new_conversation(client, cast)
            response = await client.post(
                f"/api/v1/conversations/{conversation}/messages",
                json={"text": "We are on it"},
                headers=cast.alice.headers,
            )
            assert response.status_code == 201, response.text
            reply = response.json()
            assert reply["delivery_status"] == "queued" and reply["direction"] == "outbound"
            messages = await client.get(
                f"/api/v1/conversations/{conversation}/messages", headers=cast.alice.headers
            )
            assert messages.json()["items"][0]["answered"] is False
            # The delivery, and the sentiment of the customer's message.
            assert await run_jobs(runtime) == 2
        key = f"frontdesk-message-{reply['id']}"
        assert receiver.processed[key]["text"] == "We are on it"
        assert receiver.processed[key]["to"] == {"address": "layla@example.com"}
        assert receiver.bad_signatures == 0
        items = (
            await client.get(
                f"/api/v1/conversations/{conversation}/messages", headers=cast.alice.headers
            )
        ).json()["items"]
        assert [m["delivery_status"] for m in items] == ["received", "delivered"]
        assert items[0]["answered"] is True

    async def test_message_after_the_reply_stays_unanswered(self, client, cast, runtime):
        receiver = WebhookReceiver()
        async with serve_app(receiver) as address:
            await set_webhook(client, cast, cast.website, f"http://{address}/hook")
            conversation = await new_conversation(client, cast, "a1")
            await client.post(
                f"/api/v1/conversations/{conversation}/messages",
                json={"text": "reply"},
                headers=cast.alice.headers,
            )
            await new_conversation(client, cast, "a2")
            await run_jobs(runtime)
        timeline = (
            await client.get("/api/v1/customers/1/timeline", headers=cast.alice.headers)
        ).json()["items"]
        assert [(m["text"], m["answered"]) for m in timeline] == [
            ("hello", True),
            ("reply", None),
            ("hello", False),
        ]

    async def test_transient_failures_are_retried_then_delivered(self, client, cast, runtime):
        receiver = WebhookReceiver(fail_first=2)
        async with serve_app(receiver) as address:
            await set_webhook(client, cast, cast.website, f"http://{address}/hook")
            conversation = await new_conversation(client, cast)
            await client.post(
                f"/api/v1/conversations/{conversation}/messages",
                json={"text": "retry me"},
                headers=cast.alice.headers,
            )
            await run_jobs_until(runtime, lambda: bool(receiver.processed))
        assert len(receiver.processed) == 1
        assert len(receiver.requests) == 3
        async with runtime.db.session() as session:
            job = (await session.scalars(select(Job).where(Job.kind == DELIVER_JOB))).one()
        assert job.state == "completed" and job.attempts == 3

    async def test_a_delivery_that_keeps_failing_ends_failed_and_visible(
        self, client, cast, runtime
    ):
        receiver = WebhookReceiver(status=503)
        async with serve_app(receiver) as address:
            await set_webhook(client, cast, cast.website, f"http://{address}/hook")
            conversation = await new_conversation(client, cast)
            await client.post(
                f"/api/v1/conversations/{conversation}/messages",
                json={"text": "doomed"},
                headers=cast.alice.headers,
            )
            await run_jobs_until(
                runtime, lambda: bool(receiver.requests) and len(receiver.requests) >= 3
            )
            async with runtime.db.session() as session:
                job = (await session.scalars(select(Job).where(Job.kind == DELIVER_JOB))).one()
        assert job.state == "failed" and job.attempts == runtime.settings.job_max_attempts
        assert "503" in (job.last_error or "")
        items = (
            await client.get(
                f"/api/v1/conversations/{conversation}/messages", headers=cast.alice.headers
            )
        ).json()["items"]
        assert items[-1]["delivery_status"] == "failed"
        assert "503" in items[-1]["delivery_error"]
        assert items[0]["answered"] is False
        metrics = (await client.get("/metrics")).text
        assert 'frontdesk_jobs{state="failed"} 1' in metrics

    async def test_a_4xx_answer_fails_at_once(self, client, cast, runtime):
        receiver = WebhookReceiver(status=400)
        async with serve_app(receiver) as address:
            await set_webhook(client, cast, cast.website, f"http://{address}/hook")
            conversation = await new_conversation(client, cast)
            await client.post(
                f"/api/v1/conversations/{conversation}/messages",
                json={"text": "refused"},
                headers=cast.alice.headers,
            )
            await run_jobs(runtime)
        assert len(receiver.requests) == 1
        async with runtime.db.session() as session:
            message = (
                await session.scalars(select(Message).where(Message.direction == "outbound"))
            ).one()
        assert message.delivery_status == "failed"

    async def test_private_note_is_not_delivered(self, client, cast, runtime):
        conversation = await new_conversation(client, cast)
        response = await client.post(
            f"/api/v1/conversations/{conversation}/messages",
            json={"text": "customer is VIP", "private": True},
            headers=cast.alice.headers,
        )
        assert response.status_code == 201
        assert await run_jobs(runtime) == 1  # the customer message's sentiment; nothing to send
        notes = await client.get(
            f"/api/v1/conversations/{conversation}/notes", headers=cast.alice.headers
        )
        assert [n["text"] for n in notes.json()] == ["customer is VIP"]

    async def test_empty_reply_is_refused(self, client, cast):
        conversation = await new_conversation(client, cast)
        response = await client.post(
            f"/api/v1/conversations/{conversation}/messages",
            json={"text": "  "},
            headers=cast.alice.headers,
        )
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "empty_message"


class TestUpdate:
    async def test_assign_tag_prioritise(self, client, cast):
        conversation = await new_conversation(client, cast)
        response = await client.patch(
            f"/api/v1/conversations/{conversation}",
            json={"assignee_id": cast.alice.id, "priority": "high", "tags": ["vip", "refund"]},
            headers=cast.alice.headers,
        )
        body = response.json()
        assert (body["assignee_id"], body["priority"], body["tags"]) == (
            cast.alice.id,
            "high",
            ["refund", "vip"],
        )
        mine = await client.get(
            f"/api/v1/conversations?assignee_id={cast.alice.id}", headers=cast.alice.headers
        )
        assert [c["id"] for c in mine.json()["items"]] == [conversation]

    async def test_a_subject_with_a_line_break_is_refused(self, client, cast):
        # It would become a mail header (Subject: ...\r\nBcc: ...).
        conversation = await new_conversation(client, cast)
        for subject in ("Refund\r\nBcc: x@example.com", "Refund\nnow", "nul\x00"):
            response = await client.patch(
                f"/api/v1/conversations/{conversation}",
                json={"subject": subject},
                headers=cast.alice.headers,
            )
            assert response.status_code == 422, response.text
        response = await client.patch(
            f"/api/v1/conversations/{conversation}",
            json={"subject": "استرداد المبلغ"},
            headers=cast.alice.headers,
        )
        assert response.json()["subject"] == "استرداد المبلغ"

    async def test_cannot_assign_an_agent_outside_the_inbox(self, client, cast):
        conversation = await new_conversation(client, cast)
        response = await client.patch(
            f"/api/v1/conversations/{conversation}",
            json={"assignee_id": cast.bob.id},
            headers=cast.alice.headers,
        )
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "invalid_assignee"

    async def test_null_for_a_field_that_has_no_nothing_is_refused(self, client, cast):
        conversation = await new_conversation(client, cast)
        for field in ("status", "priority", "tags"):
            response = await client.patch(
                f"/api/v1/conversations/{conversation}",
                json={field: None},
                headers=cast.alice.headers,
            )
            assert response.status_code == 422, response.text
            assert response.json()["error"]["details"][0]["loc"] == ["body", field]
        still = await client.get(
            f"/api/v1/conversations/{conversation}", headers=cast.alice.headers
        )
        assert (still.json()["status"], still.json()["priority"]) == ("open", "normal")

    async def test_null_unassigns(self, client, cast):
        conversation = await new_conversation(client, cast)
        url = f"/api/v1/conversations/{conversation}"
        await client.patch(url, json={"assignee_id": cast.alice.id}, headers=cast.alice.headers)
        response = await client.patch(
            url, json={"assignee_id": None, "team_id": None}, headers=cast.alice.headers
        )
        assert response.status_code == 200 and response.json()["assignee_id"] is None

    async def test_an_unknown_team_is_refused(self, client, cast):
        conversation = await new_conversation(client, cast)
        response = await client.patch(
            f"/api/v1/conversations/{conversation}",
            json={"team_id": 999_999},
            headers=cast.alice.headers,
        )
        assert response.status_code == 422, response.text
        assert response.json()["error"]["code"] == "unknown_team"

    async def test_snooze_needs_a_time(self, client, cast):
        conversation = await new_conversation(client, cast)
        response = await client.patch(
            f"/api/v1/conversations/{conversation}",
            json={"status": "snoozed"},
            headers=cast.alice.headers,
        )
        assert response.status_code == 422

    async def test_list_is_cursor_paginated(self, client, cast):
        for i in range(5):
            await post_inbound(client, cast.website, inbound_payload(f"p{i}", f"c{i}@example.com"))
        seen: list[int] = []
        cursor = None
        while True:
            url = "/api/v1/conversations?limit=2" + (f"&cursor={cursor}" if cursor else "")
            page = (await client.get(url, headers=cast.alice.headers)).json()
            seen += [c["id"] for c in page["items"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert seen == [5, 4, 3, 2, 1]

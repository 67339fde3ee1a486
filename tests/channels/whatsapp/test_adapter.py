"""Outbound through the fake Graph API: payload shapes with the bearer token, media upload,
buttons, templates, mark-as-read, throttling and refusals; the 24-hour window and templates."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import select

from frontdesk.conversations.models import Message
from frontdesk.kit.jobs import Job
from tests.channels.whatsapp.conftest import deliver, notification, now_stamp
from tests.conftest import run_jobs


async def conversation(client, number, runtime, *, hours_ago: float = 0) -> int:  # type: ignore[no-untyped-def]
    payload = notification("text", timestamp=now_stamp(hours_ago))
    assert (await deliver(client, number, payload)).status_code == 200
    async with runtime.db.session() as session:
        return int((await session.scalars(select(Message.conversation_id))).one())


async def reply(client, cast, conversation_id: int, **body: Any):  # type: ignore[no-untyped-def]
    return await client.post(
        f"/api/v1/conversations/{conversation_id}/messages", json=body, headers=cast.ada.headers
    )


async def add_template(client, cast, number, **body: Any):  # type: ignore[no-untyped-def]
    data = {"name": "order_update", "language": "en_US", "category": "utility",
            "body": "Hello {{1}}, your order {{2}} has shipped.", **body}  # fmt: skip
    return await client.post(
        f"/api/v1/inboxes/{number.id}/templates", json=data, headers=cast.ada.headers
    )


class TestSending:
    async def test_text_goes_to_messages_with_the_bearer_token_and_marks_read(
        self, client, number, runtime, cast, graph_api
    ):
        conversation_id = await conversation(client, number, runtime)
        assert (
            await reply(client, cast, conversation_id, text="Yes, in purple")
        ).status_code == 201
        await run_jobs(runtime)
        [sent] = graph_api.sent("text")
        assert sent == {"messaging_product": "whatsapp", "recipient_type": "individual",
                        "to": "16505551234", "type": "text",
                        "text": {"preview_url": False, "body": "Yes, in purple"}}  # fmt: skip
        [read] = [m for m in graph_api.messages if m.get("status") == "read"]
        assert read["message_id"].startswith("wamid.HBgL")
        assert graph_api.bad_tokens == 0
        async with runtime.db.session() as session:
            message = (
                await session.scalars(select(Message).where(Message.direction == "outbound"))
            ).one()
        assert (message.delivery_status, message.provider_message_id) == ("sent", "wamid.SENT0001")

    async def test_a_file_is_uploaded_then_sent_by_media_id(
        self, client, number, runtime, cast, graph_api
    ):
        conversation_id = await conversation(client, number, runtime)
        upload = await client.post(
            f"/api/v1/conversations/{conversation_id}/uploads",
            files={"file": ("receipt.pdf", b"%PDF-1.4 receipt", "application/pdf")},
            headers=cast.ada.headers,
        )
        assert upload.status_code == 201, upload.text
        response = await reply(
            client, cast, conversation_id, text="Your receipt", attachment_ids=[upload.json()["id"]]
        )
        assert response.status_code == 201, response.text
        await run_jobs(runtime)
        assert graph_api.uploads[0]["data"] == b"%PDF-1.4 receipt"
        [document] = graph_api.sent("document")
        assert document["document"]["filename"] == "receipt.pdf"
        assert document["document"]["id"] == "media-1"

    async def test_buttons_go_as_an_interactive_message(
        self, client, number, runtime, cast, graph_api
    ):
        conversation_id = await conversation(client, number, runtime)
        buttons = [{"id": "yes", "title": "Yes"}, {"id": "no", "title": "No"}]
        response = await reply(
            client, cast, conversation_id, text="Keep the order?", interactive={"buttons": buttons}
        )
        assert response.status_code == 201, response.text
        await run_jobs(runtime)
        [sent] = graph_api.sent("interactive")
        assert sent["interactive"]["type"] == "button"
        assert sent["interactive"]["body"] == {"text": "Keep the order?"}
        assert sent["interactive"]["action"]["buttons"][1] == {
            "type": "reply", "reply": {"id": "no", "title": "No"}
        }  # fmt: skip

    async def test_429_waits_without_spending_an_attempt(
        self, client, number, runtime, cast, graph_api
    ):
        conversation_id = await conversation(client, number, runtime)
        graph_api.fail(429, 130429, "Rate limit hit", retry_after="1")
        await reply(client, cast, conversation_id, text="soon")
        started = time.time()
        await run_jobs(runtime)
        async with runtime.db.session() as session:
            job = (
                await session.scalars(select(Job).where(Job.kind == "conversations.deliver"))
            ).one()
        assert job.state == "available" and job.attempts == 0
        assert 0.5 <= job.run_at.timestamp() - started <= 2.5
        assert graph_api.sent("text") == []

    async def test_a_throttling_code_without_429_also_waits(
        self, client, number, runtime, cast, graph_api
    ):
        conversation_id = await conversation(client, number, runtime)
        graph_api.fail(400, 131056, "(Business Account, Consumer Account) pair rate limit hit")
        await reply(client, cast, conversation_id, text="soon")
        await run_jobs(runtime)
        async with runtime.db.session() as session:
            job = (
                await session.scalars(select(Job).where(Job.kind == "conversations.deliver"))
            ).one()
            message = (
                await session.scalars(select(Message).where(Message.direction == "outbound"))
            ).one()
        assert job.state == "available" and job.attempts == 0
        assert message.delivery_status == "queued"

    async def test_a_refusal_fails_the_message_with_metas_code_and_message(
        self, client, number, runtime, cast, graph_api
    ):
        conversation_id = await conversation(client, number, runtime)
        graph_api.fail(400, 131030, "Recipient phone number not in allowed list")
        await reply(client, cast, conversation_id, text="hello")
        await run_jobs(runtime)
        async with runtime.db.session() as session:
            message = (
                await session.scalars(select(Message).where(Message.direction == "outbound"))
            ).one()
        assert message.delivery_status == "failed"
        assert message.delivery_error == "131030: Recipient phone number not in allowed list"


class TestReplyWindow:
    async def test_free_form_outside_24_hours_is_refused_saying_when_it_closed(
        self, client, number, runtime, cast, graph_api
    ):
        conversation_id = await conversation(client, number, runtime, hours_ago=25)
        response = await reply(client, cast, conversation_id, text="Are you still there?")
        assert response.status_code == 409
        error = response.json()["error"]
        assert error["code"] == "reply_window_closed"
        assert "24-hour reply window closed at" in error["message"]
        assert "templates" in error["message"]
        async with runtime.db.session() as session:
            outbound = (
                await session.scalars(select(Message).where(Message.direction == "outbound"))
            ).all()
        assert outbound == []

    async def test_within_the_window_free_form_is_allowed(self, client, number, runtime, cast):
        conversation_id = await conversation(client, number, runtime, hours_ago=23)
        assert (await reply(client, cast, conversation_id, text="Hi")).status_code == 201

    async def test_an_approved_template_is_sent_outside_the_window(
        self, client, number, runtime, cast, graph_api
    ):
        assert (await add_template(client, cast, number)).status_code == 201
        conversation_id = await conversation(client, number, runtime, hours_ago=30)
        template = {"name": "order_update", "language": "en_US", "parameters": ["Sheena", "A-17"]}
        response = await reply(client, cast, conversation_id, template=template)
        assert response.status_code == 201, response.text
        assert response.json()["text"] == "Hello Sheena, your order A-17 has shipped."
        await run_jobs(runtime)
        [sent] = graph_api.sent("template")
        assert sent["template"] == {
            "name": "order_update",
            "language": {"code": "en_US"},
            "components": [{"type": "body", "parameters": [
                {"type": "text", "text": "Sheena"}, {"type": "text", "text": "A-17"}]}],
        }  # fmt: skip

    async def test_unknown_unapproved_or_misfilled_templates_are_refused(
        self, client, number, runtime, cast
    ):
        await add_template(client, cast, number)
        await add_template(client, cast, number, name="promo", status="pending", body="Sale!")
        conversation_id = await conversation(client, number, runtime, hours_ago=30)
        cases = {
            "unknown_template": {"name": "nope", "language": "en_US"},
            "template_not_approved": {"name": "promo", "language": "en_US"},
            "template_parameters": {"name": "order_update", "language": "en_US",
                                    "parameters": ["only one"]},
        }  # fmt: skip
        for code, template in cases.items():
            response = await reply(client, cast, conversation_id, template=template)
            assert response.status_code == 422, response.text
            assert response.json()["error"]["code"] == code

    async def test_channels_without_a_window_are_not_limited(self, client, runtime, cast):
        from tests.conftest import inbound_payload, post_inbound

        first = await post_inbound(client, cast.website, inbound_payload("x-1", "a@example.com"))
        response = await reply(client, cast, first.json()["conversation_id"], text="any time")
        assert response.status_code == 201


class TestTemplateRegistry:
    async def test_admin_creates_lists_updates_and_deletes(self, client, number, cast):
        created = await add_template(client, cast, number)
        assert created.status_code == 201, created.text
        assert created.json()["parameters"] == 2
        url = f"/api/v1/inboxes/{number.id}/templates"
        listed = (await client.get(url, headers=cast.alice.headers)).json()
        assert [t["name"] for t in listed] == ["order_update"]
        template_id = created.json()["id"]
        patched = await client.patch(
            f"{url}/{template_id}", json={"status": "paused"}, headers=cast.ada.headers
        )
        assert patched.json()["status"] == "paused"
        gone = await client.delete(f"{url}/{template_id}", headers=cast.ada.headers)
        assert gone.status_code == 204
        assert (await client.get(url, headers=cast.ada.headers)).json() == []

    async def test_agents_may_not_change_templates(self, client, number, cast):
        response = await client.post(
            f"/api/v1/inboxes/{number.id}/templates",
            json={"name": "x", "language": "en"},
            headers=cast.alice.headers,
        )
        assert response.status_code == 403

    async def test_a_duplicate_is_409_and_a_bad_name_422(self, client, number, cast):
        await add_template(client, cast, number)
        assert (await add_template(client, cast, number)).status_code == 409
        assert (await add_template(client, cast, number, name="Bad Name")).status_code == 422

    async def test_inboxes_without_templates_refuse_them(self, client, cast):
        response = await client.post(
            f"/api/v1/inboxes/{cast.website.id}/templates",
            json={"name": "x", "language": "en"},
            headers=cast.ada.headers,
        )
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "templates_unsupported"


class TestMarkRead:
    async def test_opening_the_conversation_marks_the_customers_message_read_once(
        self, client, number, runtime, cast, graph_api
    ):
        conversation_id = await conversation(client, number, runtime)
        from tests.web.test_views import csrf_of, log_in  # the desktop's own helpers

        await log_in(client, cast.alice)
        for _ in range(2):
            opened = await client.get(f"/conversations/{conversation_id}")
            assert opened.status_code == 200, opened.text
            await run_jobs(runtime)
            # A GET changes nothing: the page posts that it was opened once it has loaded.
            assert not [m for m in graph_api.messages if m.get("status") == "read"]
        for _ in range(2):
            read = await client.post(
                f"/conversations/{conversation_id}/mentions/read",
                data={"csrf": csrf_of(opened.text)},
            )
            assert read.status_code == 204, read.text
        await run_jobs(runtime)
        reads = [m for m in graph_api.messages if m.get("status") == "read"]
        wamid = "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA="
        assert reads == [{"messaging_product": "whatsapp", "status": "read", "message_id": wamid}]

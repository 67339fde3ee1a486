"""The Graph webhook (verification, signature, exactly-once storage, media, echoes,
statuses, Instagram stories) and replies out through the Send API (window, tag, errors)."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

from sqlalchemy import func, select, update

from frontdesk.conversations.models import Attachment, Message
from frontdesk.customers.models import Identity
from frontdesk.db import utcnow
from frontdesk.kit.jobs import Job
from tests.channels.meta.conftest import PAGE_ID, TOKEN, Page, event, payload
from tests.conftest import run_jobs


async def count(runtime, model) -> int:  # type: ignore[no-untyped-def]
    async with runtime.db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def all_messages(runtime) -> list[Message]:  # type: ignore[no-untyped-def]
    async with runtime.db.session() as session:
        return list((await session.scalars(select(Message).order_by(Message.id))).all())


async def reply(client, cast, conversation_id: int, text: str):  # type: ignore[no-untyped-def]
    return await client.post(
        f"/api/v1/conversations/{conversation_id}/messages",
        json={"text": text},
        headers=cast.ada.headers,
    )


async def age_inbound(runtime, by: timedelta) -> None:  # type: ignore[no-untyped-def]
    async with runtime.db.session() as session:
        await session.execute(
            update(Message).where(Message.direction == "inbound").values(sent_at=utcnow() - by)
        )
        await session.commit()


class TestVerification:
    async def test_subscription_handshake_echoes_the_challenge(self, client, page: Page):
        response = await client.get(
            page.hook,
            params={"hub.mode": "subscribe", "hub.verify_token": page.verify_token,
                    "hub.challenge": "1158201444"},
        )  # fmt: skip
        assert response.status_code == 200
        assert response.text == "1158201444"

    async def test_wrong_verify_token_is_403(self, client, page: Page):
        response = await client.get(
            page.hook,
            params={"hub.mode": "subscribe", "hub.verify_token": "nope-nope",
                    "hub.challenge": "1158201444"},
        )  # fmt: skip
        assert response.status_code == 403

    async def test_bad_signature_is_401_and_nothing_stored(self, client, page: Page, runtime):
        response = await page.deliver(
            client, payload("message_text"), signature="sha256=" + "0" * 64
        )
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "bad_signature"
        assert await count(runtime, Message) == 0

    async def test_missing_signature_is_401(self, client, page: Page, runtime):
        body = json.dumps(payload("message_text")).encode()
        response = await client.post(page.hook, content=body)
        assert response.status_code == 401
        assert await count(runtime, Message) == 0

    async def test_signature_with_another_secret_is_refused(self, client, page: Page, runtime):
        from tests.channels.meta.conftest import sign

        body = json.dumps(payload("message_text")).encode()
        response = await page.deliver(client, body, signature=sign(body, "another-app-secret"))
        assert response.status_code == 401
        assert await count(runtime, Message) == 0


class TestMessages:
    async def test_text_is_stored_with_a_messenger_identity_and_profile(
        self, client, page: Page, runtime, graph
    ):
        graph.profiles["6789012345"] = {"name": "Peter Chang", "profile_pic": "https://x/p.jpg"}
        response = await page.deliver(client, payload("message_text"))
        assert response.status_code == 200, response.text
        assert response.json()["stored"] == 1
        [message] = await all_messages(runtime)
        assert message.text == "hello, world!"
        assert message.provider_message_id == "mid.1457764197618:41d102a3e1ae206a38"
        async with runtime.db.session() as session:
            identity = await session.scalar(select(Identity).where(Identity.kind == "messenger"))
        assert identity is not None and identity.address == "6789012345"
        assert identity.name == "Peter Chang" and identity.picture_url == "https://x/p.jpg"
        assert graph.calls[0][0:2] == ("GET", "6789012345")

    async def test_same_webhook_three_times_concurrently_is_one_message(
        self, client, page: Page, runtime
    ):
        body = json.dumps(payload("message_text")).encode()
        responses = await asyncio.gather(*(page.deliver(client, body) for _ in range(3)))
        assert [r.status_code for r in responses] == [200, 200, 200]
        assert await count(runtime, Message) == 1

    async def test_arabic_and_persian_text_round_trip(
        self, client, page: Page, runtime, cast, graph
    ):
        data = payload("message_text")
        event(data)["message"]["text"] = "مرحبا، طلبي لم يصل — سفارش من کجاست؟"
        assert (await page.deliver(client, data)).status_code == 200
        [message] = await all_messages(runtime)
        assert message.text == "مرحبا، طلبي لم يصل — سفارش من کجاست؟"
        response = await reply(client, cast, message.conversation_id, "سلام، پیگیری می‌کنیم؛ شكراً")
        assert response.status_code == 201, response.text
        await run_jobs(runtime)
        [sent] = graph.sent(f"{PAGE_ID}/messages")
        assert sent["message"]["text"] == "سلام، پیگیری می‌کنیم؛ شكراً"
        assert sent["recipient"] == {"id": "6789012345"}

    async def test_image_is_fetched_from_the_payload_url(self, client, page: Page, runtime, graph):
        graph.files["cat.png"] = ("image/png", b"\x89PNG-data")
        data = payload("message_image")
        event(data)["message"]["attachments"][0]["payload"]["url"] = graph.file_url("cat.png")
        assert (await page.deliver(client, data)).status_code == 200
        async with runtime.db.session() as session:
            [attachment] = (await session.scalars(select(Attachment))).all()
        assert attachment.content_type == "image/png" and attachment.size == len(b"\x89PNG-data")

    async def test_a_file_gone_from_the_cdn_is_noted_not_fatal(
        self, client, page: Page, runtime, graph
    ):
        data = payload("message_image")
        event(data)["message"]["attachments"][0]["payload"]["url"] = graph.file_url("gone.png")
        assert (await page.deliver(client, data)).status_code == 200
        [message] = await all_messages(runtime)
        assert message.meta["missing_files"] == ["image-1"]

    async def test_postback_arrives_as_a_message(self, client, page: Page, runtime):
        assert (await page.deliver(client, payload("postback"))).status_code == 200
        [message] = await all_messages(runtime)
        assert message.text == "Talk to an agent"
        assert message.meta["messenger"]["postback"] == "TALK_TO_AGENT"


class TestMalformed:
    async def test_invalid_json_is_400(self, client, page: Page, runtime):
        response = await page.deliver(client, b"{not json")
        assert response.status_code == 400
        assert await count(runtime, Message) == 0

    async def test_message_without_mid_is_422(self, client, page: Page, runtime):
        data = payload("message_text")
        del event(data)["message"]["mid"]
        response = await page.deliver(client, data)
        assert response.status_code == 422
        assert await count(runtime, Message) == 0

    async def test_comment_without_comment_id_is_422(self, client, page: Page, runtime):
        data = payload("feed_comment")
        del data["entry"][0]["changes"][0]["value"]["comment_id"]
        response = await page.deliver(client, data)
        assert response.status_code == 422
        assert await count(runtime, Message) == 0

    async def test_instagram_object_on_a_messenger_inbox_is_422(self, client, page: Page, runtime):
        response = await page.deliver(client, payload("instagram_story_reply"))
        assert response.status_code == 422
        assert await count(runtime, Message) == 0


class TestEchoes:
    async def test_page_inbox_message_appears_once_as_an_agent_message(
        self, client, page: Page, runtime
    ):
        data = payload("echo")
        for _ in range(2):
            assert (await page.deliver(client, data)).status_code == 200
        [message] = await all_messages(runtime)
        assert message.direction == "outbound" and message.author_kind == "agent"
        assert message.author_agent_id is None
        assert message.meta["messenger"]["source"] == "page_inbox"
        assert message.delivery_status == "sent"

    async def test_echo_of_our_own_message_is_not_stored_twice(
        self, client, page: Page, runtime, cast, graph
    ):
        await page.deliver(client, payload("message_text"))
        [inbound] = await all_messages(runtime)
        await reply(client, cast, inbound.conversation_id, "Thanks, checking.")
        await run_jobs(runtime)
        [sent] = graph.sent(f"{PAGE_ID}/messages")
        ours = (await all_messages(runtime))[1]
        echo = payload("echo")
        event(echo)["message"].update(mid=ours.provider_message_id, text="Thanks, checking.",
                                      metadata=sent["message"]["metadata"])  # fmt: skip
        assert (await page.deliver(client, echo)).status_code == 200
        # Without our metadata (another app), the mid alone recognises it.
        event(echo)["message"]["metadata"] = None
        assert (await page.deliver(client, echo)).status_code == 200
        assert await count(runtime, Message) == 2


class TestStatuses:
    async def _sent(self, client, page, runtime, cast) -> Message:  # type: ignore[no-untyped-def]
        await page.deliver(client, payload("message_text"))
        [inbound] = await all_messages(runtime)
        await reply(client, cast, inbound.conversation_id, "On its way")
        await run_jobs(runtime)
        return (await all_messages(runtime))[1]

    async def test_delivery_lands_on_the_message(self, client, page: Page, runtime, cast):
        ours = await self._sent(client, page, runtime, cast)
        data = payload("delivery")
        event(data)["delivery"]["mids"] = [ours.provider_message_id]
        assert (await page.deliver(client, data)).status_code == 200
        assert (await all_messages(runtime))[1].delivery_status == "delivered"

    async def test_a_delivery_before_its_message_is_kept_and_applied(
        self, client, page: Page, runtime, cast, graph
    ):
        data = payload("delivery")
        event(data)["delivery"]["mids"] = [f"m_{graph.next_id + 1}"]
        assert (await page.deliver(client, data)).status_code == 200
        ours = await self._sent(client, page, runtime, cast)
        assert ours.provider_message_id == f"m_{graph.next_id}"
        assert ours.delivery_status == "delivered"

    async def test_read_watermark_marks_earlier_messages_read(
        self, client, page: Page, runtime, cast
    ):
        await self._sent(client, page, runtime, cast)
        data = payload("read")
        event(data)["read"]["watermark"] = int((utcnow() + timedelta(seconds=5)).timestamp() * 1000)
        assert (await page.deliver(client, data)).status_code == 200
        assert (await all_messages(runtime))[1].delivery_status == "read"

    async def test_an_old_watermark_leaves_later_messages_alone(
        self, client, page: Page, runtime, cast
    ):
        await self._sent(client, page, runtime, cast)
        assert (await page.deliver(client, payload("read"))).status_code == 200  # 2016
        assert (await all_messages(runtime))[1].delivery_status == "sent"


class TestOutbound:
    async def _conversation(self, client, page, runtime) -> int:  # type: ignore[no-untyped-def]
        await page.deliver(client, payload("message_text"))
        return (await all_messages(runtime))[0].conversation_id

    async def test_send_uses_the_page_token_and_our_metadata(
        self, client, page, runtime, cast, graph
    ):
        conversation_id = await self._conversation(client, page, runtime)
        await reply(client, cast, conversation_id, "Hello")
        await run_jobs(runtime)
        [sent] = graph.sent(f"{PAGE_ID}/messages")
        assert sent["messaging_type"] == "RESPONSE"
        assert sent["message"]["metadata"].startswith("frontdesk-message-")
        assert graph.bad_tokens == 0
        assert (await all_messages(runtime))[1].delivery_status == "sent"

    async def test_after_24_hours_the_human_agent_tag_is_used(
        self, client, page, runtime, cast, graph
    ):
        conversation_id = await self._conversation(client, page, runtime)
        await age_inbound(runtime, timedelta(days=2))
        response = await reply(client, cast, conversation_id, "Sorry for the wait")
        assert response.status_code == 201, response.text
        await run_jobs(runtime)
        [sent] = graph.sent(f"{PAGE_ID}/messages")
        assert sent["messaging_type"] == "MESSAGE_TAG" and sent["tag"] == "HUMAN_AGENT"

    async def test_after_7_days_the_reply_is_refused(self, client, page, runtime, cast, graph):
        conversation_id = await self._conversation(client, page, runtime)
        await age_inbound(runtime, timedelta(days=8))
        response = await reply(client, cast, conversation_id, "Too late")
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "reply_window_closed"
        assert await count(runtime, Message) == 1

    async def test_throttling_code_613_waits_without_failing(
        self, client, page, runtime, cast, graph
    ):
        conversation_id = await self._conversation(client, page, runtime)
        graph.fail(400, 613, "Calls to this api have exceeded the rate limit.")
        await reply(client, cast, conversation_id, "Hello")
        await run_jobs(runtime)
        ours = (await all_messages(runtime))[1]
        assert ours.delivery_status == "queued"
        async with runtime.db.session() as session:
            job = await session.scalar(select(Job).where(Job.kind == "conversations.deliver"))
        assert job is not None and job.attempts == 0 and job.run_at > utcnow()

    async def test_http_429_waits_as_asked(self, client, page, runtime, cast, graph):
        conversation_id = await self._conversation(client, page, runtime)
        graph.fail(429, 32, "Page request limit reached", **{"Retry-After": "120"})
        await reply(client, cast, conversation_id, "Hello")
        await run_jobs(runtime)
        async with runtime.db.session() as session:
            job = await session.scalar(select(Job).where(Job.kind == "conversations.deliver"))
        assert job is not None and job.attempts == 0
        assert job.run_at > utcnow() + timedelta(seconds=100)

    async def test_a_refusal_fails_with_code_and_message(self, client, page, runtime, cast, graph):
        conversation_id = await self._conversation(client, page, runtime)
        graph.fail(400, 551, "This person isn't available right now.")
        await reply(client, cast, conversation_id, "Hello")
        await run_jobs(runtime)
        ours = (await all_messages(runtime))[1]
        assert ours.delivery_status == "failed"
        assert ours.delivery_error == "551: This person isn't available right now."

    async def test_an_attachment_is_uploaded_as_filedata(self, client, page, runtime, cast, graph):
        conversation_id = await self._conversation(client, page, runtime)
        upload = await client.post(
            f"/api/v1/conversations/{conversation_id}/uploads",
            files={"file": ("receipt.png", b"\x89PNG-r", "image/png")},
            headers=cast.ada.headers,
        )
        assert upload.status_code == 201, upload.text
        response = await client.post(
            f"/api/v1/conversations/{conversation_id}/messages",
            json={"text": "", "attachment_ids": [upload.json()["id"]]},
            headers=cast.ada.headers,
        )
        assert response.status_code == 201, response.text
        await run_jobs(runtime)
        [sent] = graph.sent(f"{PAGE_ID}/messages")
        assert sent["message"]["attachment"]["type"] == "image"
        assert sent["filedata"]["data"] == b"\x89PNG-r"


class TestInstagram:
    async def test_story_reply_links_the_story(self, client, ig: Page, runtime):
        assert (await ig.deliver(client, payload("instagram_story_reply"))).status_code == 200
        [message] = await all_messages(runtime)
        assert message.text == "love this!"
        assert message.meta["instagram"]["story_reply"] == {
            "id": "17920000000000000", "url": "<STORY_CDN_URL>"}  # fmt: skip
        async with runtime.db.session() as session:
            identity = await session.scalar(select(Identity).where(Identity.kind == "instagram"))
        assert identity is not None and identity.address == "5566778899"

    async def test_story_mention_is_stored_with_its_link(self, client, ig: Page, runtime):
        assert (await ig.deliver(client, payload("instagram_story_mention"))).status_code == 200
        [message] = await all_messages(runtime)
        assert message.text == "[story mention]"
        assert message.meta["instagram"]["story_mention"] == {"url": "<STORY_CDN_URL>"}

    async def test_read_by_mid_marks_that_message_read(self, client, ig: Page, runtime, cast):
        await ig.deliver(client, payload("instagram_story_reply"))
        [message] = await all_messages(runtime)
        await reply(client, cast, message.conversation_id, "Thanks")
        await run_jobs(runtime)
        ours = (await all_messages(runtime))[1]
        data = payload("instagram_story_reply")
        event(data).pop("message")
        event(data)["read"] = {"mid": ours.provider_message_id}
        assert (await ig.deliver(client, data)).status_code == 200
        assert (await all_messages(runtime))[1].delivery_status == "read"

    async def test_replies_go_through_the_send_api(self, client, ig: Page, runtime, cast, graph):
        from tests.channels.meta.conftest import IG_ID

        await ig.deliver(client, payload("instagram_story_reply"))
        [message] = await all_messages(runtime)
        await reply(client, cast, message.conversation_id, "شكراً!")
        await run_jobs(runtime)
        [sent] = graph.sent(f"{IG_ID}/messages")
        assert sent["recipient"] == {"id": "5566778899"} and sent["message"]["text"] == "شكراً!"


class TestSettings:
    async def test_secrets_are_write_only_and_webhook_url_is_given(self, client, page: Page, cast):
        response = await client.get(f"/api/v1/inboxes/{page.id}", headers=cast.ada.headers)
        body = response.json()
        assert body["settings"]["page_access_token"] == "********"
        assert body["settings"]["app_secret"] == "********"
        assert TOKEN not in response.text
        assert body["webhook_url"].endswith(f"/webhooks/meta/{page.id}")

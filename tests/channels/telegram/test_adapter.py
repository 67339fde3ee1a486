"""Replies out through the fake Bot API: sendMessage/sendPhoto, the provider's message id,
429 backoff, and a blocked bot as a clear failure."""

from __future__ import annotations

import json
import time
from typing import Any

from sqlalchemy import select

from frontdesk.conversations.models import Message
from frontdesk.kit.jobs import Job
from tests.channels.telegram.conftest import Bot, FakeBotApi, update
from tests.conftest import run_jobs


async def conversation_with_customer(client, bot: Bot, runtime) -> int:  # type: ignore[no-untyped-def]
    """The customer writes to the bot first (a bot can only answer chats that started)."""
    body = json.dumps(update("message_text", text="hi")).encode()
    response = await client.post(bot.hook, content=body, headers=bot.headers)
    assert response.status_code == 200, response.text
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


class TestSend:
    async def test_reply_is_sent_and_keeps_telegrams_message_id(
        self, client, bot, runtime, cast, bot_api: FakeBotApi
    ):
        conversation_id = await conversation_with_customer(client, bot, runtime)
        message_id = await reply(client, cast, conversation_id)
        await run_jobs(runtime)
        assert bot_api.sent("sendMessage") == [
            {"chat_id": "1111111", "text": "Your order ships today"}
        ]
        sent = await message(runtime, message_id)
        assert sent.delivery_status == "sent"
        assert sent.provider_message_id == f"1111111:{bot_api.next_message_id}"
        read = (
            await client.get(
                f"/api/v1/conversations/{conversation_id}/messages", headers=cast.ada.headers
            )
        ).json()["items"][-1]
        assert read["provider_message_id"] == sent.provider_message_id
        assert bot_api.bad_tokens == 0

    async def test_attachment_goes_as_a_photo(self, client, bot, runtime, cast, bot_api):
        conversation_id = await conversation_with_customer(client, bot, runtime)
        png = b"\x89PNG\r\n\x1a\n" + b"0" * 64
        upload = await client.post(
            f"/api/v1/conversations/{conversation_id}/uploads",
            files={"file": ("map.png", png, "image/png")},
            headers=cast.ada.headers,
        )
        assert upload.status_code == 201, upload.text
        await reply(client, cast, conversation_id, attachment_ids=[upload.json()["id"]])
        await run_jobs(runtime)
        [photo] = bot_api.sent("sendPhoto")
        assert photo["chat_id"] == "1111111"
        assert photo["photo"]["data"] == png and photo["photo"]["filename"] == "map.png"

    async def test_429_waits_for_retry_after_without_spending_an_attempt(
        self, client, bot, runtime, cast, bot_api
    ):
        conversation_id = await conversation_with_customer(client, bot, runtime)
        message_id = await reply(client, cast, conversation_id)
        bot_api.fail("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
        started = time.time()
        await run_jobs(runtime)
        async with runtime.db.session() as session:
            job = (
                await session.scalars(select(Job).where(Job.kind == "conversations.deliver"))
            ).one()
        assert job.state == "available" and job.attempts == 0
        assert 0.8 <= job.run_at.timestamp() - started <= 2.0
        assert (await message(runtime, message_id)).delivery_status == "queued"
        # Not before Telegram's retry_after...
        await run_jobs(runtime)
        assert len(bot_api.sent("sendMessage")) == 1
        # ...and after it, sent.
        await _sleep_until(job.run_at.timestamp())
        await run_jobs(runtime)
        assert len(bot_api.sent("sendMessage")) == 2
        assert (await message(runtime, message_id)).delivery_status == "sent"

    async def test_blocked_bot_fails_with_telegrams_reason(
        self, client, bot, runtime, cast, bot_api
    ):
        conversation_id = await conversation_with_customer(client, bot, runtime)
        message_id = await reply(client, cast, conversation_id)
        bot_api.fail("sendMessage", 403, "Forbidden: bot was blocked by the user")
        await run_jobs(runtime)
        failed = await message(runtime, message_id)
        assert failed.delivery_status == "failed"
        assert failed.delivery_error == "403: Forbidden: bot was blocked by the user"
        assert len(bot_api.sent("sendMessage")) == 1  # permanent: never retried

    async def test_unknown_chat_is_a_permanent_failure(self, client, bot, runtime, cast, bot_api):
        conversation_id = await conversation_with_customer(client, bot, runtime)
        message_id = await reply(client, cast, conversation_id)
        bot_api.fail("sendMessage", 400, "Bad Request: chat not found")
        await run_jobs(runtime)
        failed = await message(runtime, message_id)
        assert (failed.delivery_status, failed.delivery_error) == (
            "failed", "400: Bad Request: chat not found",
        )  # fmt: skip

    async def test_server_error_is_retried(self, client, bot, runtime, cast, bot_api):
        conversation_id = await conversation_with_customer(client, bot, runtime)
        message_id = await reply(client, cast, conversation_id)
        bot_api.fail("sendMessage", 502, "Bad Gateway")
        for _ in range(600):  # up to 30 s and more under load
            await run_jobs(runtime)
            if (await message(runtime, message_id)).delivery_status == "sent":
                break
            await _sleep(0.05)
        assert (await message(runtime, message_id)).delivery_status == "sent"
        assert len(bot_api.sent("sendMessage")) == 2


async def _sleep(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)


async def _sleep_until(timestamp: float) -> None:
    await _sleep(max(timestamp - time.time(), 0) + 0.05)

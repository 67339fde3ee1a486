"""Long polling: getUpdates past the stored offset, under a lease, the offset committed with
what it imported."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from frontdesk.channels.telegram.models import TelegramPoll
from frontdesk.channels.telegram.poller import BotPoll, TelegramPoller
from frontdesk.channels.telegram.service import ProviderUnavailable
from frontdesk.conversations.models import Attachment, Message
from tests.channels.telegram.conftest import FakeBotApi, create_bot, update


async def count(runtime, model) -> int:  # type: ignore[no-untyped-def]
    async with runtime.db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def offset(runtime, inbox_id: int) -> int:  # type: ignore[no-untyped-def]
    async with runtime.db.session() as session:
        poll = await session.get(TelegramPoll, inbox_id)
        return poll.next_offset if poll is not None else -1


@pytest.fixture
async def polling_bot(client, runtime, cast, bot_api):  # type: ignore[no-untyped-def]
    return await create_bot(client, runtime, cast, bot_api, mode="polling")


def three_updates(bot_api: FakeBotApi) -> None:
    bot_api.files["AgADBAADr6cxG_large"] = ("photos/file_1.jpg", b"\xff\xd8\xffjpeg")
    bot_api.updates = [
        update("message_text", update_id=700, text="first"),
        update("message_photo", update_id=701),
        update("edited_message", update_id=702, text="first, edited"),
    ]


class TestPolling:
    async def test_imports_and_advances_the_offset_exactly_once_across_a_restart(
        self, runtime, polling_bot, bot_api
    ):
        three_updates(bot_api)
        first = BotPoll(runtime, polling_bot.id, owner="process-a")
        assert await first.once(timeout=0) == 3
        assert await offset(runtime, polling_bot.id) == 703
        assert await count(runtime, Message) == 2 and await count(runtime, Attachment) == 1
        await first.release()
        # A restart asks Telegram for what comes after the stored offset: nothing again.
        second = BotPoll(runtime, polling_bot.id, owner="process-b")
        assert await second.once(timeout=0) == 0
        assert bot_api.offsets == [0, 703]
        # Even if Telegram sent the same updates again, each is stored once.
        bot_api.ignore_offset = True
        await second.once(timeout=0)
        assert await count(runtime, Message) == 2 and await count(runtime, Attachment) == 1
        async with runtime.db.session() as session:
            texts = (await session.scalars(select(Message.text).order_by(Message.id))).all()
            first_message = (await session.scalars(select(Message).order_by(Message.id))).first()
        assert list(texts) == ["first, edited", "my receipt"]
        assert first_message is not None and len(first_message.meta["versions"]) == 2
        assert await offset(runtime, polling_bot.id) == 703

    async def test_offset_stays_when_the_batch_is_not_stored(self, runtime, polling_bot, bot_api):
        three_updates(bot_api)
        bot_api.fail("getFile", 502, "Bad Gateway")
        poll = BotPoll(runtime, polling_bot.id, owner="process-a")
        with pytest.raises(ProviderUnavailable):
            await poll.once(timeout=0)
        assert await offset(runtime, polling_bot.id) == 0
        assert await count(runtime, Message) == 0
        # Next poll: the same batch again, all of it stored, the offset past it.
        assert await poll.once(timeout=0) == 3
        assert bot_api.offsets == [0, 0]
        assert await offset(runtime, polling_bot.id) == 703

    async def test_one_process_holds_the_lease(self, runtime, polling_bot, bot_api):
        three_updates(bot_api)
        holder = BotPoll(runtime, polling_bot.id, owner="process-a")
        assert await holder.acquire()
        other = BotPoll(runtime, polling_bot.id, owner="process-b")
        assert await other.once(timeout=0) == 0
        assert bot_api.offsets == []  # the other process never called Telegram
        assert await holder.once(timeout=0) == 3

    async def test_skips_a_malformed_update_without_blocking_the_bot(
        self, runtime, polling_bot, bot_api
    ):
        bot_api.updates = [
            {"update_id": 800, "message": {"message_id": 1, "text": "no chat"}},
            update("message_text", update_id=801, message_id=2, text="fine"),
        ]
        poll = BotPoll(runtime, polling_bot.id, owner="process-a")
        assert await poll.once(timeout=0) == 1
        assert await offset(runtime, polling_bot.id) == 802

    async def test_the_runner_polls_bots_in_polling_mode(
        self, client, runtime, cast, polling_bot, bot_api
    ):
        webhook_bot = await create_bot(client, runtime, cast, bot_api)  # never polled
        bot_api.updates = [update("message_text", update_id=900, text="from the runner")]
        poller = TelegramPoller(runtime, name="runner-test")
        await poller.start()
        try:
            for _ in range(1200):  # up to 60 s under load
                if await count(runtime, Message):
                    break
                await asyncio.sleep(0.05)
        finally:
            await poller.stop()
        assert await count(runtime, Message) == 1
        assert set(poller.watchers) == set()  # stopped
        assert await offset(runtime, webhook_bot.id) == -1
        async with runtime.db.session() as session:
            poll = await session.get(TelegramPoll, polling_bot.id)
            assert poll is not None and poll.lease_owner is None  # released on stop

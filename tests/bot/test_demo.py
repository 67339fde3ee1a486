"""`frontdesk demo` / `frontdesk seed`: the bot answers the demo website chat, and the
visitor who is already chatting there has been answered from the demo articles."""

from __future__ import annotations

from sqlalchemy import select

from frontdesk.bot.models import BotConversation
from frontdesk.conversations.models import Message
from frontdesk.inboxes.models import Inbox
from frontdesk.runtime import Runtime
from frontdesk.seed import seed
from tests.conftest import run_jobs


async def test_the_demo_chat_has_the_bot(runtime: Runtime) -> None:
    await seed(runtime, history=False)
    await run_jobs(runtime)
    async with runtime.db.session() as session:
        chat = await session.scalar(select(Inbox).where(Inbox.channel == "webchat"))
        assert chat is not None
        read = await session.scalar(select(BotConversation))
        bot_said = list(
            await session.scalars(
                select(Message.text).where(
                    Message.author_kind == "bot", Message.inbox_id == chat.id
                )
            )
        )
        await session.commit()
    assert read is not None  # the bot took Mina's question
    assert bot_said  # and answered it (an article or an honest hand-off)

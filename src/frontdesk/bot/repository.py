"""All SQL of the bot."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.bot.models import BotConversation, BotInbox
from frontdesk.conversations.models import Conversation, Message
from frontdesk.kit import jobs


async def get_inbox_bot(session: AsyncSession, inbox_id: int) -> BotInbox | None:
    return await session.get(BotInbox, inbox_id)


async def list_inbox_bots(session: AsyncSession) -> list[BotInbox]:
    return list(await session.scalars(select(BotInbox).order_by(BotInbox.inbox_id)))


# Whether the bot is on in any inbox (asked with the commit's other `enabled` checks).
any_enabled = jobs.AnyRow(lambda: select(BotInbox.inbox_id).where(BotInbox.enabled))


async def get_dialogue(session: AsyncSession, conversation_id: int) -> BotConversation | None:
    return await session.get(BotConversation, conversation_id)


async def lock_dialogue(session: AsyncSession, conversation_id: int) -> BotConversation | None:
    """The dialogue, locked for this transaction on PostgreSQL (two jobs of one conversation
    take turns); SQLite's one writer serialises them already."""
    return await session.scalar(
        select(BotConversation)
        .where(BotConversation.conversation_id == conversation_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


async def dialogues_of_customer(session: AsyncSession, customer_id: int) -> list[BotConversation]:
    """The bot's dialogues with the customer's conversations (after a merge too: it follows
    the conversations, not a copy of their customer)."""
    return list(
        await session.scalars(
            select(BotConversation)
            .join(Conversation, Conversation.id == BotConversation.conversation_id)
            .where(Conversation.customer_id == customer_id)
            .order_by(BotConversation.conversation_id)
        )
    )


async def agent_replied(session: AsyncSession, conversation_id: int) -> bool:
    """Whether a person has written to the customer in this conversation."""
    found = await session.scalar(
        select(Message.id)
        .where(
            Message.conversation_id == conversation_id,
            Message.direction == "outbound",
            Message.author_kind == "agent",
        )
        .limit(1)
    )
    return found is not None


async def recent_customer_texts(
    session: AsyncSession, conversation_id: int, *, limit: int
) -> list[str]:
    """The customer's newest messages' texts in this conversation, oldest first."""
    rows = await session.scalars(
        select(Message.text)
        .where(
            Message.conversation_id == conversation_id,
            Message.direction == "inbound",
            Message.author_kind == "customer",
        )
        .order_by(Message.id.desc())
        .limit(limit)
    )
    return list(reversed([text for text in rows if text and text.strip()]))


async def article_ids_sent(session: AsyncSession, customer_id: int) -> set[int]:
    """Articles sent to the customer in any conversation (replies carry `kb_article_id`)."""
    rows = await session.scalars(
        select(Message.meta).where(
            Message.customer_id == customer_id, Message.direction == "outbound"
        )
    )
    return {int(meta["kb_article_id"]) for meta in rows if meta and meta.get("kb_article_id")}


async def help_articles_read(session: AsyncSession, conversation_id: int) -> list[int]:
    """Articles the customer read in the help centre before writing (the contact form)."""
    rows = await session.scalars(
        select(Message.meta)
        .where(Message.conversation_id == conversation_id, Message.direction == "inbound")
        .order_by(Message.id)
    )
    found: list[int] = []
    for meta in rows:
        for article_id in (meta or {}).get("help_articles_read", []):
            if int(article_id) not in found:
                found.append(int(article_id))
    return found

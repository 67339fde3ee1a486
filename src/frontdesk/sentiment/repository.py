"""All SQL of the sentiment domain."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.conversations.models import Message
from frontdesk.sentiment.models import SentimentRule

RULE_ID = 1


async def recent_scores(session: AsyncSession, conversation_id: int, *, limit: int) -> list[float]:
    """Scores of the conversation's newest analysed inbound messages, newest first."""
    # Uses index: ix_messages_conversation (conversation_id, id), read backwards.
    rows = await session.scalars(
        select(Message.sentiment_score)
        .where(
            Message.conversation_id == conversation_id,
            Message.direction == "inbound",
            Message.sentiment_score.is_not(None),
        )
        .order_by(Message.id.desc())
        .limit(limit)
    )
    return [float(score) for score in rows.all() if score is not None]


async def get_rule(session: AsyncSession) -> SentimentRule | None:
    return await session.get(SentimentRule, RULE_ID)

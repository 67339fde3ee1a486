"""All SQL of the sentiment domain."""

from __future__ import annotations

import functools
from collections.abc import Collection
from typing import Any

from sqlalchemy import Integer, bindparam, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.conversations.models import Message
from frontdesk.sentiment.models import SentimentRule

RULE_ID = 1


async def recent_scores(
    session: AsyncSession, conversation_ids: Collection[int], *, limit: int
) -> dict[int, list[tuple[int, float]]]:
    """Per conversation, its newest analysed inbound messages as (message id, score), newest
    first: at most `limit` each, every conversation in one statement."""
    found = await _recent(session, conversation_ids, limit, "sentiment_score")
    return {
        conversation_id: [(message_id, float(score)) for message_id, score in rows]
        for conversation_id, rows in found.items()
    }


async def recent_labels(
    session: AsyncSession, conversation_ids: Collection[int], *, limit: int
) -> dict[int, list[str]]:
    """Per conversation, the labels of its newest analysed inbound messages, oldest first: at
    most `limit` each, every conversation in one statement (the at-risk batch's look)."""
    found = await _recent(session, conversation_ids, limit, "sentiment")
    return {
        conversation_id: [str(label) for _, label in reversed(rows)]
        for conversation_id, rows in found.items()
    }


async def _recent(
    session: AsyncSession, conversation_ids: Collection[int], limit: int, column: str
) -> dict[int, list[tuple[int, Any]]]:
    """(message id, `column`) of each conversation's newest analysed inbound messages, newest
    first."""
    ordered = sorted(conversation_ids)
    found: dict[int, list[tuple[int, Any]]] = {id_: [] for id_ in ordered}
    for start in range(0, len(ordered), _RECENT_CHUNK):
        chunk = ordered[start : start + _RECENT_CHUNK]
        params = {f"c{n}": conversation_id for n, conversation_id in enumerate(chunk)}
        result = await session.execute(_recent_statement(len(chunk), limit, column), params)
        for conversation_id, message_id, value in result.all():
            found[conversation_id].append((message_id, value))
    for rows in found.values():
        rows.sort(key=lambda row: -row[0])
    return found


# Conversations per statement: SQLite allows 500 members in a compound SELECT.
_RECENT_CHUNK = 64


@functools.lru_cache(maxsize=128)
def _recent_statement(conversations: int, limit: int, column: str) -> Any:
    """`_recent`'s statement for this many conversations (parameters c0, c1, ...), built
    once: one UNION ALL member per conversation, each reading ix_messages_conversation
    (conversation_id, id) backwards and stopping after `limit` (a long conversation costs no
    more than a short one; a window function over them would read every message). Built per
    call, its subqueries cost more CPU than running it. Analysed messages have both a score
    and a label, so either column selects the same messages."""
    value = getattr(Message, column)
    parts = [
        select(Message.conversation_id, Message.id, value)
        .where(
            Message.conversation_id == bindparam(f"c{n}", type_=Integer()),
            Message.direction == "inbound",
            value.is_not(None),
        )
        .order_by(Message.id.desc())
        .limit(limit)
        .subquery()
        for n in range(conversations)
    ]
    if len(parts) == 1:
        return select(*parts[0].c)
    return union_all(*(select(*part.c) for part in parts))


async def get_rule(session: AsyncSession) -> SentimentRule | None:
    return await session.get(SentimentRule, RULE_ID)

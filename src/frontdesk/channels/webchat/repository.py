"""All SQL of the webchat channel: visitors and the visitor's view of their messages."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.channels.webchat.models import WebchatVisitor
from frontdesk.conversations.models import Message


async def get_visitor(session: AsyncSession, key: str) -> WebchatVisitor | None:
    return await session.scalar(select(WebchatVisitor).where(WebchatVisitor.key == key))


async def visitor_messages(
    session: AsyncSession,
    *,
    inbox_id: int,
    customer_id: int,
    after: int,
    recent_since: datetime,
    limit: int = 500,
) -> Sequence[Message]:
    """The visitor's messages on this inbox after `after`, plus the last moments' (a message
    committed late can carry a smaller id than one already shown; the widget dedupes by id)."""
    return (
        await session.scalars(
            select(Message)
            .where(
                Message.inbox_id == inbox_id,
                Message.customer_id == customer_id,
                or_(Message.id > after, Message.created_at >= recent_since),
            )
            .order_by(Message.id)
            .limit(limit)
        )
    ).all()


async def unread_outbound(
    session: AsyncSession, *, inbox_id: int, customer_id: int, up_to: int
) -> Sequence[Message]:
    return (
        await session.scalars(
            select(Message)
            .where(
                Message.inbox_id == inbox_id,
                Message.customer_id == customer_id,
                Message.direction == "outbound",
                Message.id <= up_to,
                Message.delivery_status.in_(("queued", "sent", "delivered")),
            )
            .order_by(Message.id)
        )
    ).all()

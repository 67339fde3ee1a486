"""The append-only event log. Every event carries the sequence clients resume from."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, String, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from frontdesk.db import Base, UTCDateTime, utcnow

PENDING_EVENTS = "frontdesk.pending_events"


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (
        # Uses index: a conversation's activity log, and a customer's (merges).
        Index("ix_events_conversation", "conversation_id", "sequence"),
        Index("ix_events_customer", "customer_id", "sequence"),
        {"sqlite_autoincrement": True},
    )

    sequence: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    type: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Visibility: an event about an inbox is seen by whoever may see that inbox;
    # an event without one (merges, admin changes) only by supervisors and admins.
    inbox_id: Mapped[int | None] = mapped_column(index=True)
    conversation_id: Mapped[int | None]
    customer_id: Mapped[int | None]
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    def as_message(self) -> dict[str, Any]:
        return event_message(
            sequence=self.sequence,
            type=self.type,
            at=self.at,
            inbox_id=self.inbox_id,
            conversation_id=self.conversation_id,
            customer_id=self.customer_id,
            payload=self.payload,
        )


def event_message(
    *,
    sequence: int,
    type: str,
    at: datetime,
    inbox_id: int | None,
    conversation_id: int | None,
    customer_id: int | None,
    payload: dict[str, Any],
) -> dict[str, Any]:
    """An event as clients get it (the bus, /api/v1/events, webhooks)."""
    return {
        "sequence": sequence,
        "type": type,
        "at": at.isoformat(),
        "inbox_id": inbox_id,
        "conversation_id": conversation_id,
        "customer_id": customer_id,
        "payload": payload,
    }


def record(
    session: AsyncSession,
    type: str,
    payload: dict[str, Any],
    *,
    inbox_id: int | None = None,
    conversation_id: int | None = None,
    customer_id: int | None = None,
) -> None:
    """Queue an event; it is written just before this transaction commits (kit.uow.commit)."""
    session.info.setdefault(PENDING_EVENTS, []).append(
        {
            "type": type,
            "payload": payload,
            "inbox_id": inbox_id,
            "conversation_id": conversation_id,
            "customer_id": customer_id,
            "at": utcnow(),
        }
    )


async def list_after(
    session: AsyncSession, since: int, *, inbox_ids: set[int] | None, limit: int = 500
) -> list[Event]:
    """Events after `since`, oldest first; `inbox_ids=None` means the caller sees everything."""
    query = select(Event).where(Event.sequence > since).order_by(Event.sequence).limit(limit)
    if inbox_ids is not None:
        query = query.where(
            or_(and_(Event.inbox_id.is_not(None), Event.inbox_id.in_(inbox_ids or {-1})))
        )
    return list((await session.scalars(query)).all())


async def last_sequence(session: AsyncSession) -> int:
    value = await session.scalar(select(Event.sequence).order_by(Event.sequence.desc()).limit(1))
    return int(value or 0)

"""Analytics SQL: aggregates only (a report never fetches rows one by one)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Integer, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.conversations.models import Conversation
from frontdesk.inboxes.models import Inbox
from frontdesk.routing.models import RoutingTask


def _hour_of_week(
    session: AsyncSession, column: Any
) -> tuple[ColumnElement[int], ColumnElement[int]]:
    """(weekday with Sunday = 0, hour) of a UTC timestamp, on either database."""
    if session.get_bind().dialect.name == "postgresql":
        utc = func.timezone("UTC", column)
        return (
            cast(func.extract("dow", utc), Integer),
            cast(func.extract("hour", utc), Integer),
        )
    # SQLite keeps UTCDateTime as naive UTC text, which strftime reads as UTC.
    return (
        cast(func.strftime("%w", column), Integer),
        cast(func.strftime("%H", column), Integer),
    )


async def arrivals_by_hour_of_week(
    session: AsyncSession, *, since: datetime, until: datetime
) -> list[tuple[str, int, int, int]]:
    """(channel, weekday Monday = 0, hour, new conversations) started in [since, until), UTC.
    Uses index: ix_conversations_created_inbox (a range scan of the window only)."""
    dow, hour = _hour_of_week(session, Conversation.created_at)
    query = (
        select(Inbox.channel, dow, hour, func.count())
        .select_from(Conversation)
        .join(Inbox, Inbox.id == Conversation.inbox_id)
        .where(Conversation.created_at >= since, Conversation.created_at < until)
        .group_by(Inbox.channel, dow, hour)
    )
    rows = (await session.execute(query)).all()
    return [(channel, (int(d) + 6) % 7, int(h), int(n)) for channel, d, h, n in rows]


async def handle_times(
    session: AsyncSession, *, since: datetime, until: datetime, cap_seconds: float
) -> dict[str, tuple[float, int]]:
    """channel → (mean seconds from an agent accepting a conversation's task to completing
    it, each capped at `cap_seconds`; tasks counted) for tasks completed in [since, until).
    Uses index: ix_routing_tasks_completed."""
    if session.get_bind().dialect.name == "postgresql":
        spent: ColumnElement[Any] = func.extract(
            "epoch", RoutingTask.completed_at - RoutingTask.accepted_at
        )
        capped = func.least(func.greatest(spent, 0), cap_seconds)
    else:
        spent = (
            func.julianday(RoutingTask.completed_at) - func.julianday(RoutingTask.accepted_at)
        ) * 86400.0
        capped = func.min(func.max(spent, 0), cap_seconds)  # SQLite's scalar min/max
    query = (
        select(RoutingTask.channel, func.avg(capped), func.count())
        .where(
            RoutingTask.type == "conversation",
            RoutingTask.completed_at >= since,
            RoutingTask.completed_at < until,
            RoutingTask.accepted_at.is_not(None),
        )
        .group_by(RoutingTask.channel)
    )
    rows = (await session.execute(query)).all()
    return {channel: (float(mean), int(count)) for channel, mean, count in rows}

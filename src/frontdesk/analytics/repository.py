"""Analytics SQL: aggregates only (a report never fetches rows one by one)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.conversations.models import Conversation, Message
from frontdesk.inboxes.models import Inbox
from frontdesk.routing.models import RoutingTask
from frontdesk.sla.models import SlaCalendar, SlaPolicy


async def arrivals_by_hour_of_week(
    session: AsyncSession, *, since: datetime, until: datetime, zone: ZoneInfo | None = None
) -> list[tuple[str, int, int, int]]:
    """(channel, weekday Monday = 0, hour, new conversations) started in [since, until),
    by the local hour of the week in `zone` (default UTC). The database counts per UTC hour
    (at most 168 rows a week per channel); each hour is turned into local time here, so
    a DST change moves the hours exactly as the clocks on the wall do, on either database.
    Uses index: ix_conversations_created_inbox (a range scan of the window only)."""
    if session.get_bind().dialect.name == "postgresql":
        hour: ColumnElement[Any] = func.date_trunc(
            "hour", func.timezone("UTC", Conversation.created_at)
        )
    else:
        hour = func.strftime("%Y-%m-%d %H:00:00", Conversation.created_at)
    query = (
        select(Inbox.channel, hour, func.count())
        .select_from(Conversation)
        .join(Inbox, Inbox.id == Conversation.inbox_id)
        .where(Conversation.created_at >= since, Conversation.created_at < until)
        .group_by(Inbox.channel, hour)
    )
    counts: dict[tuple[str, int, int], int] = {}
    for channel, at, n in (await session.execute(query)).all():
        moment = at if isinstance(at, datetime) else datetime.fromisoformat(str(at))
        local = moment.replace(tzinfo=UTC).astimezone(zone or UTC)
        key = (channel, local.weekday(), local.hour)
        counts[key] = counts.get(key, 0) + int(n)
    return [(channel, day, h, n) for (channel, day, h), n in sorted(counts.items())]


async def default_zone(session: AsyncSession) -> str:
    """The zone staffing reads hours in by default: the calendar of the first SLA policy
    (by position) that has one, else the first calendar's, else UTC."""
    zone = await session.scalar(
        select(SlaCalendar.time_zone)
        .join(SlaPolicy, SlaPolicy.calendar_id == SlaCalendar.id)
        .order_by(SlaPolicy.position, SlaPolicy.id)
        .limit(1)
    )
    if zone is None:
        zone = await session.scalar(select(SlaCalendar.time_zone).order_by(SlaCalendar.id).limit(1))
    return str(zone or "UTC")


async def calendar_zones(session: AsyncSession) -> list[str]:
    rows = await session.scalars(select(SlaCalendar.time_zone).distinct())
    return sorted({str(z) for z in rows.all()} | {"UTC"})


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


async def journey_conversations(
    session: AsyncSession, customer_id: int, *, visible: set[int] | None, limit: int
) -> list[tuple[int, str, str, datetime, datetime | None]]:
    """(id, channel, status, created_at, last_message_at) of a customer's latest
    conversations in the inboxes `visible` (None: all), oldest first.
    Uses index: ix_conversations_customer_inbox."""
    query = (
        select(
            Conversation.id,
            Inbox.channel,
            Conversation.status,
            Conversation.created_at,
            Conversation.last_message_at,
        )
        .join(Inbox, Inbox.id == Conversation.inbox_id)
        .where(Conversation.customer_id == customer_id)
        .order_by(Conversation.id.desc())
        .limit(limit)
    )
    if visible is not None:
        query = query.where(Conversation.inbox_id.in_(visible or {-1}))
    rows = (await session.execute(query)).all()
    return [(int(i), ch, st, created, last) for i, ch, st, created, last in reversed(rows)]


async def journey_messages(
    session: AsyncSession, conversation_ids: list[int], *, limit: int
) -> list[tuple[int, str, str, datetime, str | None]]:
    """(conversation id, channel, direction, created_at, sentiment label or None) of the
    latest `limit` messages of these conversations, oldest first (the label: None until the
    sentiment job has analysed the message). Uses index: ix_messages_conversation."""
    if not conversation_ids:
        return []
    query = (
        select(
            Message.conversation_id,
            Message.channel,
            Message.direction,
            Message.created_at,
            Message.sentiment,
        )
        .where(Message.conversation_id.in_(conversation_ids))
        .order_by(Message.id.desc())
        .limit(limit)
    )
    rows = (await session.execute(query)).all()
    return [(int(c), ch, d, at, label) for c, ch, d, at, label in reversed(rows)]


async def first_replies(
    session: AsyncSession, *, since: datetime
) -> list[tuple[int, int, int, str, datetime, datetime]]:
    """(conversation, inbox, customer, channel, first customer message, first agent reply)
    of conversations started since `since` that an agent answered and no routing task
    covers — what the demo turns into handled tasks."""
    asked = func.min(case((Message.direction == "inbound", Message.created_at)))
    answered = func.min(
        case(
            (
                and_(Message.direction == "outbound", Message.author_kind == "agent"),
                Message.created_at,
            )
        )
    )
    covered = select(RoutingTask.conversation_id).where(RoutingTask.conversation_id.is_not(None))
    query = (
        select(
            Conversation.id,
            Conversation.inbox_id,
            Conversation.customer_id,
            Inbox.channel,
            asked,
            answered,
        )
        .join(Inbox, Inbox.id == Conversation.inbox_id)
        .join(Message, Message.conversation_id == Conversation.id)
        .where(Conversation.created_at >= since, Conversation.id.not_in(covered))
        .group_by(Conversation.id, Conversation.inbox_id, Conversation.customer_id, Inbox.channel)
        .order_by(Conversation.id)
    )
    rows = (await session.execute(query)).all()
    return [
        (int(c), int(i), int(cu), ch, a, b)
        for c, i, cu, ch, a, b in rows
        if a is not None and b is not None and b >= a
    ]

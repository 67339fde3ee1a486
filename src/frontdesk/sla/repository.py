"""Every query of the SLA domain."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.conversations.models import Conversation, Message
from frontdesk.customers.models import Customer
from frontdesk.kit import jobs
from frontdesk.kit.sql import in_ids
from frontdesk.sla.models import SlaCalendar, SlaClock, SlaPolicy

# Whether any SLA policy exists (asked with the commit's other `enabled` checks).
any_policy = jobs.AnyRow(lambda: select(SlaPolicy.id))


async def list_policies(session: AsyncSession) -> Sequence[SlaPolicy]:
    return (
        await session.scalars(select(SlaPolicy).order_by(SlaPolicy.position, SlaPolicy.id))
    ).all()


async def get_policy(session: AsyncSession, policy_id: int) -> SlaPolicy | None:
    return await session.get(SlaPolicy, policy_id)


async def policy_named(session: AsyncSession, name: str) -> SlaPolicy | None:
    return await session.scalar(select(SlaPolicy).where(SlaPolicy.name == name))


async def list_calendars(session: AsyncSession) -> Sequence[SlaCalendar]:
    return (await session.scalars(select(SlaCalendar).order_by(SlaCalendar.name))).all()


async def get_calendar(session: AsyncSession, calendar_id: int) -> SlaCalendar | None:
    return await session.get(SlaCalendar, calendar_id)


async def calendar_named(session: AsyncSession, name: str) -> SlaCalendar | None:
    return await session.scalar(select(SlaCalendar).where(SlaCalendar.name == name))


async def calendar_in_use(session: AsyncSession, calendar_id: int) -> bool:
    found = await session.scalar(
        select(SlaPolicy.id).where(SlaPolicy.calendar_id == calendar_id).limit(1)
    )
    return found is not None


async def lock_conversation(session: AsyncSession, conversation_id: int) -> Conversation | None:
    """The conversation, locked: one SLA job at a time moves its clocks (PostgreSQL; SQLite
    has one writer anyway)."""
    return await session.scalar(
        select(Conversation)
        .where(Conversation.id == conversation_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


async def customer_tier(session: AsyncSession, customer_id: int) -> str | None:
    customer = await session.get(Customer, customer_id)
    tier = ((customer.attributes or {}) if customer else {}).get("tier")
    return str(tier) if tier is not None else None


async def last_message_direction(session: AsyncSession, conversation_id: int) -> str | None:
    """`outbound` when the last message is an agent's reply, `inbound` for a customer's."""
    row = (
        await session.execute(
            select(Message.direction, Message.author_kind)
            .where(
                Message.conversation_id == conversation_id,
                Message.author_kind.in_(("customer", "agent")),
            )
            .order_by(Message.id.desc())
            .limit(1)
        )
    ).first()
    return None if row is None else str(row[0])


async def clocks_of(
    session: AsyncSession, conversation_ids: Sequence[int]
) -> dict[int, list[SlaClock]]:
    found: dict[int, list[SlaClock]] = {}
    if not conversation_ids:
        return found
    # The ids as one array parameter on PostgreSQL (kit.sql.in_ids): a list page asks for 100.
    rows = await session.scalars(
        select(SlaClock)
        .where(in_ids(session, SlaClock.conversation_id, conversation_ids))
        .order_by(SlaClock.id)
    )
    for clock in rows:
        found.setdefault(clock.conversation_id, []).append(clock)
    return found


async def get_clock(session: AsyncSession, clock_id: int) -> SlaClock | None:
    return await session.get(SlaClock, clock_id)


async def mark_fired(
    session: AsyncSession, clock_id: int, generation: int, *, column: str, at: datetime
) -> bool:
    """Set warned_at or breached_at once: only for the generation the job was scheduled for,
    while the clock runs and the column is empty. Two workers running the same job (a lease
    that ran out) meet at the row lock; the second finds the column set and changes nothing."""
    target: Any = getattr(SlaClock, column)
    result = await session.execute(
        update(SlaClock)
        .where(
            SlaClock.id == clock_id,
            SlaClock.generation == generation,
            SlaClock.state == "running",
            target.is_(None),
        )
        .values({column: at})
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0) == 1


async def clocks_at_risk(session: AsyncSession, *, due_before: datetime, limit: int) -> list[int]:
    """Conversations with a running clock that is breached, warned, or due before
    `due_before`, the soonest due first (the supervisor's "SLA at risk")."""
    # Uses index: ix_sla_clocks_state_due.
    rows = await session.execute(
        select(SlaClock.conversation_id, func.min(SlaClock.due_at))
        .where(
            SlaClock.state == "running",
            or_(
                SlaClock.breached_at.is_not(None),
                SlaClock.warned_at.is_not(None),
                SlaClock.due_at <= due_before,
            ),
        )
        .group_by(SlaClock.conversation_id)
        .order_by(func.min(SlaClock.due_at), SlaClock.conversation_id)
        .limit(limit)
    )
    return [int(conversation_id) for conversation_id, _ in rows.all()]


async def open_clock_conversations(
    session: AsyncSession, *, policy_ids: Sequence[int], after: int, limit: int
) -> list[int]:
    """Conversations (ids above `after`, ascending) with a running or paused clock under one
    of these policies: what a policy or calendar change recomputes, one batch at a time."""
    if not policy_ids:
        return []
    rows = await session.scalars(
        select(SlaClock.conversation_id)
        .where(
            SlaClock.policy_id.in_(policy_ids),
            SlaClock.state.in_(("running", "paused")),
            SlaClock.conversation_id > after,
        )
        .group_by(SlaClock.conversation_id)
        .order_by(SlaClock.conversation_id)
        .limit(limit)
    )
    return [int(conversation_id) for conversation_id in rows]


async def policies_on_calendar(session: AsyncSession, calendar_id: int) -> list[int]:
    rows = await session.scalars(select(SlaPolicy.id).where(SlaPolicy.calendar_id == calendar_id))
    return [int(policy_id) for policy_id in rows]

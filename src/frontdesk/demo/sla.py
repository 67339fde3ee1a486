"""The demo's service levels: business calendars (the head office, and the Arabic team's
Sunday-to-Thursday week with its Friday/Saturday weekend), SLA policies, and two
conversations whose clocks started earlier: one breached, one at risk that breaches about
ten minutes after the demo starts (watch its countdown turn)."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.conversations.models import Conversation
from frontdesk.db import utcnow
from frontdesk.sla import service, setup
from frontdesk.sla.schemas import CalendarCreate, PolicyCreate

WORKWEEK = ("mon", "tue", "wed", "thu", "fri")
ARABIC_WEEK = ("sun", "mon", "tue", "wed", "thu")
HOUR = 3600


async def seed_sla(session: AsyncSession, *, breached: Conversation, at_risk: Conversation) -> None:
    """Calendars, policies, and the clocks of `breached` and `at_risk` started earlier."""
    office = await setup.create_calendar(
        session,
        CalendarCreate(
            name="Head office (London)",
            time_zone="Europe/London",
            hours={day: ["09:00-18:00"] for day in WORKWEEK},
            holidays=[date(2026, 12, 25), date(2026, 12, 28), date(2027, 1, 1)],
        ),
    )
    arabic = await setup.create_calendar(
        session,
        CalendarCreate(
            name="Arabic team (Riyadh)",
            time_zone="Asia/Riyadh",
            hours={day: ["09:00-17:00"] for day in ARABIC_WEEK},
            holidays=[date(2027, 3, 10), date(2027, 3, 11)],
        ),
    )
    policies = [
        PolicyCreate(
            name="VIP customers", position=10, tiers=["gold", "vip"],
            first_response_seconds=15 * 60, next_response_seconds=30 * 60,
            resolution_seconds=4 * HOUR, priority_boost=2,
        ),
        PolicyCreate(
            name="Urgent", position=20, priorities=["high", "urgent"],
            first_response_seconds=30 * 60, next_response_seconds=HOUR,
            resolution_seconds=8 * HOUR, priority_boost=2,
        ),
        PolicyCreate(
            name="Messaging (Arabic team hours)", position=30,
            channels=["whatsapp", "telegram", "sms", "sms_gateway"], calendar_id=arabic.id,
            first_response_seconds=HOUR, next_response_seconds=2 * HOUR,
            resolution_seconds=16 * HOUR,
        ),
        PolicyCreate(
            name="Website and app, around the clock", position=40, channels=["api", "webchat"],
            first_response_seconds=HOUR, next_response_seconds=2 * HOUR,
            resolution_seconds=8 * HOUR,
        ),
        PolicyCreate(
            name="Standard (office hours)", position=100, calendar_id=office.id,
            first_response_seconds=4 * HOUR, next_response_seconds=8 * HOUR,
            resolution_seconds=3 * 9 * HOUR,
        ),
    ]  # fmt: skip
    for data in policies:
        await setup.create_policy(session, data)
    now = utcnow()
    await service.start_clocks(session, breached, at=now - timedelta(minutes=75))
    await service.start_clocks(session, at_risk, at=now - timedelta(minutes=50))

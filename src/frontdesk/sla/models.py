from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from frontdesk.db import Base, UTCDateTime, utcnow

# first_response: from the conversation's start to the first agent reply;
# next_response: from a customer message after an agent reply to the next agent reply;
# resolution: from the start to resolved (resumed on a reopen).
CLOCK_KINDS = ("first_response", "next_response", "resolution")
# running: counting down; paused: waiting on the customer; met: stopped in time or not
# (breached_at says which); canceled: ended without its goal (resolved before a reply).
CLOCK_STATES = ("running", "paused", "met", "canceled")
WARN_RATIO = 0.8  # the warning fires when 80 % of the target is used


class SlaCalendar(Base):
    """Working hours per weekday in local time, holidays and the zone they are read in."""

    __tablename__ = "sla_calendars"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    # {"mon": ["09:00-17:00"], ..., "sun": []}: a day with no range is a weekend day.
    hours: Mapped[dict[str, list[str]]] = mapped_column(JSON, default=dict)
    holidays: Mapped[list[str]] = mapped_column(JSON, default=list)  # ISO local dates
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SlaPolicy(Base):
    """Targets in business seconds for the conversations its conditions match; the lowest
    position that matches wins. An empty condition list matches anything."""

    __tablename__ = "sla_policies"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    position: Mapped[int] = mapped_column(Integer, default=100)
    channels: Mapped[list[str]] = mapped_column(JSON, default=list)
    priorities: Mapped[list[str]] = mapped_column(JSON, default=list)
    tiers: Mapped[list[str]] = mapped_column(JSON, default=list)  # customer attribute "tier"
    calendar_id: Mapped[int | None] = mapped_column(
        ForeignKey("sla_calendars.id", ondelete="SET NULL")
    )  # NULL: around the clock (24/7 UTC)
    first_response_seconds: Mapped[int | None] = mapped_column(Integer)
    next_response_seconds: Mapped[int | None] = mapped_column(Integer)
    resolution_seconds: Mapped[int | None] = mapped_column(Integer)
    # On a breach: the conversation's task gains this much base priority, and moves to the
    # escalation queue when one is set (a supervisor queue).
    priority_boost: Mapped[int] = mapped_column(Integer, default=1)
    escalation_queue_id: Mapped[int | None] = mapped_column(
        ForeignKey("routing_queues.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SlaClock(Base):
    """One target of one conversation. Business time used is `elapsed_seconds` plus the
    business time since `running_since` while running. Every change bumps `generation`;
    the warning and breach jobs name the generation they were scheduled for, so a job of a
    paused or rescheduled clock does nothing."""

    __tablename__ = "sla_clocks"
    __table_args__ = (
        UniqueConstraint("conversation_id", "kind", name="uq_sla_clocks_conversation_kind"),
        # Uses index: the desk's "at risk" lists walk running clocks by due time.
        Index("ix_sla_clocks_state_due", "state", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    policy_id: Mapped[int | None] = mapped_column(
        ForeignKey("sla_policies.id", ondelete="SET NULL")
    )
    kind: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(10), default="running")
    target_seconds: Mapped[int] = mapped_column(Integer)
    elapsed_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    running_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # while running
    warn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # while running
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    warned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    breached_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    generation: Mapped[int] = mapped_column(Integer, default=0)
    # The event log sequence last applied: an older event (jobs run out of order on several
    # workers) never rewinds the clock.
    sequence: Mapped[int] = mapped_column(Integer, default=0)

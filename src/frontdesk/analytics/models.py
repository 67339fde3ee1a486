"""Analytics tables: one fact row per conversation, folded from the event log, and the hourly
rollups the reports read (docs/metrics.md). Both are derived data: `frontdesk analytics
backfill` rebuilds them from the event log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, PrimaryKeyConstraint, String, text
from sqlalchemy.orm import Mapped, mapped_column

from frontdesk.db import Base, UTCDateTime

# First-response-time histogram bucket upper bounds in seconds (the last bucket is open).
FRT_BUCKETS = (60, 300, 900, 3600, 4 * 3600, 24 * 3600)
FRT_COLUMNS = tuple(f"frt_b{i}" for i in range(len(FRT_BUCKETS) + 1))
# Conversations opened per hour of the day (UTC): the heat map reads daily rows, not hourly.
HOUR_COLUMNS = tuple(f"created_h{h:02d}" for h in range(24))

# Every additive column of a rollup row; a row is the sum of its conversations' contributions.
MEASURES = (
    "created", "messages_in", "messages_out", "first_responses", "frt_sum", *FRT_COLUMNS,
    "resolved", "resolution_sum", "fcr", "reopened", "handle_sum", "open_now",
    "csat_count", "csat_positive", "ces_count", "ces_sum", "nps_count", "nps_promoters",
    "nps_detractors", "sla_met", "sla_breached", *HOUR_COLUMNS,
    "frt_wall_sum", "resolution_wall_sum", "handle_wall_sum",
)  # fmt: skip
# What a summary or a breakdown sums (the heat map alone reads the per-hour-of-day counts).
TOTALS = tuple(m for m in MEASURES if m not in HOUR_COLUMNS)
# Presence states an agent is staffed in (logged in and not away), and those that count as
# handling work even without a task (a call in progress, wrap-up): occupancy (docs/metrics.md).
STAFFED = ("available", "busy", "after_call_work")
HANDLING = ("busy", "after_call_work")
# The key of a rollup row. 0 stands for "none" (no team, no agent) and, in tag_id, for
# "every conversation": tag rows repeat a conversation once per tag it carries.
DIMENSIONS = ("hour", "inbox_id", "channel", "team_id", "agent_id", "tag_id")


class AnalyticsCursor(Base):
    """How far into the event log the rollups are (one row, name "rollups"). The catch-up
    locks it, so two workers never fold the same events."""

    __tablename__ = "analytics_cursors"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    sequence: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), default=0)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ConversationFact(Base):
    """What the metrics need to know about one conversation, and the dimensions its
    contribution to the rollups was filed under (so a change can be taken back exactly)."""

    __tablename__ = "analytics_conversation_facts"

    conversation_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    inbox_id: Mapped[int] = mapped_column(Integer, default=0)
    channel: Mapped[str] = mapped_column(String(20), default="")
    team_id: Mapped[int] = mapped_column(Integer, default=0)
    agent_id: Mapped[int] = mapped_column(Integer, default=0)
    tag_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(20), default="open")
    created_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_inbound_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reopens: Mapped[int] = mapped_column(Integer, default=0)
    agent_replies: Mapped[int] = mapped_column(Integer, default=0)
    messages_in: Mapped[int] = mapped_column(Integer, default=0)
    messages_out: Mapped[int] = mapped_column(Integer, default=0)
    # Fed by events other domains emit (survey.answered; sla.updated and sla.breached):
    # {"csat": [score, iso time], ..., "sla:first_response": ["met"|"breached", iso time]}
    # and the SLA counts derived from them.
    scores: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    sla_met: Mapped[int] = mapped_column(Integer, default=0)
    sla_breached: Mapped[int] = mapped_column(Integer, default=0)
    # The SLA calendar the durations were counted on when last folded (0: none, wall clock)
    # and the business seconds it gave; stored so the old contribution is taken back exactly.
    calendar_id: Mapped[int] = mapped_column(Integer, default=0)
    frt_business: Mapped[int | None] = mapped_column(Integer)
    resolution_business: Mapped[int | None] = mapped_column(Integer)
    handle_business: Mapped[int | None] = mapped_column(Integer)


def _measure() -> Mapped[int]:
    return mapped_column(BigInteger().with_variant(Integer, "sqlite"), default=0)


class _Measures:
    """The sums of a rollup row's conversations' contributions."""

    created: Mapped[int] = _measure()
    messages_in: Mapped[int] = _measure()
    messages_out: Mapped[int] = _measure()
    first_responses: Mapped[int] = _measure()
    frt_sum: Mapped[int] = _measure()
    frt_b0: Mapped[int] = _measure()
    frt_b1: Mapped[int] = _measure()
    frt_b2: Mapped[int] = _measure()
    frt_b3: Mapped[int] = _measure()
    frt_b4: Mapped[int] = _measure()
    frt_b5: Mapped[int] = _measure()
    frt_b6: Mapped[int] = _measure()
    resolved: Mapped[int] = _measure()
    resolution_sum: Mapped[int] = _measure()
    fcr: Mapped[int] = _measure()
    reopened: Mapped[int] = _measure()
    handle_sum: Mapped[int] = _measure()
    open_now: Mapped[int] = _measure()
    csat_count: Mapped[int] = _measure()
    csat_positive: Mapped[int] = _measure()
    ces_count: Mapped[int] = _measure()
    ces_sum: Mapped[int] = _measure()
    nps_count: Mapped[int] = _measure()
    nps_promoters: Mapped[int] = _measure()
    nps_detractors: Mapped[int] = _measure()
    sla_met: Mapped[int] = _measure()
    sla_breached: Mapped[int] = _measure()
    created_h00: Mapped[int] = _measure()
    created_h01: Mapped[int] = _measure()
    created_h02: Mapped[int] = _measure()
    created_h03: Mapped[int] = _measure()
    created_h04: Mapped[int] = _measure()
    created_h05: Mapped[int] = _measure()
    created_h06: Mapped[int] = _measure()
    created_h07: Mapped[int] = _measure()
    created_h08: Mapped[int] = _measure()
    created_h09: Mapped[int] = _measure()
    created_h10: Mapped[int] = _measure()
    created_h11: Mapped[int] = _measure()
    created_h12: Mapped[int] = _measure()
    created_h13: Mapped[int] = _measure()
    created_h14: Mapped[int] = _measure()
    created_h15: Mapped[int] = _measure()
    created_h16: Mapped[int] = _measure()
    created_h17: Mapped[int] = _measure()
    created_h18: Mapped[int] = _measure()
    created_h19: Mapped[int] = _measure()
    created_h20: Mapped[int] = _measure()
    created_h21: Mapped[int] = _measure()
    created_h22: Mapped[int] = _measure()
    created_h23: Mapped[int] = _measure()
    # frt_sum, resolution_sum and handle_sum are business seconds (the conversation's SLA
    # calendar; wall clock without one); these are the same durations on the wall clock.
    frt_wall_sum: Mapped[int] = _measure()
    resolution_wall_sum: Mapped[int] = _measure()
    handle_wall_sum: Mapped[int] = _measure()


class _Rollup(_Measures):
    """A rollup row: its key (`hour` is the start of the bucket: an hour, or a day in the
    daily table) and the sums of its conversations' contributions."""

    hour: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    inbox_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    channel: Mapped[str] = mapped_column(String(20), primary_key=True)
    team_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    agent_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    tag_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)


class HourlyRollup(_Rollup, Base):
    """Per hour: the heat map, hourly series and the backlog's age read these."""

    __tablename__ = "analytics_hourly"
    __table_args__ = (
        # Uses index: every report filters one tag_id (0 = all) and a period.
        Index("ix_analytics_hourly_tag_hour", "tag_id", "hour"),
        # Uses index: the backlog reads only rows of conversations open now (few), and the
        # oldest of them.
        Index(
            "ix_analytics_hourly_open",
            "tag_id",
            "hour",
            postgresql_where=text("open_now <> 0"),
            sqlite_where=text("open_now <> 0"),
        ),
    )


class DailyRollup(_Rollup, Base):
    """Per UTC day: reports over whole days read these (24 times fewer rows than hourly)."""

    __tablename__ = "analytics_daily"
    __table_args__ = (
        Index("ix_analytics_daily_tag_hour", "tag_id", "hour"),
        # Uses index: the backlog reads the days before the last three from here.
        Index(
            "ix_analytics_daily_open",
            "tag_id",
            "hour",
            postgresql_where=text("open_now <> 0"),
            sqlite_where=text("open_now <> 0"),
        ),
    )


# Coarser copies of the rollups: the same sums over fewer dimensions. A report that neither
# filters nor groups by a dimension a copy drops reads that copy, whose rows are bounded by
# the period's hours (or days) times the groups it keeps, however many conversations there
# are; the full tables' rows grow with every inbox x team x agent x tag combination in use.
# Each key leads with (tag_id, hour): every report reads one tag_id (0 = all) and a period.


def _open_index(table: str) -> Index:
    # Uses index: the backlog reads only rows of conversations open now, and the oldest.
    return Index(
        f"ix_{table}_open",
        "tag_id",
        "hour",
        postgresql_where=text("open_now <> 0"),
        sqlite_where=text("open_now <> 0"),
    )


class HourlyByTag(_Measures, Base):
    """Per hour and tag: the backlog's recent hours and hourly series without filters."""

    __tablename__ = "analytics_hourly_tag"
    __table_args__ = (PrimaryKeyConstraint("tag_id", "hour"), _open_index("analytics_hourly_tag"))
    tag_id: Mapped[int] = mapped_column(Integer, autoincrement=False)
    hour: Mapped[datetime] = mapped_column(UTCDateTime)


class HourlyByInbox(_Measures, Base):
    """Per hour, inbox (and its channel) and tag: the same for an inbox, a channel, or an
    agent who sees some inboxes."""

    __tablename__ = "analytics_hourly_inbox"
    __table_args__ = (
        PrimaryKeyConstraint("tag_id", "hour", "inbox_id", "channel"),
        _open_index("analytics_hourly_inbox"),
    )
    tag_id: Mapped[int] = mapped_column(Integer, autoincrement=False)
    hour: Mapped[datetime] = mapped_column(UTCDateTime)
    inbox_id: Mapped[int] = mapped_column(Integer, autoincrement=False)
    channel: Mapped[str] = mapped_column(String(20))


class DailyByTag(_Measures, Base):
    """Per UTC day and tag: summaries, series, the heat map and the tag breakdown."""

    __tablename__ = "analytics_daily_tag"
    __table_args__ = (PrimaryKeyConstraint("tag_id", "hour"), _open_index("analytics_daily_tag"))
    tag_id: Mapped[int] = mapped_column(Integer, autoincrement=False)
    hour: Mapped[datetime] = mapped_column(UTCDateTime)


class DailyByInbox(_Measures, Base):
    """Per UTC day, inbox (and its channel) and tag: inbox and channel breakdowns, and
    every report of an agent who sees some inboxes."""

    __tablename__ = "analytics_daily_inbox"
    __table_args__ = (
        PrimaryKeyConstraint("tag_id", "hour", "inbox_id", "channel"),
        _open_index("analytics_daily_inbox"),
    )
    tag_id: Mapped[int] = mapped_column(Integer, autoincrement=False)
    hour: Mapped[datetime] = mapped_column(UTCDateTime)
    inbox_id: Mapped[int] = mapped_column(Integer, autoincrement=False)
    channel: Mapped[str] = mapped_column(String(20))


class DailyByAgent(_Measures, Base):
    """Per UTC day, team, agent and tag: team and agent breakdowns and filters."""

    __tablename__ = "analytics_daily_agent"
    __table_args__ = (
        PrimaryKeyConstraint("tag_id", "hour", "team_id", "agent_id"),
        _open_index("analytics_daily_agent"),
    )
    tag_id: Mapped[int] = mapped_column(Integer, autoincrement=False)
    hour: Mapped[datetime] = mapped_column(UTCDateTime)
    team_id: Mapped[int] = mapped_column(Integer, autoincrement=False)
    agent_id: Mapped[int] = mapped_column(Integer, autoincrement=False)


class AgentState(Base):
    """Where an agent's occupancy fold stands: the presence status since `at` (the last
    instant already filed into analytics_agent_hourly) and the routing tasks held."""

    __tablename__ = "analytics_agent_state"

    agent_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    status: Mapped[str] = mapped_column(String(20), default="offline")
    at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    task_ids: Mapped[list[int]] = mapped_column(JSON, default=list)


class AgentHourly(Base):
    """Per agent and hour: seconds staffed (available, busy or in wrap-up) and, of those,
    seconds handling work (holding a task, busy or in wrap-up). Occupancy = handling ÷
    staffed."""

    __tablename__ = "analytics_agent_hourly"

    hour: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    agent_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    staffed_seconds: Mapped[int] = _measure()
    handling_seconds: Mapped[int] = _measure()

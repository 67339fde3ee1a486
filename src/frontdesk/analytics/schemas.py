"""What a report is asked for, and what it answers."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from pydantic import BaseModel


@dataclass(frozen=True)
class ReportFilters:
    """A period [start, end) and the slice of the rollups to read. team_id / agent_id 0 mean
    "none" (unassigned); None means any. inbox_ids: what the caller may see (None: all)."""

    start: datetime
    end: datetime
    channel: str | None = None
    inbox_id: int | None = None
    team_id: int | None = None
    agent_id: int | None = None
    tag: str | None = None
    tag_id: int | None = None
    inbox_ids: frozenset[int] | None = None

    def previous(self) -> ReportFilters:
        """The period of the same length just before this one."""
        return replace(self, start=self.start - (self.end - self.start), end=self.start)


class Metrics(BaseModel):
    volume: int
    messages_in: int
    messages_out: int
    first_responses: int
    # Durations in business seconds on each conversation's SLA calendar (the wall clock for
    # a conversation without one); the *_wall_seconds are the same on the wall clock.
    first_response_avg_seconds: float | None
    first_response_avg_wall_seconds: float | None = None
    resolved: int
    resolution_avg_seconds: float | None
    resolution_avg_wall_seconds: float | None = None
    reopen_rate: float | None
    first_contact_resolution_rate: float | None
    handle_avg_seconds: float | None
    handle_avg_wall_seconds: float | None = None
    # Handling ÷ staffed time of the agents (a supervisor's figure; None for an agent who
    # sees only some inboxes, and in breakdowns other than by agent).
    occupancy: float | None = None
    csat_percent: float | None
    csat_responses: int
    ces_average: float | None
    ces_responses: int
    nps: float | None
    nps_responses: int
    sla_adherence: float | None


class Backlog(BaseModel):
    open: int
    age_buckets: dict[str, int]
    oldest_hours: float | None


class SummaryRead(BaseModel):
    start: datetime
    end: datetime
    current: Metrics
    previous: Metrics
    change: dict[str, float | None]
    backlog: Backlog
    rollups_sequence: int
    rollups_updated_at: datetime | None


class PointRead(BaseModel):
    at: datetime
    volume: int
    resolved: int
    first_response_avg_seconds: float | None


class TimeseriesRead(BaseModel):
    interval: str
    items: list[PointRead]
    previous: list[PointRead]


class BreakdownItem(BaseModel):
    key: str
    label: str
    metrics: Metrics


class BreakdownRead(BaseModel):
    by: str
    items: list[BreakdownItem]


class HistogramBucket(BaseModel):
    label: str
    min_seconds: int
    max_seconds: int | None
    count: int


class HistogramRead(BaseModel):
    items: list[HistogramBucket]


class HeatmapRead(BaseModel):
    # cells[weekday][hour], weekday 0 = Monday, hours in UTC.
    cells: list[list[int]]
    max: int

"""The reports: sums of rollup rows turned into the metrics of docs/metrics.md."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.analytics import rollup_repository as repository
from frontdesk.analytics.models import FRT_BUCKETS, FRT_COLUMNS, MEASURES
from frontdesk.analytics.schemas import (
    Backlog,
    BreakdownItem,
    BreakdownRead,
    HeatmapRead,
    HistogramBucket,
    HistogramRead,
    Metrics,
    PointRead,
    ReportFilters,
    SummaryRead,
    TimeseriesRead,
)
from frontdesk.db import utcnow

BREAKDOWNS = ("channel", "inbox", "team", "agent", "tag")
# Backlog age buckets: upper bounds in hours (the last is open).
AGE_BUCKETS = ((1, "<1h"), (4, "1-4h"), (24, "4-24h"), (72, "1-3d"), (None, ">3d"))


def _ratio(part: int, whole: int, scale: float = 1.0) -> float | None:
    return round(part * scale / whole, 4) if whole else None


def metrics(sums: dict[str, int]) -> Metrics:
    """The derived metrics of one set of sums (formulas: docs/metrics.md)."""
    s = {m: sums.get(m, 0) for m in MEASURES}
    sla = s["sla_met"] + s["sla_breached"]
    return Metrics(
        volume=s["created"],
        messages_in=s["messages_in"],
        messages_out=s["messages_out"],
        first_responses=s["first_responses"],
        first_response_avg_seconds=_ratio(s["frt_sum"], s["first_responses"]),
        resolved=s["resolved"],
        resolution_avg_seconds=_ratio(s["resolution_sum"], s["resolved"]),
        reopen_rate=_ratio(s["reopened"], s["resolved"]),
        first_contact_resolution_rate=_ratio(s["fcr"], s["resolved"]),
        handle_avg_seconds=_ratio(s["handle_sum"], s["resolved"]),
        csat_percent=_ratio(s["csat_positive"], s["csat_count"], 100),
        csat_responses=s["csat_count"],
        ces_average=_ratio(s["ces_sum"], s["ces_count"]),
        ces_responses=s["ces_count"],
        nps=_ratio(s["nps_promoters"] - s["nps_detractors"], s["nps_count"], 100),
        nps_responses=s["nps_count"],
        sla_adherence=_ratio(s["sla_met"], sla),
    )


def _change(current: Metrics, previous: Metrics) -> dict[str, float | None]:
    """Relative change per metric (0.25 = 25 % up); None without a base to compare with."""
    changes: dict[str, float | None] = {}
    for name, value in current.model_dump().items():
        before = getattr(previous, name)
        changes[name] = (
            round((value - before) / before, 4) if value is not None and before else None
        )
    return changes


async def summary(session: AsyncSession, filters: ReportFilters) -> SummaryRead:
    current = metrics(await repository.totals(session, filters))
    previous = metrics(await repository.totals(session, filters.previous()))
    sequence, updated_at = await repository.read_cursor(session)
    return SummaryRead(
        start=filters.start,
        end=filters.end,
        current=current,
        previous=previous,
        change=_change(current, previous),
        backlog=await backlog(session, filters),
        rollups_sequence=sequence,
        rollups_updated_at=updated_at,
    )


async def backlog(session: AsyncSession, filters: ReportFilters) -> Backlog:
    """Conversations open now (whatever the period), by age since they were opened."""
    rows = await repository.grouped(
        session, filters, "hour", ["open_now"], period=False, hourly=True, open_only=True
    )
    now = utcnow()
    buckets = {label: 0 for _, label in AGE_BUCKETS}
    oldest: datetime | None = None
    for hour, sums in rows:
        if not sums["open_now"]:
            continue
        oldest = hour if oldest is None else min(oldest, hour)
        age = (now - hour).total_seconds() / 3600
        label = next(label for bound, label in AGE_BUCKETS if bound is None or age < bound)
        buckets[label] += sums["open_now"]
    return Backlog(
        open=sum(buckets.values()),
        age_buckets=buckets,
        oldest_hours=round((now - oldest).total_seconds() / 3600, 1) if oldest else None,
    )


def _bucket_start(moment: datetime, interval: str) -> datetime:
    if interval == "hour":
        return moment
    day = moment.replace(hour=0)
    return day - timedelta(days=day.weekday()) if interval == "week" else day


async def _series(session: AsyncSession, filters: ReportFilters, interval: str) -> list[PointRead]:
    wanted = ["created", "resolved", "frt_sum", "first_responses"]
    rows = await repository.grouped(session, filters, "hour", wanted, hourly=interval == "hour")
    points: dict[datetime, dict[str, int]] = {}
    for hour, sums in rows:
        point = points.setdefault(_bucket_start(hour, interval), dict.fromkeys(wanted, 0))
        for name in wanted:
            point[name] += sums[name]
    return [
        PointRead(
            at=at,
            volume=p["created"],
            resolved=p["resolved"],
            first_response_avg_seconds=_ratio(p["frt_sum"], p["first_responses"]),
        )
        for at, p in sorted(points.items())
    ]


async def timeseries(
    session: AsyncSession, filters: ReportFilters, *, interval: str
) -> TimeseriesRead:
    return TimeseriesRead(
        interval=interval,
        items=await _series(session, filters, interval),
        previous=await _series(session, filters.previous(), interval),
    )


async def breakdown(session: AsyncSession, filters: ReportFilters, *, by: str) -> BreakdownRead:
    column = {"inbox": "inbox_id", "team": "team_id", "agent": "agent_id", "tag": "tag_id"}
    rows = await repository.grouped(session, filters, column.get(by, by), list(MEASURES))
    if by == "tag":
        rows = [(key, sums) for key, sums in rows if key]  # 0 is "every conversation"
    labels = await _labels(session, by, [key for key, _ in rows])
    items = [
        BreakdownItem(key=str(key), label=labels.get(key, str(key)), metrics=metrics(sums))
        for key, sums in rows
    ]
    items.sort(key=lambda item: -item.metrics.volume)
    return BreakdownRead(by=by, items=items)


async def _labels(session: AsyncSession, by: str, keys: list[Any]) -> dict[Any, str]:
    ids = [int(key) for key in keys if by != "channel" and key]
    if by == "channel":
        return {}
    return await repository.names(session, by, ids)


async def histogram(session: AsyncSession, filters: ReportFilters) -> HistogramRead:
    sums = await repository.totals(session, filters)
    bounds = (0, *FRT_BUCKETS)
    items = []
    for index, column in enumerate(FRT_COLUMNS):
        low = bounds[index]
        high = FRT_BUCKETS[index] if index < len(FRT_BUCKETS) else None
        items.append(
            HistogramBucket(
                label=_duration_label(low, high), min_seconds=low, max_seconds=high,
                count=sums[column],
            )
        )  # fmt: skip
    return HistogramRead(items=items)


def _duration_label(low: int, high: int | None) -> str:
    def short(seconds: int) -> str:
        if seconds >= 3600:
            return f"{seconds // 3600}h"
        return f"{seconds // 60}m" if seconds else "0"

    return f"{short(low)}-{short(high)}" if high is not None else f"≥{short(low)}"


async def heatmap(session: AsyncSession, filters: ReportFilters) -> HeatmapRead:
    cells = [[0] * 24 for _ in range(7)]
    for hour, sums in await repository.grouped(session, filters, "hour", ["created"], hourly=True):
        cells[hour.weekday()][hour.hour] += sums["created"]
    return HeatmapRead(cells=cells, max=max(max(row) for row in cells))

"""The reports: sums of rollup rows turned into the metrics of docs/metrics.md."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.analytics import report_repository
from frontdesk.analytics import rollup_repository as repository
from frontdesk.analytics.models import FRT_BUCKETS, FRT_COLUMNS, HOUR_COLUMNS, MEASURES, TOTALS
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


def metrics(sums: dict[str, int], occupancy: tuple[int, int] | None = None) -> Metrics:
    """The derived metrics of one set of sums, and (staffed, handling) seconds for the
    occupancy (formulas: docs/metrics.md)."""
    s = {m: sums.get(m, 0) for m in MEASURES}
    sla = s["sla_met"] + s["sla_breached"]
    return Metrics(
        volume=s["created"],
        messages_in=s["messages_in"],
        messages_out=s["messages_out"],
        first_responses=s["first_responses"],
        first_response_avg_seconds=_ratio(s["frt_sum"], s["first_responses"]),
        first_response_avg_wall_seconds=_ratio(s["frt_wall_sum"], s["first_responses"]),
        resolved=s["resolved"],
        resolution_avg_seconds=_ratio(s["resolution_sum"], s["resolved"]),
        resolution_avg_wall_seconds=_ratio(s["resolution_wall_sum"], s["resolved"]),
        reopen_rate=_ratio(s["reopened"], s["resolved"]),
        first_contact_resolution_rate=_ratio(s["fcr"], s["resolved"]),
        handle_avg_seconds=_ratio(s["handle_sum"], s["resolved"]),
        handle_avg_wall_seconds=_ratio(s["handle_wall_sum"], s["resolved"]),
        occupancy=None if occupancy is None else _ratio(occupancy[1], occupancy[0]),
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
    return (await summary_and_sums(session, filters))[0]


async def _occupancy(
    session: AsyncSession, filters: ReportFilters, *, by_agent: bool = False
) -> dict[int, tuple[int, int]] | None:
    """Staffed and handling seconds (per agent, or key 0 for all): a supervisor's figure,
    None for an agent who sees only some inboxes."""
    if filters.inbox_ids is not None:
        return None
    return await repository.agent_occupancy(session, filters, by_agent=by_agent)


async def summary_and_sums(
    session: AsyncSession, filters: ReportFilters
) -> tuple[SummaryRead, dict[str, int]]:
    """The summary, and the period's raw sums (the reports page draws the histogram from
    them)."""
    sums, before = await report_repository.totals_pair(session, filters)
    now_busy = await _occupancy(session, filters)
    then_busy = await _occupancy(session, filters.previous())
    current = metrics(sums, None if now_busy is None else now_busy.get(0, (0, 0)))
    previous = metrics(before, None if then_busy is None else then_busy.get(0, (0, 0)))
    sequence, updated_at = await repository.read_cursor(session)
    found = SummaryRead(
        start=filters.start,
        end=filters.end,
        current=current,
        previous=previous,
        change=_change(current, previous),
        backlog=await backlog(session, filters),
        rollups_sequence=sequence,
        rollups_updated_at=updated_at,
    )
    return found, sums


async def backlog(session: AsyncSession, filters: ReportFilters) -> Backlog:
    """Conversations open now (whatever the period), by age since they were opened: the
    last days from the hourly rows, everything older (past the last age bound) from the
    daily rows."""
    now = utcnow()
    horizon = (now - timedelta(hours=AGE_BUCKETS[-2][0] or 0)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    rows, older, oldest = await report_repository.open_by_hour(session, filters, since=horizon)
    buckets = {label: 0 for _, label in AGE_BUCKETS}
    buckets[AGE_BUCKETS[-1][1]] += older
    for hour, count in rows:
        age = (now - hour).total_seconds() / 3600
        label = next(label for bound, label in AGE_BUCKETS if bound is None or age < bound)
        buckets[label] += count
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


SERIES = ("created", "resolved", "frt_sum", "first_responses")


async def _rows(
    session: AsyncSession, filters: ReportFilters, interval: str, *, heat: bool = False
) -> list[tuple[datetime, dict[str, int]]]:
    """The period's and the previous period's rows per hour (or day), in one query; with
    `heat`, the created-per-hour-of-day counts too."""
    both = replace(filters, start=filters.previous().start)
    wanted = [*SERIES, *(HOUR_COLUMNS if heat else ())]
    return await report_repository.grouped(session, both, "hour", wanted, hourly=interval == "hour")


def _points(rows: list[tuple[datetime, dict[str, int]]], interval: str) -> list[PointRead]:
    points: dict[datetime, dict[str, int]] = {}
    for hour, sums in rows:
        point = points.setdefault(_bucket_start(hour, interval), dict.fromkeys(SERIES, 0))
        for name in SERIES:
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


def _split(
    rows: list[tuple[datetime, dict[str, int]]], filters: ReportFilters
) -> tuple[list[tuple[datetime, dict[str, int]]], list[tuple[datetime, dict[str, int]]]]:
    return ([r for r in rows if r[0] >= filters.start], [r for r in rows if r[0] < filters.start])


async def timeseries(
    session: AsyncSession, filters: ReportFilters, *, interval: str
) -> TimeseriesRead:
    current, previous = _split(await _rows(session, filters, interval), filters)
    return TimeseriesRead(
        interval=interval, items=_points(current, interval), previous=_points(previous, interval)
    )


async def timeseries_and_heatmap(
    session: AsyncSession, filters: ReportFilters
) -> tuple[TimeseriesRead, HeatmapRead]:
    """The daily series (with the previous period) and the heat map in one query, when
    the period is whole days (the reports page)."""
    if not report_repository.whole_days(filters):
        return await timeseries(session, filters, interval="day"), await heatmap(session, filters)
    current, previous = _split(await _rows(session, filters, "day", heat=True), filters)
    series = TimeseriesRead(
        interval="day", items=_points(current, "day"), previous=_points(previous, "day")
    )
    return series, _heat_from_days(current)


async def breakdown(session: AsyncSession, filters: ReportFilters, *, by: str) -> BreakdownRead:
    column = {"inbox": "inbox_id", "team": "team_id", "agent": "agent_id", "tag": "tag_id"}
    rows = await report_repository.grouped(session, filters, column.get(by, by), list(TOTALS))
    if by == "tag":
        rows = [(key, sums) for key, sums in rows if key]  # 0 is "every conversation"
    labels = await _labels(session, by, [key for key, _ in rows])
    busy = await _occupancy(session, filters, by_agent=True) if by == "agent" else None
    if busy:  # agents staffed in the period without a conversation of their own
        known = {int(key) for key, _ in rows}
        rows += [(agent_id, {}) for agent_id in sorted(busy) if agent_id not in known]
        labels.update(await _labels(session, by, [a for a in busy if a not in known]))
    items = [
        BreakdownItem(
            key=str(key), label=labels.get(key, str(key)),
            metrics=metrics(sums, None if busy is None else busy.get(int(key), (0, 0))),
        )
        for key, sums in rows
    ]  # fmt: skip
    items.sort(key=lambda item: -item.metrics.volume)
    return BreakdownRead(by=by, items=items)


async def inbox_and_channel_breakdowns(
    session: AsyncSession, filters: ReportFilters
) -> tuple[BreakdownRead, BreakdownRead]:
    """The breakdowns by inbox and by channel from one query (an inbox has one channel)."""
    rows = await report_repository.grouped_pairs(
        session, filters, "inbox_id", "channel", list(TOTALS)
    )
    by_inbox: dict[int, dict[str, int]] = {}
    by_channel: dict[str, dict[str, int]] = {}
    for (inbox_id, channel), sums in rows:
        for target in (by_inbox.setdefault(inbox_id, {}), by_channel.setdefault(channel, {})):
            for name, value in sums.items():
                target[name] = target.get(name, 0) + value
    labels = await _labels(session, "inbox", list(by_inbox))
    inboxes = [BreakdownItem(key=str(key), label=labels.get(key, str(key)), metrics=metrics(sums))
               for key, sums in by_inbox.items()]  # fmt: skip
    channels = [BreakdownItem(key=key, label=key, metrics=metrics(sums))
                for key, sums in by_channel.items()]  # fmt: skip
    for items in (inboxes, channels):
        items.sort(key=lambda item: (-item.metrics.volume, item.key))
    return BreakdownRead(by="inbox", items=inboxes), BreakdownRead(by="channel", items=channels)


async def _labels(session: AsyncSession, by: str, keys: list[Any]) -> dict[Any, str]:
    ids = [int(key) for key in keys if by != "channel" and key]
    if by == "channel":
        return {}
    return await report_repository.names(session, by, ids)


async def histogram(session: AsyncSession, filters: ReportFilters) -> HistogramRead:
    return histogram_of(await report_repository.totals(session, filters))


def histogram_of(sums: dict[str, int]) -> HistogramRead:
    """The first-response histogram of a period's sums."""
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
    """Conversations opened per hour of week (UTC): from the daily rows' per-hour-of-day
    counts over whole days (24 times fewer rows), else from the hourly rows."""
    if report_repository.whole_days(filters):
        days = await report_repository.grouped(session, filters, "hour", list(HOUR_COLUMNS))
        return _heat_from_days(days)
    cells = [[0] * 24 for _ in range(7)]
    for hour, sums in await report_repository.grouped(
        session, filters, "hour", ["created"], hourly=True
    ):
        cells[hour.weekday()][hour.hour] += sums["created"]
    return HeatmapRead(cells=cells, max=max(max(row) for row in cells))


def _heat_from_days(days: list[tuple[datetime, dict[str, int]]]) -> HeatmapRead:
    cells = [[0] * 24 for _ in range(7)]
    for day, sums in days:
        for hour, column in enumerate(HOUR_COLUMNS):
            cells[day.weekday()][hour] += sums[column]
    return HeatmapRead(cells=cells, max=max(max(row) for row in cells))

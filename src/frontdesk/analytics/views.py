"""Reports over HTTP: JSON under /api/v1/reports/..., and the same tables as CSV. Agents see
the inboxes their teams serve; supervisors and admins see everything."""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.analytics import reports
from frontdesk.analytics.filtering import ReportQuery
from frontdesk.analytics.schemas import (
    BreakdownRead,
    HeatmapRead,
    HistogramRead,
    ReportFilters,
    SummaryRead,
    TimeseriesRead,
)
from frontdesk.deps import CurrentAgent, SessionDep

router = APIRouter(prefix="/reports", tags=["reports"])
QueryDep = Annotated[ReportQuery, Depends()]
Interval = Literal["hour", "day", "week"]
By = Literal["channel", "inbox", "team", "agent", "tag"]


@router.get("/summary", response_model=SummaryRead)
async def summary(session: SessionDep, agent: CurrentAgent, query: QueryDep) -> SummaryRead:
    """Every metric over the period, the previous period of the same length, the backlog."""
    return await reports.summary(session, await query.filters(session, agent))


@router.get("/timeseries", response_model=TimeseriesRead)
async def timeseries(
    session: SessionDep, agent: CurrentAgent, query: QueryDep, interval: Interval = "day"
) -> TimeseriesRead:
    filters = await query.filters(session, agent)
    return await reports.timeseries(session, filters, interval=interval)


@router.get("/breakdown", response_model=BreakdownRead)
async def breakdown(
    session: SessionDep, agent: CurrentAgent, query: QueryDep, by: By = "channel"
) -> BreakdownRead:
    return await reports.breakdown(session, await query.filters(session, agent), by=by)


@router.get("/first-response-histogram", response_model=HistogramRead)
async def first_response_histogram(
    session: SessionDep, agent: CurrentAgent, query: QueryDep
) -> HistogramRead:
    return await reports.histogram(session, await query.filters(session, agent))


@router.get("/heatmap", response_model=HeatmapRead)
async def heatmap(session: SessionDep, agent: CurrentAgent, query: QueryDep) -> HeatmapRead:
    """Conversations opened per hour of the week (weekday 0 = Monday, hours in UTC)."""
    return await reports.heatmap(session, await query.filters(session, agent))


@router.get(
    "/export.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "The report as CSV"}},
)
async def export_csv(
    session: SessionDep,
    agent: CurrentAgent,
    query: QueryDep,
    report: Annotated[Literal["breakdown", "timeseries", "histogram", "heatmap"], Query()] = (
        "breakdown"
    ),
    by: By = "channel",
    interval: Interval = "day",
) -> Response:
    """One report as CSV (a header row, then one row per item)."""
    filters = await query.filters(session, agent)
    name = f"frontdesk-{report}-{filters.start:%Y%m%d}-{filters.end:%Y%m%d}.csv"
    return Response(
        await csv_body(session, filters, report, by, interval),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


async def csv_body(
    session: AsyncSession, filters: ReportFilters, report: str, by: str, interval: str
) -> str:
    """One report as CSV text (the API's export and the desktop's download)."""
    buffer = io.StringIO()
    csv.writer(buffer).writerows(await _csv_rows(session, filters, report, by, interval))
    return buffer.getvalue()


async def _csv_rows(
    session: Any, filters: Any, report: str, by: str, interval: str
) -> list[list[Any]]:
    if report == "timeseries":
        series = await reports.timeseries(session, filters, interval=interval)
        return [["at", "volume", "resolved", "first_response_avg_seconds"]] + [
            [p.at.isoformat(), p.volume, p.resolved, p.first_response_avg_seconds]
            for p in series.items
        ]
    if report == "histogram":
        histogram = await reports.histogram(session, filters)
        return [["bucket", "min_seconds", "max_seconds", "count"]] + [
            [b.label, b.min_seconds, b.max_seconds, b.count] for b in histogram.items
        ]
    if report == "heatmap":
        heat = await reports.heatmap(session, filters)
        return [["weekday", *range(24)]] + [[day, *row] for day, row in enumerate(heat.cells)]
    table = await reports.breakdown(session, filters, by=by)
    names = list(reports.Metrics.model_fields)
    return [[by, "label", *names]] + [
        [item.key, item.label, *(getattr(item.metrics, n) for n in names)] for item in table.items
    ]

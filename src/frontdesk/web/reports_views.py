"""The reports page: the metrics of a period against the previous one, as charts read from
the rollups, each linking to the conversations behind it (the inbox list with filters)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from frontdesk.analytics import reports
from frontdesk.analytics.filtering import ReportQuery
from frontdesk.analytics.schemas import Backlog, Metrics, ReportFilters
from frontdesk.analytics.views import csv_body
from frontdesk.auth import repository as auth_repository
from frontdesk.deps import SessionDep
from frontdesk.inboxes import repository as inboxes_repository
from frontdesk.inboxes.service import visible_inbox_ids
from frontdesk.kit.errors import FrontdeskError
from frontdesk.kit.i18n import format_number, language, localise_digits, translator
from frontdesk.web import charts
from frontdesk.web.rendering import PageAgent, render, secure_headers

router = APIRouter(include_in_schema=False)
# Strings this module translates itself (the i18n test checks them).
TITLES = (
    "Conversations per day", "Previous period", "This period", "Conversations by channel",
    "Conversations by inbox", "First response time", "Conversations by hour of week (UTC)",
    "Open conversations by age", "Conversations", "First response time", "Resolution time",
    "Resolved", "Reopen rate", "First contact resolution", "CSAT", "CES", "NPS",
    "SLA adherence", "min", "h", "First response time (wall clock)",
    "Resolution time (wall clock)", "Occupancy",
)  # fmt: skip


def _query(request: Request) -> ReportQuery:
    q = request.query_params

    def number(name: str) -> int | None:
        value = q.get(name, "")
        return int(value) if value.isdigit() and len(value) < 10 else None

    return ReportQuery(
        start=q.get("start") or None, end=q.get("end") or None,
        channel=q.get("channel") or None, inbox_id=number("inbox_id") or None,
        team_id=number("team_id"), agent_id=number("agent_id"), tag=q.get("tag") or None,
    )  # fmt: skip


def conversations_link(f: ReportFilters, **override: Any) -> str:
    """The inbox list showing the conversations behind a chart's mark."""
    params: dict[str, Any] = {
        "status": "", "channel": f.channel or "", "inbox": f.inbox_id or "", "tag": f.tag or "",
        "team": "" if f.team_id is None else f.team_id,
        "agent": "" if f.agent_id is None else f.agent_id,
        "since": f.start.isoformat(), "until": f.end.isoformat(),
    }  # fmt: skip
    params.update(override)
    return "/?" + urlencode({k: v for k, v in params.items() if v != "" or k == "status"})


def _duration(seconds: float | None, lang: str) -> str:
    if seconds is None:
        return "—"
    if seconds < 3600:
        return localise_digits(f"{seconds / 60:.0f}", lang) + " " + translator(lang)("min")
    return localise_digits(f"{seconds / 3600:.1f}", lang) + " " + translator(lang)("h")


def _percent(value: float | None, lang: str) -> str:
    return "—" if value is None else format_number(round(value * 100, 1), lang) + "%"


def _cards(current: Metrics, previous: Metrics, lang: str) -> list[dict[str, str]]:
    _ = translator(lang)

    def plain(v: float | None) -> str:
        return "—" if v is None else format_number(round(v, 1), lang)

    rows = [
        (_("Conversations"), "volume", plain),
        (_("First response time"), "first_response_avg_seconds", lambda v: _duration(v, lang)),
        (_("First response time (wall clock)"), "first_response_avg_wall_seconds",
         lambda v: _duration(v, lang)),
        (_("Resolution time"), "resolution_avg_seconds", lambda v: _duration(v, lang)),
        (_("Resolution time (wall clock)"), "resolution_avg_wall_seconds",
         lambda v: _duration(v, lang)),
        (_("Resolved"), "resolved", plain),
        (_("Reopen rate"), "reopen_rate", lambda v: _percent(v, lang)),
        (_("First contact resolution"), "first_contact_resolution_rate",
         lambda v: _percent(v, lang)),
        (_("CSAT"), "csat_percent", lambda v: "—" if v is None else plain(v) + "%"),
        (_("CES"), "ces_average", plain),
        (_("NPS"), "nps", plain),
        (_("SLA adherence"), "sla_adherence", lambda v: _percent(v, lang)),
        (_("Occupancy"), "occupancy", lambda v: _percent(v, lang)),
    ]  # fmt: skip
    return [
        {"name": name, "key": key, "value": fmt(getattr(current, key)),
         "previous": fmt(getattr(previous, key))}
        for name, key, fmt in rows
    ]  # fmt: skip


async def _charts(
    session: Any, f: ReportFilters, lang: str, backlog: Backlog, sums: dict[str, int]
) -> dict[str, Any]:
    _ = translator(lang)
    # One query for the series and the heat map, one for both the inbox and the channel
    # bars; the histogram comes from the summary's sums.
    series, heat = await reports.timeseries_and_heatmap(session, f)
    days = [f.start.replace(hour=0) + timedelta(days=i) for i in range((f.end - f.start).days or 1)]
    current = {p.at: p.volume for p in series.items}
    before = {p.at: p.volume for p in series.previous}
    shift = f.end - f.start
    links = [conversations_link(f, since=d.isoformat(), until=(d + timedelta(days=1)).isoformat())
             for d in days]  # fmt: skip
    inboxes, channels = await reports.inbox_and_channel_breakdowns(session, f)
    histogram = reports.histogram_of(sums)
    period_link = conversations_link(f)  # every histogram bar and heat-map cell
    return {
        "volume": charts.line_chart(
            title=_("Conversations per day"),
            labels=[localise_digits(f"{d:%m-%d}", lang) for d in days],
            series=[
                charts.Series(_("This period"), [current.get(d, 0) for d in days], links),
                charts.Series(_("Previous period"), [before.get(d - shift, 0) for d in days]),
            ],
            lang=lang, testid="fd-report-volume",
        ),
        "by_channel": charts.bar_chart(
            title=_("Conversations by channel"),
            bars=[charts.Bar(i.label, i.metrics.volume, conversations_link(f, channel=i.key))
                  for i in channels.items],
            lang=lang, horizontal=True, testid="fd-report-channels",
        ),
        "by_inbox": charts.bar_chart(
            title=_("Conversations by inbox"),
            bars=[charts.Bar(i.label, i.metrics.volume, conversations_link(f, inbox=i.key))
                  for i in inboxes.items],
            lang=lang, horizontal=True, testid="fd-report-inboxes",
        ),
        "frt": charts.bar_chart(
            title=_("First response time"),
            bars=[charts.Bar(localise_digits(b.label, lang), b.count, period_link)
                  for b in histogram.items],
            lang=lang, testid="fd-report-frt",
        ),
        "heat": charts.heat_map(
            title=_("Conversations by hour of week (UTC)"), cells=heat.cells, lang=lang,
            href=lambda day, hour: period_link, testid="fd-report-heatmap",
        ),
        "backlog_chart": charts.bar_chart(
            title=_("Open conversations by age"),
            bars=[charts.Bar(localise_digits(label, lang), count,
                             conversations_link(f, status="open", since="", until=""))
                  for label, count in backlog.age_buckets.items()],
            lang=lang, testid="fd-report-backlog",
        ),
        "backlog": backlog,
        "agents": await reports.breakdown(session, f, by="agent"),
    }  # fmt: skip


@router.get("/reports", response_class=HTMLResponse)
async def reports_page(request: Request, session: SessionDep, agent: PageAgent) -> HTMLResponse:
    lang = language(agent.language)
    query = _query(request)
    problem = None
    try:
        f = await query.filters(session, agent)
    except FrontdeskError as exc:
        problem = exc.message
        query = ReportQuery()
        f = await query.filters(session, agent)
    summary, sums = await reports.summary_and_sums(session, f)
    visible = await _choices(session, agent)
    return render(
        request,
        "reports.html",
        {
            "f": f, "problem": problem, "summary": summary,
            "cards": _cards(summary.current, summary.previous, lang),
            "duration": lambda v: _duration(v, lang),
            "percent": lambda v: _percent(v, lang),
            "csv_query": request.url.query, "end_day": (f.end - timedelta(seconds=1)),
            **visible, **await _charts(session, f, lang, summary.backlog, sums),
        },
        agent=agent,
    )  # fmt: skip


async def _choices(session: Any, agent: Any) -> dict[str, Any]:
    visible = await visible_inbox_ids(session, agent)
    rows = await inboxes_repository.list_inboxes(session, only=None, after=None, limit=500)
    inboxes = [i for i in rows if visible is None or i.id in visible]
    return {
        "inboxes": inboxes,
        "channels": sorted({i.channel for i in inboxes}),
        "teams": list(await auth_repository.list_teams(session)),
        "agents": list(await auth_repository.list_agents(session, after=None, limit=1000)),
    }


@router.get("/reports.csv")
async def reports_csv(request: Request, session: SessionDep, agent: PageAgent) -> Response:
    f = await _query(request).filters(session, agent)
    by = request.query_params.get("by", "channel")
    by = by if by in reports.BREAKDOWNS else "channel"
    response = Response(
        await csv_body(session, f, "breakdown", by, "day"),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="report-{by}.csv"'},
    )
    secure_headers(response)
    return response

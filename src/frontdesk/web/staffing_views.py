"""The staffing page: a form for the planner's parameters, the agents needed per hour of
week as a heat map and per day as lines, and the measured load per channel."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from frontdesk.analytics import planner, repository
from frontdesk.analytics.staffing_schemas import StaffingQuery, as_csv
from frontdesk.db import utcnow
from frontdesk.deps import SessionDep
from frontdesk.kit.errors import Invalid, NotFound
from frontdesk.kit.i18n import format_number, language, localise_digits, translator
from frontdesk.web import charts
from frontdesk.web.rendering import PageAgent, render, secure_headers

router = APIRouter(include_in_schema=False)
CHANNELS = ("api", "email", "webchat", "sms", "sms_gateway", "voice", "whatsapp", "telegram",
            "messenger", "instagram")  # fmt: skip
# Strings this module translates itself (the i18n test checks them).
TITLES = ("Agents needed per hour of week ({zone})", "Agents needed by hour, one line per day")
FIELDS = ("weeks", "threshold", "target", "shrinkage", "patience", "concurrency",
          "default_aht", "aht", "tz")  # fmt: skip


def _query(request: Request) -> tuple[StaffingQuery, bool]:
    """The form's parameters (blank fields take their defaults); (defaults, False) if any
    is not valid."""
    values: dict[str, Any] = {
        name: request.query_params[name]
        for name in FIELDS
        if request.query_params.get(name, "").strip()
    }
    values["channel"] = [c for c in request.query_params.getlist("channel") if c in CHANNELS]
    try:
        return StaffingQuery.model_validate(values), True
    except ValidationError:
        return StaffingQuery.model_validate({}), False


def _charts(plan: planner.Plan, lang: str) -> dict[str, Any]:
    _ = translator(lang)
    cells = [[float(i.agents) for i in plan.intervals[d * 24 : d * 24 + 24]] for d in range(7)]
    days = charts.day_names(lang)
    hours = [localise_digits(str(h), lang) for h in range(24)]
    return {
        "heat": charts.heat_map(
            title=_("Agents needed per hour of week ({zone})", zone=plan.tz),
            cells=cells,
            lang=lang,
            testid="fd-staffing-heatmap",
        ),
        "daily": charts.line_chart(
            title=_("Agents needed by hour, one line per day"),
            labels=hours,
            series=[charts.Series(days[d], cells[d]) for d in range(7)],
            lang=lang,
            testid="fd-staffing-daily",
        ),
    }


@router.get("/staffing", response_class=HTMLResponse)
async def staffing_page(request: Request, session: SessionDep, agent: PageAgent) -> HTMLResponse:
    if not agent.sees_everything:
        raise NotFound("not found")
    query, valid = _query(request)
    try:
        plan = await planner.plan(session, query.parameters(), now=utcnow())
    except Invalid:  # a target no roster meets: the defaults, and say so
        query, valid = StaffingQuery.model_validate({}), False
        plan = await planner.plan(session, query.parameters(), now=utcnow())
    lang = language(agent.language)
    return render(
        request,
        "staffing.html",
        {
            "query": query,
            "valid": valid,
            "plan": plan,
            "channels": CHANNELS,
            "zones": sorted({*await repository.calendar_zones(session), plan.tz}),
            "csv_query": request.url.query,
            "fixed": lambda value: format_number(round(value, 1), lang),
            **_charts(plan, lang),
        },
        agent=agent,
    )


@router.get("/staffing.csv")
async def staffing_csv(request: Request, session: SessionDep, agent: PageAgent) -> Response:
    if not agent.sees_everything:
        raise NotFound("not found")
    query, _valid = _query(request)
    plan = await planner.plan(session, query.parameters(), now=utcnow())
    response = Response(
        as_csv(plan),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": 'attachment; filename="staffing.csv"'},
    )
    secure_headers(response)
    return response

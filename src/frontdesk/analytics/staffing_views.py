"""Staffing over HTTP: the plan for supervisors and admins, as JSON or CSV."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from frontdesk.analytics import planner
from frontdesk.analytics.staffing_schemas import StaffingQuery, StaffingRead, as_csv
from frontdesk.db import utcnow
from frontdesk.deps import CurrentAgent, SessionDep
from frontdesk.kit.errors import Forbidden
from frontdesk.kit.openapi import errors

router = APIRouter(tags=["reports"])


@router.get(
    "/reports/staffing",
    response_model=StaffingRead,
    responses={**errors(403), 200: {"content": {"text/csv": {}}}},
)
async def staffing_report(
    query: Annotated[StaffingQuery, Query()], session: SessionDep, agent: CurrentAgent
) -> StaffingRead | Response:
    """Agents needed per hour of week for a service-level target, from measured data."""
    if not agent.sees_everything:
        raise Forbidden("only admins and supervisors see staffing", code="supervisor_only")
    found = await planner.plan(session, query.parameters(), now=utcnow())
    if query.format == "csv":
        return Response(
            as_csv(found),
            media_type="text/csv; charset=utf-8",
            headers={"content-disposition": 'attachment; filename="staffing.csv"'},
        )
    return StaffingRead.of(found)

"""Turning a request's query string into ReportFilters, with the caller's visibility."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

from fastapi import Query
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.analytics import report_repository
from frontdesk.analytics.schemas import ReportFilters
from frontdesk.auth.models import Agent
from frontdesk.db import utcnow
from frontdesk.inboxes.service import visible_inbox_ids
from frontdesk.kit.errors import Invalid, NotFound
from frontdesk.kit.schemas import MAX_ID

# A report covers at most this long (the hourly rollups of a longer period make slow pages).
MAX_DAYS = 400
DEFAULT_DAYS = 28
CHANNEL_PATTERN = r"^[a-z_]{1,20}$"


def _moment(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), time(), tzinfo=UTC)
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise Invalid(f"{name} must be a date (YYYY-MM-DD) or an ISO 8601 time",
                      code="invalid_period") from None  # fmt: skip
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def period(start: str | None, end: str | None) -> tuple[datetime, datetime]:
    """[start, end) on hour boundaries; the default is the 28 whole UTC days up to and
    including today (whole days read the daily rollups)."""
    today = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    stop = _moment(end, "end") or today + timedelta(days=1)
    begin = _moment(start, "start") or stop - timedelta(days=DEFAULT_DAYS)
    begin, stop = (m.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
                   for m in (begin, stop))  # fmt: skip
    if stop <= begin:
        raise Invalid("end must come after start", code="invalid_period")
    if stop - begin > timedelta(days=MAX_DAYS):
        raise Invalid(f"a report covers at most {MAX_DAYS} days", code="invalid_period")
    return begin, stop


class ReportQuery:
    """The filters every report takes (FastAPI dependency)."""

    def __init__(
        self,
        start: Annotated[str | None, Query(description="YYYY-MM-DD or ISO time (UTC)")] = None,
        end: Annotated[str | None, Query(description="exclusive; default: now")] = None,
        channel: Annotated[str | None, Query(pattern=CHANNEL_PATTERN)] = None,
        inbox_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
        team_id: Annotated[int | None, Query(ge=0, le=MAX_ID, description="0: no team")] = None,
        agent_id: Annotated[int | None, Query(ge=0, le=MAX_ID, description="0: unassigned")] = None,
        tag: Annotated[str | None, Query(max_length=100)] = None,
    ) -> None:
        self.start, self.end = start, end
        self.channel, self.inbox_id, self.team_id = channel, inbox_id, team_id
        self.agent_id, self.tag = agent_id, tag

    async def filters(self, session: AsyncSession, agent: Agent) -> ReportFilters:
        begin, stop = period(self.start, self.end)
        await report_repository.tune(session)
        visible = await visible_inbox_ids(session, agent)
        if self.inbox_id and visible is not None and self.inbox_id not in visible:
            raise NotFound("inbox not found")
        tag_id = None
        if self.tag:
            tag_id = (await report_repository.tag_ids_by_name(session, [self.tag])).get(
                self.tag, -1
            )
        return ReportFilters(
            start=begin,
            end=stop,
            channel=self.channel,
            inbox_id=self.inbox_id,
            team_id=self.team_id,
            agent_id=self.agent_id,
            tag=self.tag,
            tag_id=tag_id,
            inbox_ids=frozenset(visible) if visible is not None else None,
        )

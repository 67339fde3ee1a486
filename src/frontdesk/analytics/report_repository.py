"""The reports' SQL: sums over the rollup tables (never messages), read from the smallest
table that keeps what a report filters and groups by (rollup_repository keeps the tables)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Select, Table, bindparam, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.analytics.models import MEASURES, TOTALS
from frontdesk.analytics.rollup_repository import CUBES
from frontdesk.analytics.schemas import ReportFilters
from frontdesk.auth.models import Agent, Team
from frontdesk.conversations.models import Tag
from frontdesk.db import UTCDateTime
from frontdesk.inboxes.models import Inbox


def _postgres(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


async def tune(session: AsyncSession) -> None:
    """Per report transaction: PostgreSQL's JIT compiles the wide sums of a long period
    (tens of ms for every statement) and never wins it back on a few thousand rows."""
    if _postgres(session):
        await session.execute(text("SET LOCAL jit = off"))


def whole_days(filters: ReportFilters) -> bool:
    return filters.start.hour == 0 and filters.end.hour == 0


def pick(
    filters: ReportFilters, *, daily: bool, by: Sequence[str] = (), period: bool = True
) -> Table:
    """The smallest rollup table of the grain that keeps every dimension the filters and
    the grouping `by` need; daily only when asked and the period is whole UTC days."""
    needed = {name for name in by if name not in ("hour", "tag_id")}
    if filters.channel:
        needed.add("channel")
    if filters.inbox_id or filters.inbox_ids is not None:
        needed.add("inbox_id")
    if filters.team_id is not None:
        needed.add("team_id")
    if filters.agent_id is not None:
        needed.add("agent_id")
    daily = daily and (not period or whole_days(filters))
    return next(c.table for c in CUBES if c.daily == daily and needed <= c.keeps)


def _filtered(
    query: Select[Any],
    table: Table,
    filters: ReportFilters,
    *,
    period: bool = True,
    per_tag: bool = False,
) -> Select[Any]:
    # Uses index: the full tables' ix_analytics_{hourly,daily}_tag_hour (tag_id, hour); the
    # coarser ones' primary keys lead with (tag_id, hour).
    if per_tag and filters.tag_id is None:
        query = query.where(table.c.tag_id > 0)
    else:
        query = query.where(table.c.tag_id == (filters.tag_id or 0))
    if period:
        query = query.where(table.c.hour >= filters.start, table.c.hour < filters.end)
    if filters.channel:
        query = query.where(table.c.channel == filters.channel)
    if filters.inbox_id:
        query = query.where(table.c.inbox_id == filters.inbox_id)
    if filters.team_id is not None:
        query = query.where(table.c.team_id == filters.team_id)
    if filters.agent_id is not None:
        query = query.where(table.c.agent_id == filters.agent_id)
    if filters.inbox_ids is not None:
        query = query.where(table.c.inbox_id.in_(filters.inbox_ids or {-1}))
    return query


def _sums(table: Table, measures: Sequence[str]) -> list[Any]:
    return list(_sum_columns(table, tuple(measures)))


@lru_cache(maxsize=64)
def _sum_columns(table: Table, measures: tuple[str, ...]) -> tuple[Any, ...]:
    # Built once: a report's statement is a hundred aggregates, and building the expression
    # objects cost more than SQLAlchemy's compiled-statement cache saves.
    return tuple(func.coalesce(func.sum(table.c[m]), 0).label(m) for m in measures)


@lru_cache(maxsize=4)
def _pair_columns(table: Table) -> tuple[Any, ...]:
    """Each measure summed over the rows at or after :split, then over those before it."""
    now = table.c.hour >= bindparam("split", type_=UTCDateTime())
    # FILTER, not sum(CASE ...): a third of the time on PostgreSQL (SQLite has it too).
    return tuple(
        [func.coalesce(func.sum(table.c[m]).filter(now), 0) for m in TOTALS]
        + [func.coalesce(func.sum(table.c[m]).filter(~now), 0) for m in TOTALS]
    )


async def totals(session: AsyncSession, filters: ReportFilters) -> dict[str, int]:
    table = pick(filters, daily=True)
    row = (await session.execute(_filtered(select(*_sums(table, MEASURES)), table, filters))).one()
    return {m: int(v) for m, v in zip(MEASURES, row, strict=True)}


async def totals_pair(
    session: AsyncSession, filters: ReportFilters
) -> tuple[dict[str, int], dict[str, int]]:
    """The sums of the period and of the previous one of the same length, in one pass over
    both periods' rows."""
    before = filters.previous()
    both = replace(filters, start=before.start)
    table = pick(both, daily=True)
    query = _filtered(select(*_pair_columns(table)), table, both)
    row = (await session.execute(query, {"split": filters.start})).one()
    values = [int(v) for v in row]
    return (dict(zip(TOTALS, values[: len(TOTALS)], strict=True)),
            dict(zip(TOTALS, values[len(TOTALS) :], strict=True)))  # fmt: skip


async def open_by_hour(
    session: AsyncSession, filters: ReportFilters, *, since: datetime
) -> tuple[list[tuple[datetime, int]], int, datetime | None]:
    """The backlog's rows: conversations open now per hour opened since `since` (a day
    boundary; hourly rows), how many were opened before it (daily rows), and the hour the
    oldest was opened. Uses index: ix_analytics_*_open (partial: open_now <> 0; tag_id,
    hour)."""
    hourly = pick(filters, daily=False, period=False)
    daily = pick(filters, daily=True, period=False)
    recent = (
        _filtered(select(hourly.c.hour, func.sum(hourly.c.open_now)), hourly, filters, period=False)
        .where(hourly.c.open_now != 0, hourly.c.hour >= since)
        .group_by(hourly.c.hour)
    )
    rows = [(hour, int(n)) for hour, n in (await session.execute(recent)).all() if n]
    older = _filtered(
        select(func.coalesce(func.sum(daily.c.open_now), 0)), daily, filters, period=False
    ).where(daily.c.open_now != 0, daily.c.hour < since)
    oldest = _filtered(select(func.min(hourly.c.hour)), hourly, filters, period=False).where(
        hourly.c.open_now != 0
    )
    row = (await session.execute(select(older.scalar_subquery(), oldest.scalar_subquery()))).one()
    return rows, int(row[0] or 0), row[1]


async def grouped(
    session: AsyncSession,
    filters: ReportFilters,
    by: str,
    measures: Sequence[str],
    *,
    period: bool = True,
    hourly: bool = False,
) -> list[tuple[Any, dict[str, int]]]:
    """Sums of `measures` per value of one dimension (hour, channel, inbox_id, ...); `hour`
    groups by day unless `hourly` (or the period is not whole days)."""
    table = pick(filters, daily=period and not hourly, by=[by])
    column = table.c[by]
    query = _filtered(
        select(column, *_sums(table, measures)), table, filters, period=period,
        per_tag=by == "tag_id",
    ).group_by(column)  # fmt: skip
    rows = await session.execute(query.order_by(column))
    return [
        (row[0], {m: int(v) for m, v in zip(measures, row[1:], strict=True)}) for row in rows.all()
    ]


async def grouped_pairs(
    session: AsyncSession, filters: ReportFilters, first: str, second: str, measures: Sequence[str]
) -> list[tuple[tuple[Any, Any], dict[str, int]]]:
    """Sums of `measures` per pair of dimension values over the period."""
    table = pick(filters, daily=True, by=[first, second])
    columns = (table.c[first], table.c[second])
    query = _filtered(select(*columns, *_sums(table, measures)), table, filters).group_by(*columns)
    rows = await session.execute(query)
    return [
        ((row[0], row[1]), {m: int(v) for m, v in zip(measures, row[2:], strict=True)})
        for row in rows.all()
    ]


async def tag_ids_by_name(session: AsyncSession, names: Sequence[str]) -> dict[str, int]:
    rows = await session.execute(select(Tag.name, Tag.id).where(Tag.name.in_(names)))
    return {name: int(tag_id) for name, tag_id in rows.all()}


async def names(session: AsyncSession, kind: str, ids: Sequence[int]) -> dict[int, str]:
    """Display names of inboxes, teams, agents or tags by id."""
    model: Any = {"inbox": Inbox, "team": Team, "agent": Agent, "tag": Tag}[kind]
    rows = await session.execute(select(model.id, model.name).where(model.id.in_(ids)))
    return {int(key): name for key, name in rows.all()}

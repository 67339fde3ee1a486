"""The rollups' SQL (analytics/repository.py holds the staffing and journey queries).
Reports read only the rollup tables (never messages) and aggregate; the catch-up reads the
event log after its cursor and the conversations its events name."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Select, Table, bindparam, delete, func, literal, select, text, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import TextClause

from frontdesk.analytics.facts import Dimensions, Facts, Key
from frontdesk.analytics.models import (
    DIMENSIONS,
    MEASURES,
    TOTALS,
    AgentHourly,
    AgentState,
    AnalyticsCursor,
    ConversationFact,
    DailyByAgent,
    DailyByInbox,
    DailyByTag,
    DailyRollup,
    HourlyByInbox,
    HourlyByTag,
    HourlyRollup,
)
from frontdesk.analytics.occupancy import AgentState as AgentFold
from frontdesk.analytics.schemas import ReportFilters
from frontdesk.auth.models import Agent, Team, TeamMember
from frontdesk.conversations.models import Conversation, ConversationTag, Tag
from frontdesk.db import UTCDateTime, utcnow
from frontdesk.inboxes.models import Inbox
from frontdesk.kit.events import Event
from frontdesk.sla import businesstime
from frontdesk.sla.businesstime import Calendar
from frontdesk.sla.models import SlaCalendar, SlaClock, SlaPolicy

CURSOR = "rollups"
FACTS: Table = ConversationFact.__table__  # type: ignore[assignment]
FACT_FIELDS = tuple(Facts.__dataclass_fields__)
_PG = postgresql.dialect()


@dataclass(frozen=True)
class Cube:
    """A rollup table: per hour or per day, and the dimensions it keeps besides the bucket
    and tag_id (models: the coarser copies sum the same contributions over fewer)."""

    table: Table
    daily: bool
    keeps: frozenset[str]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(d for d in DIMENSIONS if d in ("hour", "tag_id") or d in self.keeps)


def _cube(model: Any, daily: bool, *keeps: str) -> Cube:
    return Cube(model.__table__, daily, frozenset(keeps))


EVERY = frozenset(DIMENSIONS) - {"hour", "tag_id"}
# Smallest first: a report reads the first of its grain that keeps what it filters and groups.
CUBES = (
    _cube(HourlyByTag, False),
    _cube(HourlyByInbox, False, "inbox_id", "channel"),
    _cube(HourlyRollup, False, *EVERY),
    _cube(DailyByTag, True),
    _cube(DailyByInbox, True, "inbox_id", "channel"),
    _cube(DailyByAgent, True, "team_id", "agent_id"),
    _cube(DailyRollup, True, *EVERY),
)


def _postgres(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


# The cursor


async def lock_cursor(session: AsyncSession, *, wait: bool) -> int | None:
    """The rollups' position in the event log, locked for this transaction; None when another
    worker holds it and `wait` is false (that worker is folding the same events)."""
    insert = pg_insert if _postgres(session) else sqlite_insert
    await session.execute(
        insert(AnalyticsCursor).values(name=CURSOR, sequence=0).on_conflict_do_nothing()
    )
    query = select(AnalyticsCursor.sequence).where(AnalyticsCursor.name == CURSOR)
    if _postgres(session):
        query = query.with_for_update(skip_locked=not wait)
    value = await session.scalar(query)
    return None if value is None else int(value)


async def read_cursor(session: AsyncSession) -> tuple[int, datetime | None]:
    row = (
        await session.execute(
            select(AnalyticsCursor.sequence, AnalyticsCursor.updated_at).where(
                AnalyticsCursor.name == CURSOR
            )
        )
    ).first()
    return (int(row[0]), row[1]) if row else (0, None)


async def move_cursor(session: AsyncSession, sequence: int) -> None:
    await session.execute(
        update(AnalyticsCursor)
        .where(AnalyticsCursor.name == CURSOR)
        .values(sequence=sequence, updated_at=utcnow())
    )


async def last_sequence(session: AsyncSession) -> int:
    # Uses index: the primary key, read backwards.
    value = await session.scalar(select(func.max(Event.sequence)))
    return int(value or 0)


async def events_after(session: AsyncSession, sequence: int, *, limit: int) -> list[dict[str, Any]]:
    """Events after `sequence`, oldest first (a primary key range)."""
    rows = await session.execute(
        select(Event.sequence, Event.type, Event.at, Event.inbox_id, Event.conversation_id,
               Event.payload)
        .where(Event.sequence > sequence)
        .order_by(Event.sequence)
        .limit(limit)
    )  # fmt: skip
    return [row._asdict() for row in rows.all()]


# Facts


async def load_facts(session: AsyncSession, ids: Sequence[int]) -> dict[int, Facts]:
    rows = await session.scalars(
        select(ConversationFact).where(ConversationFact.conversation_id.in_(ids))
    )
    return {
        row.conversation_id: Facts(**{name: getattr(row, name) for name in FACT_FIELDS})
        for row in rows.all()
    }


async def dimensions(session: AsyncSession, ids: Sequence[int]) -> dict[int, Dimensions]:
    """Where each named conversation is filed now; a deleted one is missing."""
    rows = await session.execute(
        select(Conversation.id, Conversation.inbox_id, Conversation.team_id,
               Conversation.assignee_id, Conversation.status)
        .where(Conversation.id.in_(ids))
    )  # fmt: skip
    tags: dict[int, list[int]] = {}
    for conversation_id, tag_id in (
        await session.execute(
            select(ConversationTag.conversation_id, ConversationTag.tag_id).where(
                ConversationTag.conversation_id.in_(ids)
            )
        )
    ).all():
        tags.setdefault(conversation_id, []).append(tag_id)
    return {
        row[0]: Dimensions(row[1], row[2] or 0, row[3] or 0, tuple(tags.get(row[0], ())), row[4])
        for row in rows.all()
    }


async def calendars(session: AsyncSession, ids: Sequence[int]) -> dict[int, tuple[int, Calendar]]:
    """conversation → (calendar id, calendar) of the SLA policy its clocks run under; a
    conversation without clocks, or under a policy without a calendar, is missing.
    Uses index: uq_sla_clocks_conversation_kind (conversation_id first)."""
    rows = await session.execute(
        select(SlaClock.conversation_id, SlaCalendar.id, SlaCalendar.time_zone,
               SlaCalendar.hours, SlaCalendar.holidays)
        .join(SlaPolicy, SlaPolicy.id == SlaClock.policy_id)
        .join(SlaCalendar, SlaCalendar.id == SlaPolicy.calendar_id)
        .where(SlaClock.conversation_id.in_(ids))
        .order_by(SlaClock.conversation_id, SlaClock.id)
    )  # fmt: skip
    built: dict[int, Calendar] = {}
    found: dict[int, tuple[int, Calendar]] = {}
    for conversation_id, calendar_id, zone, hours, holidays in rows.all():
        if conversation_id in found:
            continue  # the first clock's policy (all of a conversation's clocks share one)
        if calendar_id not in built:
            try:
                built[calendar_id] = businesstime.calendar(zone, hours or {}, holidays or ())
            except (ValueError, KeyError):
                continue  # a calendar the SLA pages refuse cannot be stored; be safe anyway
        found[conversation_id] = (calendar_id, built[calendar_id])
    return found


async def save_facts(session: AsyncSession, facts: Sequence[Facts]) -> None:
    if not facts:
        return
    # Core, not the ORM's bulk path (several times slower here); shallow dicts.
    values = [{name: getattr(item, name) for name in FACT_FIELDS} for item in facts]
    if _postgres(session):  # one set-based statement (see _json_upsert)
        await session.execute(_json_upsert(FACTS), {"rows": _json(values)})
        return
    statement = sqlite_insert(FACTS)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["conversation_id"],
            set_={name: statement.excluded[name] for name in FACT_FIELDS[1:]},
        ),
        values,
    )


async def delete_facts(session: AsyncSession, ids: Sequence[int]) -> None:
    if ids:
        await session.execute(
            delete(ConversationFact).where(ConversationFact.conversation_id.in_(ids))
        )


# Rollups


async def add_to_rollups(session: AsyncSession, delta: dict[Key, dict[str, int]]) -> None:
    """Add each row of `delta` (hourly keys) to its row in every rollup table (each created
    at zero when missing): one statement per table."""
    if not delta:
        return
    for cube in CUBES:
        positions = [DIMENSIONS.index(name) for name in cube.names]
        rows: dict[tuple[Any, ...], dict[str, int]] = {}
        for key, row in delta.items():
            hour = key[0].replace(hour=0) if cube.daily else key[0]
            target = rows.setdefault((hour, *(key[i] for i in positions[1:])), {})
            for name, value in row.items():
                target[name] = target.get(name, 0) + value
        await _add(session, cube, rows)


async def _add(
    session: AsyncSession, cube: Cube, delta: dict[tuple[Any, ...], dict[str, int]]
) -> None:
    rows = [(key, row) for key, row in delta.items() if any(row.values())]
    if not rows:
        return
    if _postgres(session):
        # One set-based statement: the rows travel as one JSON array holding only the
        # measures that move (a few of sixty), where an executemany ran one upsert per row
        # (nine tenths of the fold's time).
        payload = [
            {**dict(zip(cube.names, key, strict=True)), **{m: v for m, v in row.items() if v}}
            for key, row in rows
        ]
        await session.execute(_json_upsert(cube.table), {"rows": _json(payload)})
        return
    table = cube.table
    statement = sqlite_insert(table)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=list(table.primary_key.columns),
            set_={m: table.c[m] + statement.excluded[m] for m in MEASURES},
        ),
        [{**dict(zip(cube.names, key, strict=True)), **{m: row.get(m, 0) for m in MEASURES}}
         for key, row in rows],
    )  # fmt: skip


def _json(rows: list[dict[str, Any]]) -> str:
    return json.dumps(rows, default=datetime.isoformat, separators=(",", ":"))


@lru_cache(maxsize=16)
def _json_upsert(table: Table) -> TextClause:
    """PostgreSQL: upsert a JSON array of rows into `table` in one statement. A rollup row
    names its key and the measures that move (a missing one adds 0) and is added to the
    stored row; any other row replaces the stored one."""
    keys = list(table.primary_key.columns.keys())
    names = [column.name for column in table.columns]
    record = ", ".join(f"{name} {table.c[name].type.compile(_PG)}" for name in names)
    adds = table in {cube.table for cube in CUBES}
    values = ", ".join(f"coalesce({n}, 0)" if adds and n in MEASURES else n for n in names)
    sets = ", ".join(
        f"{n} = {table.name}.{n} + excluded.{n}" if adds else f"{n} = excluded.{n}"
        for n in names
        if n not in keys
    )
    return text(
        f"INSERT INTO {table.name} ({', '.join(names)}) SELECT {values} "
        f"FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r({record}) "
        f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {sets}"
    )


# Occupancy


async def agent_states(session: AsyncSession) -> dict[int, AgentFold]:
    """Every agent's occupancy fold state (one row per agent who ever had an event)."""
    rows = await session.scalars(select(AgentState))
    return {
        row.agent_id: AgentFold(row.agent_id, row.status, row.at, list(row.task_ids or []))
        for row in rows.all()
    }


async def save_agent_states(session: AsyncSession, states: Sequence[AgentFold]) -> None:
    if not states:
        return
    insert = pg_insert if _postgres(session) else sqlite_insert
    statement = insert(AgentState)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["agent_id"],
            set_={n: statement.excluded[n] for n in ("status", "at", "task_ids")},
        ),
        [{"agent_id": s.agent_id, "status": s.status, "at": s.at, "task_ids": s.task_ids}
         for s in states],
    )  # fmt: skip


async def add_agent_hours(
    session: AsyncSession, delta: dict[tuple[datetime, int], tuple[int, int]]
) -> None:
    if not delta:
        return
    insert = pg_insert if _postgres(session) else sqlite_insert
    statement = insert(AgentHourly)
    table = AgentHourly.__table__
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["hour", "agent_id"],
            set_={n: table.c[n] + statement.excluded[n]
                  for n in ("staffed_seconds", "handling_seconds")},
        ),
        [{"hour": hour, "agent_id": agent_id, "staffed_seconds": staffed,
          "handling_seconds": handling}
         for (hour, agent_id), (staffed, handling) in delta.items()],
    )  # fmt: skip


async def agent_occupancy(
    session: AsyncSession, filters: ReportFilters, *, by_agent: bool = False
) -> dict[int, tuple[int, int]]:
    """agent → (staffed, handling seconds) in the period (key 0: every agent together),
    for the agent filter, or the team filter's members. Uses index: the primary key
    (hour, agent_id): a range of hours."""
    table = AgentHourly.__table__
    key = table.c.agent_id if by_agent else literal(0)
    query = (
        select(key, func.coalesce(func.sum(table.c.staffed_seconds), 0),
               func.coalesce(func.sum(table.c.handling_seconds), 0))
        .where(table.c.hour >= filters.start, table.c.hour < filters.end)
        .group_by(key)
    )  # fmt: skip
    if filters.agent_id is not None:
        query = query.where(table.c.agent_id == filters.agent_id)
    if filters.team_id is not None:
        members = select(TeamMember.agent_id).where(TeamMember.team_id == filters.team_id)
        query = query.where(table.c.agent_id.in_(members))
    rows = await session.execute(query)
    return {int(agent): (int(staffed), int(handling)) for agent, staffed, handling in rows.all()}


async def clear(session: AsyncSession) -> None:
    """Forget every fact and rollup, and rewind the cursor (a backfill starts here)."""
    for cube in CUBES:
        await session.execute(delete(cube.table))
    await session.execute(delete(ConversationFact))
    await session.execute(delete(AgentHourly))
    await session.execute(delete(AgentState))
    await lock_cursor(session, wait=True)
    await move_cursor(session, 0)


async def rollup_rows(
    session: AsyncSession, *, daily: bool = False, table: str | None = None
) -> dict[tuple[Any, ...], dict[str, int]]:
    """Every non-zero row of the full hourly (or daily) rollups, or of the named table, keyed
    in DIMENSIONS order (tests compare incremental rollups with a rebuild)."""
    cube = next(c for c in CUBES if c.table.name == table) if table else (
        _cube(DailyRollup if daily else HourlyRollup, daily, *EVERY)
    )  # fmt: skip
    names = cube.names
    rows = await session.execute(select(*(cube.table.c[n] for n in (*names, *MEASURES))))
    found: dict[tuple[Any, ...], dict[str, int]] = {}
    for row in rows.all():
        measures = {m: int(v) for m, v in zip(MEASURES, row[len(names) :], strict=True) if v}
        if measures:
            found[tuple(row[: len(names)])] = measures
    return found


# Reports


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

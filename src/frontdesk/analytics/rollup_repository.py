"""The rollups' SQL on the writing side: the cursor, the event log after it, the conversation
facts and the rollup tables the fold keeps (report_repository.py reads them for the reports;
analytics/repository.py holds the staffing and journey queries)."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    JSON,
    Table,
    bindparam,
    case,
    delete,
    func,
    literal,
    null,
    select,
    text,
    type_coerce,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import TextClause

from frontdesk.analytics.facts import Dimensions, Facts, Key
from frontdesk.analytics.models import (
    DIMENSIONS,
    MEASURES,
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
from frontdesk.auth.models import TeamMember
from frontdesk.conversations.models import Conversation, ConversationTag
from frontdesk.db import utcnow
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


async def events_after(
    session: AsyncSession, sequence: int, *, limit: int, skip_payload: Collection[str] = ()
) -> list[dict[str, Any]]:
    """Events after `sequence`, oldest first (a primary key range); the events of the types
    in `skip_payload` come without their payload (None): one delivery receipt apiece, they
    are most of the log, and decoding JSON nobody reads cost the job workers CPU."""
    payload = (
        type_coerce(case((Event.type.in_(sorted(skip_payload)), null()), else_=Event.payload), JSON)
        if skip_payload
        else Event.payload
    )
    rows = await session.execute(
        select(Event.sequence, Event.type, Event.at, Event.inbox_id, Event.conversation_id,
               payload.label("payload"))
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
    await session.execute(_sqlite_upsert(FACTS, FACT_FIELDS), values)


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
    await session.execute(
        _sqlite_upsert(cube.table, cube.names + MEASURES),
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


@lru_cache(maxsize=16)
def _sqlite_upsert(table: Table, names: tuple[str, ...]) -> TextClause:
    """SQLite: `_json_upsert`'s statement for rows passed as parameters (an executemany),
    built once: a rollup row is added to the stored row, any other row replaces it. Built
    for each call with SQLAlchemy's `on_conflict_do_update` (sixty measures, seven tables),
    it cost a fold round more than the fold itself, each second, with the write lock held."""
    keys = list(table.primary_key.columns.keys())
    adds = table in {cube.table for cube in CUBES}
    sets = ", ".join(
        f"{n} = {table.name}.{n} + excluded.{n}" if adds else f"{n} = excluded.{n}"
        for n in names
        if n not in keys
    )
    statement = text(
        f"INSERT INTO {table.name} ({', '.join(names)}) "
        f"VALUES ({', '.join(':' + n for n in names)}) "
        f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {sets}"
    )
    return statement.bindparams(*(bindparam(n, type_=table.c[n].type) for n in names))


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

"""The rollups' SQL (analytics/repository.py holds the staffing and journey queries).
Reports read only the rollup tables (never messages) and aggregate; the catch-up reads the
event log after its cursor and the conversations its events name."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, Table, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.analytics.facts import Dimensions, Facts, Key
from frontdesk.analytics.models import (
    DIMENSIONS,
    MEASURES,
    AnalyticsCursor,
    ConversationFact,
    DailyRollup,
    HourlyRollup,
)
from frontdesk.analytics.schemas import ReportFilters
from frontdesk.auth.models import Agent, Team
from frontdesk.conversations.models import Conversation, ConversationTag, Tag
from frontdesk.db import utcnow
from frontdesk.inboxes.models import Inbox
from frontdesk.kit.events import Event

CURSOR = "rollups"
HOURLY: Table = HourlyRollup.__table__  # type: ignore[assignment]
DAILY: Table = DailyRollup.__table__  # type: ignore[assignment]
FACTS: Table = ConversationFact.__table__  # type: ignore[assignment]
FACT_FIELDS = tuple(Facts.__dataclass_fields__)


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


async def save_facts(session: AsyncSession, facts: Sequence[Facts]) -> None:
    if not facts:
        return
    insert = pg_insert if _postgres(session) else sqlite_insert
    # Core, not the ORM's bulk path (several times slower here); shallow dicts.
    values = [{name: getattr(item, name) for name in FACT_FIELDS} for item in facts]
    statement = insert(FACTS)
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
    """Add each row of `delta` (hourly keys) to its hourly and its daily rollup row (each
    created at zero when missing)."""
    if not delta:
        return
    daily: dict[Key, dict[str, int]] = {}
    for key, row in delta.items():
        target = daily.setdefault((key[0].replace(hour=0), *key[1:]), {})
        for name, value in row.items():
            target[name] = target.get(name, 0) + value
    for table, rows in ((HOURLY, delta), (DAILY, daily)):
        await _add(session, table, rows)


async def _add(session: AsyncSession, table: Table, delta: dict[Key, dict[str, int]]) -> None:
    insert = pg_insert if _postgres(session) else sqlite_insert
    values = [
        {**dict(zip(DIMENSIONS, key, strict=True)), **{m: row.get(m, 0) for m in MEASURES}}
        for key, row in delta.items()
        if any(row.values())
    ]
    if not values:
        return
    statement = insert(table)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=list(DIMENSIONS),
            set_={m: table.c[m] + statement.excluded[m] for m in MEASURES},
        ),
        values,
    )


async def clear(session: AsyncSession) -> None:
    """Forget every fact and rollup, and rewind the cursor (a backfill starts here)."""
    await session.execute(delete(HOURLY))
    await session.execute(delete(DAILY))
    await session.execute(delete(ConversationFact))
    await lock_cursor(session, wait=True)
    await move_cursor(session, 0)


async def rollup_rows(session: AsyncSession, *, daily: bool = False) -> dict[Key, dict[str, int]]:
    """Every non-zero rollup row (tests compare incremental rollups with a rebuild)."""
    table = DAILY if daily else HOURLY
    rows = await session.execute(select(*(table.c[n] for n in (*DIMENSIONS, *MEASURES))))
    found: dict[Key, dict[str, int]] = {}
    for row in rows.all():
        measures = {m: int(v) for m, v in zip(MEASURES, row[len(DIMENSIONS) :], strict=True) if v}
        if measures:
            found[tuple(row[: len(DIMENSIONS)])] = measures
    return found


# Reports


def _table(filters: ReportFilters, period: bool) -> Table:
    """The daily rollups when the period is whole UTC days and nothing asks for hours."""
    whole_days = filters.start.hour == 0 and filters.end.hour == 0
    return DAILY if period and whole_days else HOURLY


def _filtered(
    query: Select[Any],
    table: Table,
    filters: ReportFilters,
    *,
    period: bool = True,
    per_tag: bool = False,
) -> Select[Any]:
    # Uses index: ix_analytics_{hourly,daily}_tag_hour (tag_id, hour).
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
    return [func.coalesce(func.sum(table.c[m]), 0).label(m) for m in measures]


async def totals(session: AsyncSession, filters: ReportFilters) -> dict[str, int]:
    table = _table(filters, True)
    row = (await session.execute(_filtered(select(*_sums(table, MEASURES)), table, filters))).one()
    return {m: int(v) for m, v in zip(MEASURES, row, strict=True)}


async def grouped(
    session: AsyncSession,
    filters: ReportFilters,
    by: str,
    measures: Sequence[str],
    *,
    period: bool = True,
    hourly: bool = False,
    open_only: bool = False,
) -> list[tuple[Any, dict[str, int]]]:
    """Sums of `measures` per value of one dimension (hour, channel, inbox_id, ...); `hour`
    groups by day unless `hourly` (or the period is not whole days)."""
    table = HOURLY if hourly else _table(filters, period)
    column = table.c[by]
    query = _filtered(
        select(column, *_sums(table, measures)), table, filters, period=period,
        per_tag=by == "tag_id",
    ).group_by(column)  # fmt: skip
    if open_only:
        # Uses index: ix_analytics_hourly_open (partial: open_now <> 0).
        query = query.where(table.c.open_now != 0)
    rows = await session.execute(query.order_by(column))
    return [
        (row[0], {m: int(v) for m, v in zip(measures, row[1:], strict=True)}) for row in rows.all()
    ]


async def tag_ids_by_name(session: AsyncSession, names: Sequence[str]) -> dict[str, int]:
    rows = await session.execute(select(Tag.name, Tag.id).where(Tag.name.in_(names)))
    return {name: int(tag_id) for name, tag_id in rows.all()}


async def names(session: AsyncSession, kind: str, ids: Sequence[int]) -> dict[int, str]:
    """Display names of inboxes, teams, agents or tags by id."""
    model: Any = {"inbox": Inbox, "team": Team, "agent": Agent, "tag": Tag}[kind]
    rows = await session.execute(select(model.id, model.name).where(model.id.in_(ids)))
    return {int(key): name for key, name in rows.all()}

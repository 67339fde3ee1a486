"""Unit of work: commit writes the queued events, then side effects run (never before)."""

from __future__ import annotations

import functools
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from sqlalchemy import (
    DateTime,
    Integer,
    String,
    Text,
    bindparam,
    cast,
    column,
    func,
    insert,
    literal,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.db import begin_read, execute_then_commit, next_keys, utcnow
from frontdesk.kit.events import PENDING_EVENTS, Event, event_message

AFTER_COMMIT = "frontdesk.after_commit"
# Called with (session, the events about to be written, no sequences yet) before the event
# lock is taken: whatever they read (e.g. whether a subscriber is enabled) does not hold up
# every other writer of events meanwhile.
BEFORE_EVENTS: list[Callable[[AsyncSession, list[dict[str, Any]]], Awaitable[None]]] = []
# SQLite: called with (session, the events about to be written, sequences assigned) just
# before the commit, so what they add (jobs reacting to events) commits atomically with the
# events. PostgreSQL has EVENT_JOBS instead: nothing may run between its event statement and
# the commit.
BEFORE_COMMIT: list[Callable[[AsyncSession, list[dict[str, Any]]], Awaitable[None]]] = []
# PostgreSQL: called with (session, the events about to be written, no sequences yet) after
# BEFORE_EVENTS: the jobs that react to them, as (index of the event in the list, job kind).
# The statement that writes the events inserts them too (payload: the event as clients get
# it; key "<kind>:<sequence>", a key queued before is skipped), and the commit goes in the
# same round trip: the event lock is never held while the client is away.
EVENT_JOBS: list[Callable[[AsyncSession, list[dict[str, Any]]], list[tuple[int, str]]]] = []
EVENTS = Event.metadata.tables["events"]
# Any constant works; it only has to be the same in every process sharing the database.
EVENT_LOCK_KEY = 7_242_001

T = TypeVar("T")


def after_commit(session: AsyncSession, hook: Callable[[], Awaitable[None]]) -> None:
    session.info.setdefault(AFTER_COMMIT, []).append(hook)


async def commit(session: AsyncSession) -> list[dict[str, Any]]:
    """Write queued events, commit, then publish them and run after-commit hooks."""
    pending = session.info.pop(PENDING_EVENTS, [])
    if pending:
        # The transaction's own writes and reads go first, outside the lock: every writer of
        # events in every process queues on that one lock, and a busy server's transaction
        # holds it for each round trip it makes (plus the event loop's wait to resume it).
        await session.flush()
        for prepare in BEFORE_EVENTS:
            await prepare(session, pending)
        postgres = session.get_bind().dialect.name == "postgresql"
        if postgres:  # committed with its event statement
            reacting = [job for jobs in EVENT_JOBS for job in jobs(session, pending)]
            await session.flush()  # what the hooks added, before the lock
            sequences = await _append_and_commit(session, pending, reacting)
        else:  # SQLite: the transaction holds the database's one write lock already
            sequences = await next_keys(session, Event, len(pending))
            # One executemany, no ORM objects: the log is append-only and nobody reads
            # these rows back in this transaction.
            await session.execute(insert(EVENTS), [
                {**item, "sequence": sequence}
                for sequence, item in zip(sequences, pending, strict=True)
            ])  # fmt: skip
        for sequence, item in zip(sequences, pending, strict=True):
            item["sequence"] = sequence
        if not postgres:
            for before in BEFORE_COMMIT:
                await before(session, pending)
    await session.commit()  # PostgreSQL with events: committed already, SQLAlchemy's state only
    hooks = session.info.pop(AFTER_COMMIT, [])
    messages = [event_message(**item) for item in pending]
    db = session.info.get("db")
    if db is not None and messages:
        await db.publish_events(messages)
    for hook in hooks:
        await hook()
    return messages


_EVENT_COLUMNS = ("type", "at", "inbox_id", "conversation_id", "customer_id", "payload")
# Rows per statement (its arrays are bound client-side: the text sent grows with the rows).
_APPEND_CHUNK = 1000


async def _append_and_commit(
    session: AsyncSession, pending: list[dict[str, Any]], jobs: list[tuple[int, str]]
) -> list[int]:
    """PostgreSQL: take the event lock, allocate the sequences, insert the events and the
    jobs reacting to them (`EVENT_JOBS`) in one statement per chunk, the last one committed
    in the same round trip (`db.execute_then_commit`). The lock is held from the allocation
    until commit, so sequences become visible in the order they were allocated: a reader
    resuming after N can never miss N+1; and every writer of events in every process queues
    on it, so it is held only while the server works (on a busy server, a lock held until the
    process's event loop came back to send the COMMIT made each holder's turn an event loop
    turn long, and 5-7 writers waited for it at any moment). The rows are numbered and
    sorted before `nextval` runs (PostgreSQL evaluates volatile output columns after the
    sort, as SQLAlchemy's own ordered bulk insert relies on), so the ascending sequences
    returned belong to the events in the order given."""
    sequences: list[int] = []
    for start in range(0, len(pending), _APPEND_CHUNK):
        chunk = pending[start : start + _APPEND_CHUNK]
        chunk_jobs = [(n - start, kind) for n, kind in jobs if start <= n < start + _APPEND_CHUNK]
        statement, params = _append_statement(chunk, chunk_jobs)
        if start + _APPEND_CHUNK >= len(pending):  # the last chunk: commit with it
            rows = await execute_then_commit(session, statement, params)
        else:
            rows = list((await session.execute(statement, params)).all())
        sequences += sorted(row[0] for row in rows)
    return sequences


def _append_statement(
    chunk: list[dict[str, Any]], jobs: list[tuple[int, str]]
) -> tuple[Any, dict[str, Any]]:
    """The chunk's event statement with its rows as array parameters: one statement text
    whatever the rows (`_append_sql`), compiled once by SQLAlchemy and split once by psycopg
    (with the rows as a VALUES list each wave's statement was new to both: 258 compiles per
    2,000 deliveries)."""
    params: dict[str, Any] = {
        "e_n": list(range(len(chunk))),
        "e_type": [item["type"] for item in chunk],
        "e_at": [item["at"] for item in chunk],
        "e_inbox": [item["inbox_id"] for item in chunk],
        "e_conversation": [item["conversation_id"] for item in chunk],
        "e_customer": [item["customer_id"] for item in chunk],
        "e_payload": [json.dumps(item["payload"]) for item in chunk],
    }
    if jobs:
        now = utcnow()
        params |= {
            "j_n": [n for n, _ in jobs],
            "j_kind": [kind for _, kind in jobs],
            "j_event": [json.dumps(event_message(sequence=0, **chunk[n])) for n, _ in jobs],
            "j_run_at": now,
            "j_created_at": now,
        }
    return _append_sql(bool(jobs)), params


@functools.cache
def _append_sql(with_jobs: bool) -> Any:
    def array(name: str, item: Any) -> Any:
        return bindparam(name, type_=ARRAY(item))

    allocate = func.nextval(func.pg_get_serial_sequence("events", "sequence"))
    rows = (
        func.unnest(
            array("e_n", Integer),
            array("e_type", String),
            array("e_at", DateTime(timezone=True)),
            array("e_inbox", Integer),
            array("e_conversation", Integer),
            array("e_customer", Integer),
            array("e_payload", Text),
        )
        .table_valued(
            column("n", Integer),
            *(column(name, _EVENT_ROW_TYPES.get(name, Integer)) for name in _EVENT_COLUMNS),
            name="pending_events",
        )
        .render_derived()
    )
    # A joined row needs the lock's row first: the lock is held before any nextval.
    lock = select(func.pg_advisory_xact_lock(EVENT_LOCK_KEY).label("held")).subquery()
    ordered = (
        select(allocate, *(cast(rows.c[name], EVENTS.c[name].type) for name in _EVENT_COLUMNS))
        .select_from(rows.join(lock, true()))
        .order_by(rows.c.n)
    )
    appended = (
        insert(EVENTS)
        .from_select(["sequence", *_EVENT_COLUMNS], ordered)
        .returning(EVENTS.c.sequence)
        .cte("appended")
    )
    if not with_jobs:
        return select(appended.c.sequence)
    # The n-th event of the chunk has the n-th smallest sequence (above).
    numbered = select(
        appended.c.sequence,
        (func.row_number().over(order_by=appended.c.sequence) - 1).label("n"),
    ).cte("numbered")
    reacting = (
        func.unnest(array("j_n", Integer), array("j_kind", String), array("j_event", Text))
        .table_valued(
            column("n", Integer), column("kind", String), column("event", Text), name="reacting"
        )
        .render_derived()
    )
    jobs_table = Event.metadata.tables["jobs"]  # kit/jobs.py's Job
    # Its columns' defaults by hand: SQLAlchemy fills none in a statement nested in a CTE.
    state, attempts = (getattr(jobs_table.c[name].default, "arg", None)
                       for name in ("state", "attempts"))  # fmt: skip
    enqueued = (
        pg_insert(jobs_table)
        .from_select(
            ["kind", "payload", "key", "state", "attempts", "run_at", "created_at"],
            select(
                reacting.c.kind,
                # `||` puts the allocated sequence in place of the placeholder 0.
                cast(
                    cast(reacting.c.event, JSONB).op("||")(
                        func.jsonb_build_object("sequence", numbered.c.sequence)
                    ),
                    jobs_table.c.payload.type,
                ),
                reacting.c.kind + ":" + cast(numbered.c.sequence, String),
                literal(state),
                literal(attempts),
                bindparam("j_run_at", type_=jobs_table.c.run_at.type),
                bindparam("j_created_at", type_=jobs_table.c.created_at.type),
            ).select_from(reacting.join(numbered, reacting.c.n == numbered.c.n)),
        )
        .on_conflict_do_nothing(index_elements=["key"])
        .cte("enqueued")
    )
    return select(numbered.c.sequence).add_cte(enqueued)


# The array parameters' element types (the rest are integers): cast to the columns' own
# types when inserted.
_EVENT_ROW_TYPES: dict[str, Any] = {
    "type": String(),
    "at": DateTime(timezone=True),
    "payload": Text(),
}


async def end_read(session: AsyncSession) -> None:
    """End a request's read-only transaction before it waits on the outside world (a
    provider's answer): on SQLite every transaction holds the one write lock, and nobody may
    write meanwhile (the demo's providers answer from this same database). Instances stay
    loaded (the sessions do not expire on commit)."""
    await commit(session)


@asynccontextmanager
async def reading(session: AsyncSession) -> AsyncIterator[None]:
    """A short read-only transaction for what is read in the block, ended after it (SQLite:
    outside the writer queue, so a read before a request's writes — its token, say — does not
    hold the one write lock while the request goes on; a write in it fails). PostgreSQL, or a
    transaction already open: the reads simply join the session's transaction. Instances stay
    loaded (the sessions do not expire on commit)."""
    began = await begin_read(session)
    yield
    if began and session.in_transaction():
        await commit(session)


async def rollback(session: AsyncSession) -> None:
    session.info.pop(PENDING_EVENTS, None)
    session.info.pop(AFTER_COMMIT, None)
    await session.rollback()


async def retrying(
    session: AsyncSession, work: Callable[[], Awaitable[T]], *, attempts: int = 4
) -> T:
    """Run `work` and commit; on a unique-constraint race, roll back and run it again
    (the retry sees what the concurrent winner committed)."""
    for attempt in range(attempts):
        try:
            result = await work()
            await commit(session)
            return result
        except IntegrityError:
            await rollback(session)
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


def is_temporary(exc: BaseException) -> bool:
    """Whether trying the same write again later can succeed: the database is down, busy or
    locked, a deadlock or serialisation failure, a pool or network timeout, a full disk, or
    a shutdown. Anything else a message causes fails the same way on every retry, so the
    channel refuses it for good or quarantines it instead of asking for a retry for ever."""
    if isinstance(exc, OperationalError | PoolTimeout | TimeoutError | OSError):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, TryLater)


class TryLater(RuntimeError):
    """Nothing was written and the same write may succeed later (e.g. its writer stopped)."""

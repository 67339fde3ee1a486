"""Unit of work: commit writes the queued events, then side effects run (never before)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from sqlalchemy import Integer, cast, column, func, insert, select, true, values
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.db import begin_read, next_keys
from frontdesk.kit.events import PENDING_EVENTS, Event, event_message

AFTER_COMMIT = "frontdesk.after_commit"
# Called with (session, the events about to be written, no sequences yet) before the event
# lock is taken: whatever they read (e.g. whether a subscriber is enabled) does not hold up
# every other writer of events meanwhile.
BEFORE_EVENTS: list[Callable[[AsyncSession, list[dict[str, Any]]], Awaitable[None]]] = []
# Called with (session, the events about to be written, sequences assigned) just before the
# commit, so what they add (jobs reacting to events) commits atomically with the events.
BEFORE_COMMIT: list[Callable[[AsyncSession, list[dict[str, Any]]], Awaitable[None]]] = []
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
        if session.get_bind().dialect.name == "postgresql":
            sequences = await _append_locked(session, pending)
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
        for before in BEFORE_COMMIT:
            await before(session, pending)
    await session.commit()
    hooks = session.info.pop(AFTER_COMMIT, [])
    messages = [event_message(**item) for item in pending]
    db = session.info.get("db")
    if db is not None and messages:
        await db.publish_events(messages)
    for hook in hooks:
        await hook()
    return messages


_EVENT_COLUMNS = ("type", "at", "inbox_id", "conversation_id", "customer_id", "payload")
# Rows per statement: 7 parameters each, far below PostgreSQL's 65,535.
_APPEND_CHUNK = 1000


async def _append_locked(session: AsyncSession, pending: list[dict[str, Any]]) -> list[int]:
    """PostgreSQL: take the event lock, allocate the sequences and insert the events in one
    statement per chunk (one round trip while the lock is held, then the commit). The lock
    is held from the allocation until commit, so sequences become visible in the order they
    were allocated: a reader resuming after N can never miss N+1. The rows are numbered and
    sorted before `nextval` runs (PostgreSQL evaluates volatile output columns after the
    sort, as SQLAlchemy's own ordered bulk insert relies on), so the ascending sequences
    returned belong to the events in the order given."""
    allocate = func.nextval(func.pg_get_serial_sequence("events", "sequence"))
    sequences: list[int] = []
    for start in range(0, len(pending), _APPEND_CHUNK):
        chunk = pending[start : start + _APPEND_CHUNK]
        rows = values(
            column("n", Integer),
            *(column(name, EVENTS.c[name].type) for name in _EVENT_COLUMNS),
            name="pending_events",
        ).data([(n, *(item[name] for name in _EVENT_COLUMNS)) for n, item in enumerate(chunk)])
        # A joined row needs the lock's row first: the lock is held before any nextval.
        lock = select(func.pg_advisory_xact_lock(EVENT_LOCK_KEY).label("held")).subquery()
        ordered = (
            # Cast: a VALUES column of NULLs alone would be text.
            select(allocate, *(cast(rows.c[name], EVENTS.c[name].type) for name in _EVENT_COLUMNS))
            .select_from(rows.join(lock, true()))
            .order_by(rows.c.n)
        )
        statement = (
            insert(EVENTS)
            .from_select(["sequence", *_EVENT_COLUMNS], ordered)
            .returning(EVENTS.c.sequence)
        )
        sequences += sorted((await session.scalars(statement)).all())
    return sequences


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

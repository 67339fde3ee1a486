from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.kit import events, jobs, uow
from frontdesk.kit.events import Event
from frontdesk.kit.jobs import Job

# (is the event lock held by this transaction?) per `enabled` call of the subscription below.
LOCK_HELD_WHEN_ASKED: list[bool] = []


async def _lock_held(session: AsyncSession) -> bool:
    if session.get_bind().dialect.name != "postgresql":
        return False  # SQLite has no event lock: the transaction holds the write lock
    held = await session.scalar(
        text(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
            "AND pid = pg_backend_pid() AND objid = :key"
        ),
        {"key": uow.EVENT_LOCK_KEY},
    )
    return bool(held)


async def _enabled_and_note_the_lock(session: AsyncSession) -> bool:
    LOCK_HELD_WHEN_ASKED.append(await _lock_held(session))
    return True


jobs.on_event("test.uow.watched", "test.uow.react", enabled=_enabled_and_note_the_lock)


class TestCommitEvents:
    async def test_each_stored_event_has_the_sequence_it_was_published_with(self, runtime):  # type: ignore[no-untyped-def]
        # More than one statement's worth (uow._APPEND_CHUNK), inbox ids and NULLs mixed.
        count = 1_205
        async with runtime.db.session() as session:
            for n in range(count):
                events.record(session, "test.uow.numbered", {"n": n}, inbox_id=n if n % 3 else None)
            published = await uow.commit(session)
        sequences = [message["sequence"] for message in published]
        assert sequences == sorted(sequences) and len(set(sequences)) == count
        async with runtime.db.session() as session:
            rows = (
                await session.execute(
                    select(Event.sequence, Event.payload, Event.inbox_id).where(
                        Event.type == "test.uow.numbered"
                    )
                )
            ).all()
        stored = {sequence: (payload["n"], inbox_id) for sequence, payload, inbox_id in rows}
        assert stored == {
            message["sequence"]: (n, n if n % 3 else None) for n, message in enumerate(published)
        }

    async def test_subscribers_are_asked_before_the_event_lock_and_keyed_by_sequence(self, runtime):  # type: ignore[no-untyped-def]
        LOCK_HELD_WHEN_ASKED.clear()
        async with runtime.db.session() as session:
            events.record(session, "test.uow.watched", {"x": 1})
            [published] = await uow.commit(session)
        assert LOCK_HELD_WHEN_ASKED == [False]
        async with runtime.db.session() as session:
            keys = list(await session.scalars(select(Job.key).where(Job.kind == "test.uow.react")))
        assert keys == [f"test.uow.react:{published['sequence']}"]


class TestEventRowsAsArrays:
    AWKWARD = {
        "text": 'a "quoted" back\\slash, {braces}, NULL, سلام، خوبی؟\nline',
        "nested": {"list": [1, None, "x,y"], "empty": {}},
        "none": None,
    }

    async def test_awkward_payloads_and_times_arrive_as_written(self, runtime):  # type: ignore[no-untyped-def]
        """PostgreSQL passes the events' rows (and the reacting jobs' events) as array
        parameters, bound client-side: quotes, backslashes, braces, commas, the word NULL and
        Arabic text must come back unchanged, in the events and in the jobs' payloads."""
        async with runtime.db.session() as session:
            events.record(session, "test.uow.watched", self.AWKWARD, conversation_id=7)
            events.record(session, "test.uow.plain", {"n": 2}, inbox_id=None)
            published = await uow.commit(session)
        async with runtime.db.session() as session:
            rows = (
                await session.execute(
                    select(
                        Event.sequence, Event.type, Event.payload, Event.at, Event.conversation_id
                    )
                    .where(Event.type.in_(["test.uow.watched", "test.uow.plain"]))
                    .order_by(Event.sequence)
                )
            ).all()
            reacted = await session.scalar(select(Job.payload).where(Job.kind == "test.uow.react"))
        assert [row.payload for row in rows] == [self.AWKWARD, {"n": 2}]
        assert rows[0].at.isoformat() == published[0]["at"] and rows[0].conversation_id == 7
        assert [row.sequence for row in rows] == [m["sequence"] for m in published]
        assert reacted == published[0] and reacted["payload"] == self.AWKWARD


class TestEventLockOnPostgres:
    """The event lock is held only while the server works: the statement that takes it
    commits in the same round trip, so no writer of events waits for another process's
    event loop to come back and send its COMMIT."""

    pytestmark = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)

    async def test_the_lock_is_released_before_the_answer_reaches_the_client(self, runtime, db_url):  # type: ignore[no-untyped-def]
        seen: list[tuple[int, str]] = []  # (sessions holding the lock, the statement's end)
        conninfo = db_url.replace("postgresql+psycopg://", "postgresql://", 1)

        def look(_conn, _cursor, statement, _params, _context, _many):  # type: ignore[no-untyped-def]
            if "pg_advisory_xact_lock" in statement:
                # The answer is here and this process has not gone on yet: who holds it now?
                with psycopg.connect(conninfo, autocommit=True) as other:
                    row = other.execute(
                        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                        "AND objid = %s AND granted",
                        (uow.EVENT_LOCK_KEY,),
                    ).fetchone()
                seen.append((row[0] if row else -1, statement.rstrip()[-6:]))

        engine = runtime.db.engine.sync_engine
        sa_event.listen(engine, "after_cursor_execute", look)
        try:
            async with runtime.db.session() as session:
                events.record(session, "test.uow.watched", {"x": 2})
                [published] = await uow.commit(session)
        finally:
            sa_event.remove(engine, "after_cursor_execute", look)
        assert seen == [(0, "COMMIT")]
        # Committed with its subscriber's job, in that one statement.
        async with runtime.db.session() as session:
            stored = await session.scalar(
                select(Event.type).where(Event.sequence == published["sequence"])
            )
            job = (
                await session.execute(
                    select(Job.key, Job.payload).where(Job.kind == "test.uow.react")
                )
            ).one()
        assert stored == "test.uow.watched"
        assert job.key == f"test.uow.react:{published['sequence']}"
        assert job.payload == published  # the event as clients get it, sequence included

    async def test_a_failing_event_statement_commits_nothing(self, runtime):  # type: ignore[no-untyped-def]
        from frontdesk.conversations.models import Tag

        async with runtime.db.session() as session:
            session.add(Tag(name="kept-out"))
            await session.flush()
            # An event the statement cannot store (an inbox id beyond the column's range).
            events.record(session, "test.uow.numbered", {"x": 3}, inbox_id=2**40)
            with pytest.raises(DBAPIError, match="out of range"):
                await uow.commit(session)
            await uow.rollback(session)
        async with runtime.db.session() as session:
            assert await session.scalar(select(Tag.id).where(Tag.name == "kept-out")) is None
            # The connection went back to the pool in a usable state.
            events.record(session, "test.uow.numbered", {"n": -1})
            [published] = await uow.commit(session)
        assert published["sequence"] > 0

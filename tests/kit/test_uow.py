from __future__ import annotations

from sqlalchemy import select, text
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

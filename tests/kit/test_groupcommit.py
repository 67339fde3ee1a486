"""Group commit: a burst shares one transaction, and every caller hears how its item fared."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.db import Database, begin_read
from frontdesk.kit.groupcommit import GroupCommit
from frontdesk.kit.sqlite import JOB_WRITER, URGENT
from frontdesk.kit.uow import is_temporary


async def with_request_pool_taken(path: Path) -> tuple[Database, list[AsyncSession]]:
    """A SQLite database with a table t (n INTEGER), and every connection of its request pool
    in use (held by open read transactions, as requests in flight hold them)."""
    db = Database(f"sqlite+aiosqlite:///{path}")
    async with db.engine.begin() as connection:
        await connection.exec_driver_sql("CREATE TABLE t (n INTEGER)")
    pool = db.engine.pool
    readers = []
    for _ in range(pool.size() + pool._max_overflow):  # type: ignore[attr-defined]
        session = db.sessionmaker()
        await begin_read(session)
        readers.append(session)
    return db, readers


class TestGroupCommit:
    async def test_on_sqlite_it_never_waits_for_a_requests_connection(self, tmp_path):
        # 500 agents answering calls at once held all 16 pooled connections while they
        # waited for the write lock, and the voice group commit (first in line for the
        # lock) waited seconds for a connection to ask with. Its connections are its own.
        db, readers = await with_request_pool_taken(tmp_path / "pool.db")

        async def write_many(session, items):  # type: ignore[no-untyped-def]
            await session.execute(text("INSERT INTO t (n) VALUES (:n)"), [{"n": n} for n in items])
            return items

        group: GroupCommit[int, int] = GroupCommit(db, write_many)
        try:
            assert await asyncio.wait_for(group.submit(7), 5) == 7
        finally:
            await group.stop()
            for session in readers:
                await session.close()
        async with db.session() as session:
            assert (await session.execute(text("SELECT n FROM t"))).scalars().all() == [7]
        await db.dispose()

    async def test_on_sqlite_the_job_runners_sessions_have_connections_of_their_own(self, tmp_path):
        # 32 agents replying back to back held the request pool, and the embedded job runner
        # delivered nothing until they stopped (reply to provider p99 39 s).
        db, readers = await with_request_pool_taken(tmp_path / "jobs.db")

        async def job() -> None:
            JOB_WRITER.set(True)  # as JobRunner.run sets it for its tasks
            async with db.session() as session:
                await session.execute(text("INSERT INTO t (n) VALUES (1)"))
                await session.commit()

        try:
            await asyncio.wait_for(asyncio.create_task(job()), 5)
        finally:
            for session in readers:
                await session.close()
            await db.dispose()

    async def test_a_burst_shares_a_transaction(self, runtime):
        sizes: list[int] = []

        async def write_many(session, items):  # type: ignore[no-untyped-def]
            sizes.append(len(items))
            return [item * 2 for item in items]

        group: GroupCommit[int, int] = GroupCommit(runtime.db, write_many)
        try:
            assert await group.submit(21) == 42
            doubled = await asyncio.gather(*(group.submit(n) for n in range(10)))
        finally:
            await group.stop()
        assert doubled == [n * 2 for n in range(10)]
        assert sizes[0] == 1 and max(sizes) > 1

    async def test_its_transactions_go_ahead_of_background_writers(self, runtime):
        seen: list[bool] = []

        async def write_many(session, items):  # type: ignore[no-untyped-def]
            seen.append(URGENT.get())
            return items

        group: GroupCommit[int, int] = GroupCommit(runtime.db, write_many)
        try:
            assert await group.submit(1) == 1
        finally:
            await group.stop()
        assert seen == [True]
        assert not URGENT.get()  # the writer task's context only, not the caller's

    async def test_a_caller_that_went_away_does_not_fail_the_others(self, runtime):
        gate = asyncio.Event()

        async def write_many(session, items):  # type: ignore[no-untyped-def]
            await gate.wait()
            return items

        group: GroupCommit[int, int] = GroupCommit(runtime.db, write_many)
        try:
            first = asyncio.create_task(group.submit(0))  # holds the writer at the gate
            await asyncio.sleep(0.01)
            queued = [asyncio.create_task(group.submit(n)) for n in (1, 2, 3)]
            await asyncio.sleep(0.01)
            queued[1].cancel()
            gate.set()
            assert await first == 0
            assert [await queued[0], await queued[2]] == [1, 3]
        finally:
            await group.stop()

    async def test_callers_still_waiting_at_stop_are_told(self, runtime):
        started = asyncio.Event()

        async def write_many(session, items):  # type: ignore[no-untyped-def]
            started.set()
            await asyncio.sleep(60)
            return items

        group: GroupCommit[int, int] = GroupCommit(runtime.db, write_many)
        in_flight = asyncio.create_task(group.submit(1))
        await started.wait()
        queued = asyncio.create_task(group.submit(2))
        await asyncio.sleep(0.01)
        await group.stop()
        for task in (in_flight, queued):
            with pytest.raises(RuntimeError, match="shutting down"):
                await task


class TestPoison:
    """One item that fails its batch on every try (issue 9): its batch-mates are stored, and
    only its own caller hears of it — or gets what `rescue` keeps of it."""

    @staticmethod
    def writer(calls: list[list[int]], error: Exception):  # type: ignore[no-untyped-def]
        async def write_many(session, items):  # type: ignore[no-untyped-def]
            calls.append(list(items))
            await session.execute(text("SELECT 1"))
            if -1 in items:
                raise error  # e.g. the database refuses the row, whatever batch it is in
            return [item * 2 for item in items]

        return write_many

    async def burst(self, group: GroupCommit[int, int]) -> list[object]:
        items = (100, 1, 2, -1, 3, 4)
        return await asyncio.gather(*(group.submit(n) for n in items), return_exceptions=True)

    async def test_a_poison_item_fails_alone(self, runtime):
        calls: list[list[int]] = []
        group: GroupCommit[int, int] = GroupCommit(runtime.db, self.writer(calls, ValueError("x")))
        try:
            outcomes = await self.burst(group)
        finally:
            await group.stop()
        assert outcomes[:3] == [200, 2, 4] and outcomes[4:] == [6, 8]
        assert isinstance(outcomes[3], ValueError)
        assert any(len(batch) > 1 and -1 in batch for batch in calls)  # it had batch-mates

    async def test_rescue_keeps_what_is_left_of_a_poison_item(self, runtime):
        rescued: list[tuple[int, str]] = []

        async def rescue(session, item, error):  # type: ignore[no-untyped-def]
            await session.execute(text("SELECT 1"))
            rescued.append((item, type(error).__name__))
            return 0

        group: GroupCommit[int, int] = GroupCommit(
            runtime.db, self.writer([], ValueError("x")), rescue=rescue
        )
        try:
            outcomes = await self.burst(group)
        finally:
            await group.stop()
        assert outcomes == [200, 2, 4, 0, 6, 8]
        assert rescued == [(-1, "ValueError")]

    async def test_a_temporary_failure_is_never_rescued(self, runtime):
        async def rescue(session, item, error):  # type: ignore[no-untyped-def]
            raise AssertionError("a temporary failure must reach the caller as it is")

        down = OperationalError("SELECT 1", {}, Exception("the database is down"))
        group: GroupCommit[int, int] = GroupCommit(runtime.db, self.writer([], down), rescue=rescue)
        try:
            outcomes = await self.burst(group)
        finally:
            await group.stop()
        assert isinstance(outcomes[3], OperationalError)
        assert is_temporary(outcomes[3])
        assert outcomes[4:] == [6, 8]

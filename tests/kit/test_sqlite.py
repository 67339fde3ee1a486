"""kit/sqlite.py: each statement is one trip to the connection's thread, with the results,
row counts, last row ids and errors SQLAlchemy expects from aiosqlite."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError

from frontdesk.db import READ_ONLY, make_engine
from frontdesk.kit import sqlite as kit_sqlite
from frontdesk.kit.sqlite import (
    URGENT,
    OneTripConnection,
    WriterQueue,
    make_sqlite_engine,
    writer_queue,
)


@pytest.fixture
async def engine(tmp_path: Path) -> Any:
    engine = make_sqlite_engine(f"sqlite+aiosqlite:///{tmp_path / 'one.db'}")
    async with engine.begin() as connection:
        await connection.exec_driver_sql(
            "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL)"
        )
    yield engine
    await engine.dispose()


async def test_queries_writes_and_counts(engine: Any) -> None:
    async with engine.begin() as connection:
        raw = (await connection.get_raw_connection()).driver_connection
        assert isinstance(raw, OneTripConnection)
        first = await connection.execute(text("INSERT INTO items (name) VALUES ('a')"))
        assert first.lastrowid == 1
        many = await connection.execute(
            text("INSERT INTO items (name) VALUES (:name)"), [{"name": "b"}, {"name": "c"}]
        )
        assert many.rowcount == 2
        changed = await connection.execute(text("UPDATE items SET name = name || '!'"))
        assert changed.rowcount == 3
        rows = (await connection.execute(text("SELECT id, name FROM items ORDER BY id"))).all()
        assert [tuple(row) for row in rows] == [(1, "a!"), (2, "b!"), (3, "c!")]
        assert (
            await connection.execute(text("SELECT name FROM items WHERE id = 9"))
        ).first() is None
        one = await connection.execute(text("SELECT name FROM items ORDER BY id"))
        assert one.fetchone() == ("a!",)
        assert one.fetchmany(5) == [("b!",), ("c!",)]


async def test_errors_and_rollback(engine: Any) -> None:
    async with engine.connect() as connection:
        await connection.execute(text("INSERT INTO items (name) VALUES ('x')"))
        await connection.commit()
        with pytest.raises(IntegrityError):
            await connection.execute(text("INSERT INTO items (name) VALUES ('x')"))
        await connection.rollback()
        await connection.execute(text("INSERT INTO items (name) VALUES ('y')"))
        await connection.rollback()
        names = (await connection.execute(text("SELECT name FROM items"))).scalars().all()
        assert names == ["x"]


async def test_a_statement_is_one_trip_to_the_thread(
    engine: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    trips: list[str] = []
    original = OneTripConnection._execute

    async def counted(self: OneTripConnection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        trips.append(getattr(fn, "__name__", repr(fn)))
        return await original(self, fn, *args, **kwargs)

    async with engine.connect() as connection:
        monkeypatch.setattr(OneTripConnection, "_execute", counted)
        rows = (await connection.execute(text("SELECT 1 UNION SELECT 2"))).all()
        assert len(rows) == 2
        assert trips == ["_run"]
        await connection.execute(
            text("INSERT INTO items (name) VALUES (:n)"), [{"n": "p"}, {"n": "q"}]
        )
        assert trips == ["_run", "_run"]
        await connection.rollback()


async def test_background_checkpoints_move_the_wal_into_the_database(tmp_path: Path) -> None:
    """With automatic checkpoints off (a process that runs `checkpoint_periodically`), commits
    leave their pages in the WAL; the checkpoint task copies them into the database file."""
    from frontdesk.db import SqliteOptions, make_engine
    from frontdesk.kit.sqlite import checkpoint_periodically

    path = tmp_path / "wal.db"
    url = f"sqlite+aiosqlite:///{path}"
    engine = make_engine(url, sqlite=SqliteOptions(background_checkpoints=True))
    try:
        async with engine.begin() as connection:
            await connection.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
        for _ in range(12):  # ~6 MB: past SQLite's automatic checkpoint at 1,000 pages
            async with engine.begin() as connection:
                await connection.execute(
                    text("INSERT INTO t (v) VALUES (:v)"), [{"v": "x" * 2000}] * 250
                )
        wal = path.with_name("wal.db-wal")
        assert wal.stat().st_size > 5_000_000
        size_before = path.stat().st_size
        assert size_before < 200_000  # nothing checkpointed yet: the rows are all in the WAL
        task = asyncio.create_task(checkpoint_periodically(url, 0.02))
        await asyncio.sleep(0.3)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        assert path.stat().st_size > size_before + 5_000_000
        async with engine.connect() as connection:
            count = (await connection.execute(text("SELECT count(*) FROM t"))).scalar()
        assert count == 3000
    finally:
        await engine.dispose()


async def hold_the_lock(engine: Any, who: str) -> Any:
    """A table t (who TEXT), and an open transaction of `who` on it holding the write lock."""
    async with engine.begin() as connection:
        await connection.exec_driver_sql("CREATE TABLE t (who TEXT)")
    holding = await engine.connect()
    await holding.exec_driver_sql(f"INSERT INTO t VALUES ('{who}')")
    return holding


class TestWriterQueue:
    """Transactions of one process wait for the write lock in the process's queue, which
    moves on at every COMMIT, ROLLBACK or close, never in SQLite's sleeping busy handler."""

    async def test_the_lock_is_held_from_begin_to_commit(self, tmp_path: Path) -> None:
        path = tmp_path / "queue.db"
        engine = make_engine(f"sqlite+aiosqlite:///{path}")
        queue = writer_queue(str(path.resolve()))
        try:
            async with engine.connect() as connection:
                await connection.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY)")
                assert queue.taken
                await connection.commit()
                assert not queue.taken
                await connection.exec_driver_sql("INSERT INTO t DEFAULT VALUES")
                assert queue.taken
                await connection.rollback()
                assert not queue.taken
                await connection.exec_driver_sql("SELECT 1")
                assert queue.taken
            # Closed (returned to the pool) inside a transaction: rolled back, lock released.
            assert not queue.taken
        finally:
            await engine.dispose()

    async def test_a_second_writer_goes_as_soon_as_the_first_commits(self, tmp_path: Path) -> None:
        url = f"sqlite+aiosqlite:///{tmp_path / 'turns.db'}"
        first, second = make_engine(url), make_engine(url)
        order: list[str] = []
        try:
            holding = await hold_the_lock(first, "first")

            async def write_second() -> None:
                async with second.begin() as connection:
                    order.append("second began")
                    await connection.exec_driver_sql("INSERT INTO t VALUES ('second')")

            waiting = asyncio.create_task(write_second())
            order.append("first commits")
            await holding.commit()
            await holding.close()
            await asyncio.wait_for(waiting, 10)
            assert order == ["first commits", "second began"]
            async with second.connect() as connection:
                rows = (await connection.exec_driver_sql("SELECT who FROM t")).scalars().all()
            assert rows == ["first", "second"]
        finally:
            await first.dispose()
            await second.dispose()

    async def test_an_urgent_writer_goes_before_a_waiting_background_one(
        self, tmp_path: Path
    ) -> None:
        url = f"sqlite+aiosqlite:///{tmp_path / 'urgent.db'}"
        holder, background, urgent = make_engine(url), make_engine(url), make_engine(url)
        order: list[str] = []
        try:
            holding = await hold_the_lock(holder, "holder")

            async def write(engine: Any, who: str, *, is_urgent: bool) -> None:
                URGENT.set(is_urgent)  # this task's context only
                async with engine.begin() as connection:
                    order.append(who)
                    await connection.exec_driver_sql(f"INSERT INTO t VALUES ('{who}')")

            waiting = [asyncio.create_task(write(background, "background", is_urgent=False))]
            await asyncio.sleep(0.1)  # the background writer waits for the lock first
            waiting.append(asyncio.create_task(write(urgent, "urgent", is_urgent=True)))
            await asyncio.sleep(0.1)
            await holding.commit()
            await holding.close()
            await asyncio.wait_for(asyncio.gather(*waiting), 10)
            assert order == ["urgent", "background"]
            assert not URGENT.get()
        finally:
            for engine in (holder, background, urgent):
                await engine.dispose()

    async def test_the_job_runners_writers_go_before_requests_and_after_urgent_ones(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # 32 agents replying back to back left the embedded job runner one turn in ~33:
        # deliveries fell behind by tens of seconds. Its transactions now go before requests.
        # (Giving way is bounded in time; bounds longer than this test keep it about order.)
        monkeypatch.setattr(kit_sqlite, "JOB_PRECEDENCE_SECONDS", 5.0)
        monkeypatch.setattr(kit_sqlite, "URGENT_PRECEDENCE_SECONDS", 5.0)
        url = f"sqlite+aiosqlite:///{tmp_path / 'ranks.db'}"
        engines = [make_engine(url) for _ in range(4)]
        holder, request, job, urgent = engines
        order: list[str] = []
        try:
            holding = await hold_the_lock(holder, "holder")

            async def write(engine: Any, who: str) -> None:
                URGENT.set(who == "urgent")  # this task's context only
                kit_sqlite.JOB_WRITER.set(who == "job")
                async with engine.begin() as connection:
                    order.append(who)
                    await connection.exec_driver_sql(f"INSERT INTO t VALUES ('{who}')")

            waiting = []
            for engine, who in ((request, "request"), (job, "job"), (urgent, "urgent")):
                waiting.append(asyncio.create_task(write(engine, who)))
                await asyncio.sleep(0.1)  # each waits for the lock before the next comes
            await holding.commit()
            await holding.close()
            await asyncio.wait_for(asyncio.gather(*waiting), 10)
            assert order == ["urgent", "job", "request"]
            assert not kit_sqlite.JOB_WRITER.get()
        finally:
            for engine in engines:
                await engine.dispose()

    def test_a_background_writer_gives_way_for_a_bounded_time(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(kit_sqlite, "URGENT_PRECEDENCE_SECONDS", 0.2)
        queue = WriterQueue()
        queue._waiting[kit_sqlite.URGENT_RANK] = 1  # an urgent writer waiting all along: it
        # must not starve the others
        started = time.monotonic()
        queue.take()
        waited = time.monotonic() - started
        assert queue.taken
        assert 0.15 <= waited < 5
        queue.release()
        assert not queue.taken

    def test_a_request_gives_way_to_a_job_writer_for_a_shorter_time(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(kit_sqlite, "JOB_PRECEDENCE_SECONDS", 0.2)
        monkeypatch.setattr(kit_sqlite, "URGENT_PRECEDENCE_SECONDS", 5.0)
        queue = WriterQueue()
        queue._waiting[kit_sqlite.JOB_RANK] = 1  # a job writer waiting all along
        started = time.monotonic()
        queue.take()
        assert 0.15 <= time.monotonic() - started < 2  # its own bound, not the urgent one
        queue.release()
        queue._waiting[kit_sqlite.JOB_RANK] = 0
        queue._waiting[kit_sqlite.URGENT_RANK] = 1
        monkeypatch.setattr(kit_sqlite, "URGENT_PRECEDENCE_SECONDS", 0.4)
        started = time.monotonic()
        queue.take(rank=kit_sqlite.JOB_RANK)  # a job writer gives way to an urgent one
        assert 0.35 <= time.monotonic() - started < 3
        queue.release()

    def test_a_free_lock_is_taken_at_once_and_released_to_the_next(self) -> None:
        queue = WriterQueue()
        queue.take()
        got: list[float] = []

        def second() -> None:
            queue.take(rank=kit_sqlite.URGENT_RANK)
            got.append(time.monotonic())
            queue.release()

        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(0.05)
        assert not got  # waits while the lock is held
        released = time.monotonic()
        queue.release()
        thread.join(5)
        assert got and got[0] - released < 1
        assert not queue.taken


class TestReadOnlyTransactions:
    """A transaction declared read-only (db.READ_ONLY) begins DEFERRED outside the writer
    queue, so it neither waits for nor holds up a writer, and cannot write."""

    async def test_a_reader_runs_while_a_writer_holds_the_lock(self, tmp_path: Path) -> None:
        path = tmp_path / "readers.db"
        engine = make_engine(f"sqlite+aiosqlite:///{path}")
        queue = writer_queue(str(path.resolve()))
        try:
            async with engine.begin() as connection:
                await connection.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY)")
                await connection.exec_driver_sql("INSERT INTO t DEFAULT VALUES")
            writer = await engine.connect()
            await writer.exec_driver_sql("INSERT INTO t DEFAULT VALUES")
            assert queue.taken
            reader = await engine.connect()
            reading = await reader.execution_options(**{READ_ONLY: True})
            # Would wait WRITE_WAIT_SECONDS in the queue if it were a writer.
            count = await asyncio.wait_for(
                reading.exec_driver_sql("SELECT count(*) FROM t"), 2
            )
            assert count.scalar() == 1  # the writer's row is not committed yet
            await reader.commit()
            await writer.commit()
            assert not queue.taken
            await writer.close()
            await reader.close()
        finally:
            await engine.dispose()

    async def test_a_write_in_a_read_only_transaction_fails_and_the_connection_recovers(
        self, tmp_path: Path
    ) -> None:
        path = tmp_path / "query_only.db"
        # One connection at a time: the writer below reuses the one that was read-only.
        engine = make_engine(f"sqlite+aiosqlite:///{path}")
        queue = writer_queue(str(path.resolve()))
        try:
            async with engine.begin() as connection:
                await connection.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY)")
            async with engine.connect() as connection:
                reading = await connection.execution_options(**{READ_ONLY: True})
                await reading.exec_driver_sql("SELECT count(*) FROM t")
                assert not queue.taken
                with pytest.raises(OperationalError, match="readonly"):
                    await reading.exec_driver_sql("INSERT INTO t DEFAULT VALUES")
                await connection.rollback()
            async with engine.begin() as connection:  # a writer again, on the same connection
                await connection.exec_driver_sql("INSERT INTO t DEFAULT VALUES")
                assert queue.taken
            assert not queue.taken
            async with engine.connect() as connection:
                rows = await connection.exec_driver_sql("SELECT count(*) FROM t")
                assert rows.scalar() == 1
        finally:
            await engine.dispose()

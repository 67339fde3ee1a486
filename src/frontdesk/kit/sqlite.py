"""An aiosqlite connection that runs each statement in one trip to its thread.

aiosqlite runs every call of a cursor in the connection's thread, one trip per call, and
SQLAlchemy makes four for a query (open a cursor, execute, fetch all, close) and three for a
write. Each trip costs a queue hand-off, a wake-up of the thread, a cross-thread callback to
the event loop and a greenlet switch, and waits for the loop's next turn; a batch of 20 chat
messages made ~70 of them. Here a cursor is opened, executed, read to the end and closed in
one trip; what SQLAlchemy then fetches is already in memory (it reads every result whole
anyway: frontdesk uses no server-side cursors).

Writers queue for one another in the process (`WriterQueue`) instead of in SQLite's busy
handler, which polls the lock with sleeps of up to 100 ms; a writer that a sender waits on
(`urgent`: the group commits of acknowledged intake) goes ahead of background writers.

Relies on aiosqlite's `Connection._execute` (run a function in the connection's thread),
hence the pin `aiosqlite>=0.22,<0.23` in pyproject.toml; tests/kit/test_sqlite.py covers it."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import sqlite3
import threading
import time
from collections.abc import Generator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiosqlite
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

log = logging.getLogger(__name__)

# How long a transaction waits for the write lock before it fails as "database is locked"
# (as the busy_timeout pragma of db.py, which still applies between processes).
WRITE_WAIT_SECONDS = 15.0
# How long a background writer gives way to urgent ones before it takes its turn among them:
# a burst of intake delays the jobs' transactions by at most about this much, never starves them.
URGENT_PRECEDENCE_SECONDS = 0.5
# How long a request gives way to the job runner's writers. Measured with 32 agents replying
# back to back (bench/channels.py, SQLite; without it: 110 replies/s taken, deliveries 39 s
# behind at p99): 0.5 s, deliveries p99 51 ms but 50 replies/s; 0.2 s, 73 ms and 57/s; 0.1 s,
# 98 ms and 74/s; 0.05 s, 1.1 s and 89/s.
JOB_PRECEDENCE_SECONDS = 0.1

# Set (in a task) when the transactions it begins are waited on by a sender: an ingest group
# commit, whose webhooks are acknowledged only after its COMMIT. Read at BEGIN.
URGENT: contextvars.ContextVar[bool] = contextvars.ContextVar("sqlite_urgent", default=False)
# Set in the job runner's task (and so in the tasks it starts): its transactions go after the
# urgent writers but before requests, and on SQLite its sessions have a pool of their own
# (db.Database.session). With 32 agents replying back to back on the embedded setup, the
# runner, one writer among ~30 queued for connections and the lock, delivered almost nothing
# until they stopped (reply to provider p50 24 s, p99 39 s in bench/channels.py; ADR 0010).
JOB_WRITER: contextvars.ContextVar[bool] = contextvars.ContextVar("sqlite_jobs", default=False)

# Who goes first for the write lock, the higher rank before the lower (`WriterQueue.take`).
REQUEST_RANK, JOB_RANK, URGENT_RANK = 0, 1, 2


def current_rank() -> int:
    """The rank of the transactions this task begins."""
    return URGENT_RANK if URGENT.get() else JOB_RANK if JOB_WRITER.get() else REQUEST_RANK


# How a transaction declared read-only begins (db.py `READ_ONLY`): DEFERRED, outside the
# writer queue, with the connection in `query_only` mode until it ends, so a write in it fails
# at once ("attempt to write a readonly database") instead of taking the lock half-way (and
# failing later with SQLITE_BUSY_SNAPSHOT if another writer committed since its first read).
READ_ONLY_BEGIN = "BEGIN DEFERRED"


class WriterQueue:
    """The write lock of one database file, as this process's connections queue for it.

    Every transaction begins IMMEDIATE (db.py), so SQLite serialises them; but a connection
    that finds the lock taken waits in SQLite's busy handler, which sleeps 1, 2, 5 ... 100 ms
    between looks. With several connections of one process writing at once (the ingest and
    voice group commits, the job runner, requests), the lock then sat idle most of the time:
    measured on a burst of voice calls, 556 transactions waited 54 s in all, up to 5.5 s each.
    Here each connection's thread takes a lock before BEGIN and releases it after COMMIT or
    ROLLBACK, so the next writer starts the moment the last one ends. Other processes (a CLI
    command, a reader) still meet SQLite's own lock and busy handler.

    An urgent writer (`URGENT`) goes before the others waiting (the embedded job runner's
    transactions, requests): measured on SQLite's embedded setup with 32 webhooks at once, the
    ingest group waited behind several job transactions for the lock (p50 162 ms, p99 712 ms),
    and each acknowledgement waited with it. The job runner's transactions (`JOB_WRITER`) go
    before requests. A writer gives way to an urgent one for at most
    URGENT_PRECEDENCE_SECONDS, a request to a job writer for at most JOB_PRECEDENCE_SECONDS;
    then it takes its turn like any other."""

    def __init__(self) -> None:
        self._turn = threading.Condition(threading.Lock())
        self._held = False
        self._waiting = [0, 0, 0]  # writers waiting, by rank

    def take(self, *, rank: int = REQUEST_RANK) -> None:
        now = time.monotonic()
        deadline = now + WRITE_WAIT_SECONDS
        # Until when this writer gives way to each higher rank waiting.
        give_way = [now + JOB_PRECEDENCE_SECONDS, now + URGENT_PRECEDENCE_SECONDS][rank:]
        with self._turn:
            self._waiting[rank] += 1
            try:
                while True:
                    now = time.monotonic()
                    higher = zip(give_way, self._waiting[rank + 1 :], strict=True)
                    waits = [until for until, waiting in higher if waiting and now < until]
                    giving_way = bool(waits)
                    if not self._held and not giving_way:
                        self._held = True
                        return
                    if now >= deadline:
                        raise sqlite3.OperationalError("database is locked")
                    self._turn.wait(min([deadline, *waits]) - now)
            finally:
                self._waiting[rank] -= 1
                if rank and not self._waiting[rank]:
                    self._turn.notify_all()  # the lower ranks' turn, if it is free

    def release(self) -> None:
        with self._turn:
            self._held = False
            self._turn.notify_all()

    @property
    def taken(self) -> bool:
        return self._held


# One queue per database file of this process.
_QUEUES: dict[str, WriterQueue] = {}
_QUEUES_LOCK = threading.Lock()


def writer_queue(path: str) -> WriterQueue:
    with _QUEUES_LOCK:
        return _QUEUES.setdefault(path, WriterQueue())


# (description, rowcount, lastrowid, rows) of one statement, read in the connection's thread.
_Outcome = tuple[Any, int, int | None, list[Any]]


def _run(connection: sqlite3.Connection, sql: str, parameters: Any, many: bool) -> _Outcome:
    cursor = connection.cursor()
    try:
        if many:
            cursor.executemany(sql, parameters)
        elif parameters is None:
            cursor.execute(sql)
        else:
            cursor.execute(sql, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else []
        return description, cursor.rowcount, cursor.lastrowid, rows
    finally:
        cursor.close()


class OneTripCursor:
    """The part of aiosqlite's Cursor that SQLAlchemy uses, one thread trip per statement."""

    __slots__ = ("_connection", "_rows", "arraysize", "description", "lastrowid", "rowcount")

    def __init__(self, connection: OneTripConnection) -> None:
        self._connection = connection
        self._rows: list[Any] = []
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self.arraysize = 1

    async def execute(self, sql: str, parameters: Any = None) -> OneTripCursor:
        connection = self._connection
        if sql.startswith("BEGIN"):  # the rank is read here, in the task that begins
            outcome = await connection._execute(
                connection._begin, connection._conn, sql, parameters, current_rank()
            )
        else:
            outcome = await connection._execute(_run, connection._conn, sql, parameters, False)
        self.description, self.rowcount, self.lastrowid, self._rows = outcome
        return self

    async def executemany(self, sql: str, parameters: Sequence[Any]) -> OneTripCursor:
        outcome = await self._connection._execute(
            _run, self._connection._conn, sql, parameters, True
        )
        self.description, self.rowcount, self.lastrowid, self._rows = outcome
        return self

    async def fetchall(self) -> list[Any]:
        rows, self._rows = self._rows, []
        return rows

    async def fetchone(self) -> Any:
        return self._rows.pop(0) if self._rows else None

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        size = size or self.arraysize
        rows, self._rows = self._rows[:size], self._rows[size:]
        return rows

    async def close(self) -> None:
        self._rows = []

    async def __aenter__(self) -> OneTripCursor:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()


class _Opened:
    """`connection.cursor()`: awaitable and an async context manager, as in aiosqlite, but
    without a trip to the thread (the sqlite3 cursor is made when a statement runs)."""

    __slots__ = ("cursor",)

    def __init__(self, cursor: OneTripCursor) -> None:
        self.cursor = cursor

    def __await__(self) -> Generator[Any, None, OneTripCursor]:
        if False:  # pragma: no cover - makes this a generator
            yield
        return self.cursor

    async def __aenter__(self) -> OneTripCursor:
        return self.cursor

    async def __aexit__(self, *_: object) -> None:
        await self.cursor.close()


class OneTripConnection(aiosqlite.Connection):
    # The process's queue for this connection's database file (None: in-memory database).
    # `_queued` is read and written only in the connection's thread.
    queue: WriterQueue | None = None
    _queued = False
    _read_only = False  # in a read-only transaction (query_only is on)

    def cursor(self) -> Any:  # aiosqlite's returns a Result; this returns the same shape
        return _Opened(OneTripCursor(self))

    def _begin(
        self, connection: sqlite3.Connection, sql: str, parameters: Any, rank: int
    ) -> _Outcome:
        """BEGIN, once this connection's turn to write has come (in its thread); a read-only
        transaction begins at once, and cannot write."""
        if sql == READ_ONLY_BEGIN:
            connection.execute("PRAGMA query_only=ON")
            self._read_only = True
        elif self.queue is not None and not self._queued:
            self.queue.take(rank=rank)
            self._queued = True
        try:
            return _run(connection, sql, parameters, False)
        except BaseException:
            self._end()
            raise

    def _end(self) -> None:
        """The transaction is over (or never began): the next writer's turn."""
        if self._read_only and self._connection and not self._connection.in_transaction:
            self._connection.execute("PRAGMA query_only=OFF")
            self._read_only = False
        if self._queued and not (self._connection and self._connection.in_transaction):
            self._queued = False
            assert self.queue is not None
            self.queue.release()

    def _finish(self, how: Any) -> None:
        try:
            how()
        finally:
            self._end()

    async def commit(self) -> None:
        await self._execute(self._finish, self._conn.commit)

    async def rollback(self) -> None:
        await self._execute(self._finish, self._conn.rollback)

    async def close(self) -> None:
        if self._connection is not None and self._running:
            # Closing ends an open transaction (rolled back): the queue moves on.
            await self._execute(self._finish, self._conn.rollback)
        await super().close()


async def checkpoint_periodically(url: str, interval: float) -> None:
    """Checkpoint the WAL of the database at `url` every `interval` seconds, from a connection
    of its own in a worker thread (PASSIVE: it copies what it can and never waits for readers
    or writers). With automatic checkpoints off (`db.SqliteOptions`), the commit that would
    have crossed the 1,000-page mark no longer stops to copy ~4 MB and fsync the database:
    measured at 1,000 chat messages/s, 1 % of commits took 8-24 ms instead of ~1 ms."""
    path = make_url(url).database
    if not path or path == ":memory:":
        return
    while True:
        await asyncio.sleep(interval)
        # The thread opens and closes its own connection, and a cancelled task still waits
        # for it: nothing here is ever closed under a running checkpoint.
        running = asyncio.ensure_future(asyncio.to_thread(_checkpoint, path))
        try:
            await asyncio.shield(running)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await running
            raise
        except sqlite3.Error:
            log.warning("WAL checkpoint of %s failed; retrying", path, exc_info=True)


def _checkpoint(path: str) -> None:
    # mode=rw: never create a database that is not there (any more).
    connection = sqlite3.connect(f"file:{quote(path)}?mode=rw", uri=True, isolation_level=None)
    try:
        connection.execute("PRAGMA busy_timeout=1000")
        connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
    finally:
        connection.close()


def make_sqlite_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine for a `sqlite+aiosqlite://` URL whose connections are OneTripConnection
    (connect arguments as SQLAlchemy derives them from the URL)."""

    async def connect() -> OneTripConnection:
        args, options = engine.dialect.create_connect_args(make_url(url))

        def connector() -> sqlite3.Connection:
            connect: Any = sqlite3.connect  # the arguments come from SQLAlchemy's URL parsing
            connection: sqlite3.Connection = connect(*args, **options)
            return connection

        connection = OneTripConnection(connector, 64)
        connection.queue = queue
        connection._thread.daemon = True  # as SQLAlchemy's own aiosqlite dialect does
        await connection
        return connection

    path = make_url(url).database
    queue = writer_queue(str(Path(path).resolve())) if path and path != ":memory:" else None
    engine = create_async_engine(url, async_creator=connect, **kwargs)
    return engine

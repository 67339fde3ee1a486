"""Engine, sessions, SQLite pragmas and the naming convention shared by every table."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, MetaData, Table, TypeDecorator, event, func, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Session
from sqlalchemy.util import immutabledict

from frontdesk.kit.sqlite import (
    JOB_RANK,
    READ_ONLY_BEGIN,
    URGENT_RANK,
    current_rank,
    make_sqlite_engine,
)

log = logging.getLogger(__name__)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both databases (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def make_engine(
    url: str,
    *,
    sqlite: SqliteOptions | None = None,
    sqlite_pool: tuple[int, int] = (8, 8),
    **kwargs: Any,
) -> AsyncEngine:
    """`sqlite_pool`: (pool_size, max_overflow) of a SQLite engine."""
    if url.startswith("sqlite"):
        pool_size, max_overflow = sqlite_pool
        engine = make_sqlite_engine(url, pool_size=pool_size, max_overflow=max_overflow, **kwargs)
        _configure_sqlite(engine, sqlite or SqliteOptions())
        return engine
    # JIT off for the application's sessions: its statements are short, and PostgreSQL's JIT
    # (on above jit_above_cost, which the desk's counts over 100,000 conversations pass)
    # spent more compiling them than running them (bench/desk.py). Reports that would gain
    # may SET LOCAL jit = on.
    kwargs.setdefault("connect_args", {}).setdefault("options", "-c jit=off")
    engine = create_async_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True, **kwargs)
    event.listen(engine.sync_engine, "before_cursor_execute", _then_commit, retval=True)
    return engine


# The execution option of `execute_then_commit`'s statement.
_THEN_COMMIT = "frontdesk_then_commit"


def _then_commit(
    conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
) -> tuple[str, Any]:
    if context is not None and context.execution_options.get(_THEN_COMMIT):
        statement += ";\nCOMMIT"
    return statement, parameters


async def execute_then_commit(
    session: AsyncSession, statement: Any, params: dict[str, Any] | None = None
) -> list[Any]:
    """PostgreSQL: run `statement` and commit its transaction in one round trip (one simple
    query of two statements, the parameters bound client-side), returning the statement's
    rows. A lock the statement takes is then held only while the server works: never while
    the answer travels back and waits for this process's event loop to send the COMMIT. The
    session must have nothing left to flush; its own commit afterwards only ends SQLAlchemy's
    transaction (psycopg sends nothing for a connection no longer in one). Any error leaves
    the transaction to be rolled back as usual."""
    import psycopg

    assert not (session.new or session.dirty or session.deleted), "flush before"
    driver: Any = (await (await session.connection()).get_raw_connection()).driver_connection
    factory = driver.cursor_factory
    driver.cursor_factory = psycopg.AsyncClientCursor  # simple query: two statements allowed
    try:
        result = await session.execute(statement, params, execution_options={_THEN_COMMIT: True})
        return list(result.all())
    finally:
        driver.cursor_factory = factory


@dataclass
class SqliteOptions:
    # Set by a process that checkpoints the WAL from its own task (kit/sqlite.py
    # `checkpoint_periodically`): connections opened afterwards leave checkpoints to it, so a
    # commit never pays for one. Processes without it (CLI commands) keep SQLite's automatic
    # checkpoints; the last connection to close checkpoints anyway.
    background_checkpoints: bool = False


def _configure_sqlite(engine: AsyncEngine, options: SqliteOptions) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # We issue BEGIN ourselves (below) so savepoints work and writers queue instead of failing.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        if options.background_checkpoints:
            cursor.execute("PRAGMA wal_autocheckpoint=0")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=15000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # IMMEDIATE takes the write lock at BEGIN: SQLite serialises writers, so event sequence
        # numbers are committed in the order they are allocated (the replay invariant), and a
        # read-then-write transaction can never fail with SQLITE_BUSY on lock upgrade. A
        # transaction declared read-only (`READ_ONLY`) begins DEFERRED outside the writer
        # queue and cannot write (kit/sqlite.py): a writer never waits for a reader.
        if conn.get_execution_options().get(READ_ONLY):
            conn.exec_driver_sql(READ_ONLY_BEGIN)
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")


# The execution option that declares a transaction read-only, given when it begins
# (`begin_read`) or as a session's default (`read_only_by_default`). SQLite: it neither takes
# nor waits for the write lock, and a write in it fails ("attempt to write a readonly
# database"). PostgreSQL: ignored (a transaction there is as it always was).
READ_ONLY = "frontdesk_read_only"


def is_sqlite(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "sqlite"


def insert_for(session: AsyncSession) -> Any:
    """The session's dialect's `insert` (PostgreSQL's or SQLite's), for what a plain insert
    lacks: `on_conflict_do_nothing`, `on_conflict_do_update`."""
    from sqlalchemy.dialects.postgresql import insert as pg_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert if is_sqlite(session) else pg_insert


async def begin_read(session: AsyncSession) -> bool:
    """SQLite: begin the session's next transaction read-only; True if it did (False on
    PostgreSQL, or when a transaction is open already: the reads then join it)."""
    if session.in_transaction() or not is_sqlite(session):
        return False
    await session.connection(execution_options={READ_ONLY: True})
    return True


async def begin_write(session: AsyncSession) -> None:
    """Make the session's transaction a writer (on SQLite: IMMEDIATE, in the writer queue),
    even in a session read-only by default: a read-only transaction open is ended first
    (it has nothing to commit; what it loaded stays loaded), a writer open is kept. What
    the write depends on is to be read after this, in the writer."""
    if session.in_transaction():
        connection = (await session.connection()).sync_connection
        if connection is None or not connection.get_execution_options().get(READ_ONLY):
            return
        await session.commit()
    await session.connection(execution_options={READ_ONLY: False})


def read_only_by_default(session: AsyncSession, read_only: bool = True) -> None:
    """Make every transaction the session begins from now on read-only (SQLite), except
    those begun with `begin_write`: for requests that only read (GET pages and lists).
    Nothing on PostgreSQL."""
    if not is_sqlite(session):
        return
    sync = session.sync_session
    options = dict(sync.execution_options)
    if read_only:
        options[READ_ONLY] = True
    else:
        options.pop(READ_ONLY, None)
    sync.execution_options = immutabledict(options)


async def assign_ids(session: AsyncSession, model: type[Base]) -> None:
    """SQLite: give the new, unflushed rows of `model` their primary keys, so that the flush
    writes them in one statement — SQLite cannot return the keys of a multi-row insert in
    order, so the ORM would otherwise insert them one statement each (PostgreSQL can: nothing
    to do there). Safe because every SQLite transaction holds the write lock from BEGIN
    IMMEDIATE (above), so nobody else can take a key before we commit; the keys are the ones
    SQLite would pick: after the largest stored and, with AUTOINCREMENT, the largest ever."""
    if session.get_bind().dialect.name != "sqlite":
        return
    mapper = sa_inspect(model)
    [column] = mapper.primary_key
    key = mapper.get_property_by_column(column).key
    rows = [row for row in session.new if isinstance(row, model)]
    rows.sort(key=lambda row: sa_inspect(row).insert_order or 0)  # keys in the order added
    new = [row for row in rows if getattr(row, key) is None]
    if not new or (len(new) == 1 and model not in _largest_keys(session)):
        return  # one row: SQLite picks the same key without a query
    with session.no_autoflush:  # the rows must stay unflushed until they have their keys
        stored = await _sqlite_largest_key(session, model)
    start = max([stored, *(getattr(row, key) or 0 for row in rows)])
    for offset, row in enumerate(new, start=1):
        setattr(row, key, start + offset)
    _largest_keys(session)[model] = start + len(new)


async def next_keys(session: AsyncSession, model: type[Base], count: int) -> list[int]:
    """`count` new primary keys of `model`, ascending, for rows inserted with Core (one
    executemany, no ORM objects). PostgreSQL: from the column's sequence. SQLite: after the
    largest key, as in `assign_ids` (the transaction holds the write lock)."""
    if count == 0:
        return []
    if session.get_bind().dialect.name == "sqlite":
        stored = await _sqlite_largest_key(session, model)
        _largest_keys(session)[model] = stored + count
        return list(range(stored + 1, stored + 1 + count))
    stored_in = sa_inspect(model).local_table
    assert isinstance(stored_in, Table)
    [column] = sa_inspect(model).primary_key
    sequence = func.pg_get_serial_sequence(stored_in.name, column.name)
    keys = await session.scalars(
        select(func.nextval(sequence)).select_from(func.generate_series(1, count))
    )
    return sorted(keys)


# SQLite key allocation, per transaction: the largest key of each table that this transaction
# has read or handed out. The first lookup of a transaction reads the largest keys of every
# table the process has allocated keys for, in one statement (a batch of chat messages needs
# five tables); later ones cost nothing. Keys the database picks itself — a row flushed
# without a key — make that table's entry be read again (`_track_flushed_keys`).
_LARGEST_KEYS = "frontdesk.largest_keys"
_KEYED_MODELS: dict[type[Base], None] = {}  # ordered set: every model keys were asked for
_LARGEST_KEY_SQL: dict[tuple[type[Base], ...], str] = {}


def _largest_keys(session: AsyncSession | Session) -> dict[type[Base], int]:
    sync = session.sync_session if isinstance(session, AsyncSession) else session
    transaction = sync.get_transaction()
    held = sync.info.get(_LARGEST_KEYS)
    if held is None or held[0] is not transaction:
        held = sync.info[_LARGEST_KEYS] = (transaction, {})
    keys: dict[type[Base], int] = held[1]
    return keys


async def _sqlite_largest_key(session: AsyncSession, model: type[Base]) -> int:
    known = _largest_keys(session)
    if model not in known:
        _KEYED_MODELS[model] = None
        wanted = tuple(m for m in _KEYED_MODELS if m not in known)
        sql = _LARGEST_KEY_SQL.get(wanted)
        if sql is None:
            sql = _LARGEST_KEY_SQL[wanted] = "SELECT " + ", ".join(
                f"({_largest_key_sql(m)})" for m in wanted
            )
        # Plain SQL on the session's connection: building and compiling the statement each
        # time cost more than running it.
        connection = await session.connection()
        row = (await connection.exec_driver_sql(sql)).one()
        known.update(zip(wanted, (int(value or 0) for value in row), strict=True))
    return known[model]


def _largest_key_sql(model: type[Base]) -> str:
    mapper = sa_inspect(model)
    [column] = mapper.primary_key
    stored_in = mapper.local_table
    assert isinstance(stored_in, Table)
    # Names from our own schema, never from input.
    sql = f'SELECT coalesce(max("{column.name}"), 0) FROM "{stored_in.name}"'
    if stored_in.dialect_options["sqlite"]["autoincrement"]:
        sql = (
            f"SELECT max(({sql}), coalesce((SELECT max(seq) FROM sqlite_sequence"
            f" WHERE name = '{stored_in.name}'), 0))"
        )
    return sql


@event.listens_for(Session, "before_flush")
def _track_flushed_keys(session: Session, _context: Any, _instances: Any) -> None:
    """Rows about to be inserted with a key we did not hand out: the database picks the key
    (forget what we knew of that table) or the caller did (remember it if larger)."""
    held = session.info.get(_LARGEST_KEYS)
    if not held or held[0] is not session.get_transaction() or not held[1]:
        return
    known: dict[type[Base], int] = held[1]
    for row in session.new:
        model = type(row)
        if model not in known:
            continue
        [column] = sa_inspect(model).primary_key
        value = getattr(row, sa_inspect(model).get_property_by_column(column).key)
        if value is None:
            del known[model]
        elif value > known[model]:
            known[model] = value


# (pool_size, max_overflow) of the group commits' SQLite engine: one connection per writer
# task (ingest, voice, webchat, SMTP; `ingest_writers` each), a little room above.
URGENT_SQLITE_POOL = (4, 8)
# The job runner's: its claims and completions, and FRONTDESK_JOB_CONCURRENCY jobs at once.
JOBS_SQLITE_POOL = (8, 8)


class Database:
    """An engine and its session factory; one per process (created by the app or the worker)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.sqlite = SqliteOptions()
        self.engine = make_engine(url, sqlite=self.sqlite)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        # SQLite: pools of their own for the group commits (tasks marked kit.sqlite.URGENT)
        # and the job runner's tasks (kit.sqlite.JOB_WRITER), picked by the same rank that
        # orders them at the write lock. A request that writes holds a pooled connection while
        # it waits for the lock, so a crowd of them took all 16: 500 agents answering calls
        # kept the voice group commit, first in line for the lock, waiting seconds for a
        # connection to ask with; 32 agents replying back to back kept the job runner from
        # delivering anything until they stopped (ADR 0010).
        self.urgent_engine: AsyncEngine | None = None
        self.jobs_engine: AsyncEngine | None = None
        # By rank: REQUEST_RANK, JOB_RANK, URGENT_RANK.
        self._sessionmakers = [self.sessionmaker] * 3
        if self.engine.dialect.name == "sqlite":
            self.jobs_engine = make_engine(url, sqlite=self.sqlite, sqlite_pool=JOBS_SQLITE_POOL)
            self.urgent_engine = make_engine(
                url, sqlite=self.sqlite, sqlite_pool=URGENT_SQLITE_POOL
            )
            self._sessionmakers[JOB_RANK] = async_sessionmaker(
                self.jobs_engine, expire_on_commit=False
            )
            self._sessionmakers[URGENT_RANK] = async_sessionmaker(
                self.urgent_engine, expire_on_commit=False
            )
        # Wired by the process runtime: where committed events go, who wants to hear of new jobs.
        self.bus: Any = None
        self.job_listeners: list[Callable[[], None]] = []
        # The process's inbox rows (inboxes/cache.py), for jobs that need an inbox's settings.
        self.inboxes: Any = None

    async def publish_events(self, messages: list[dict[str, Any]]) -> None:
        """Fan committed events out to every process; never raises (the commit already stands,
        and sockets that miss a publish refill from the event log)."""
        if self.bus is None or not messages:
            return
        try:
            await self.bus.publish_many("events", [json.dumps(message) for message in messages])
        except Exception:
            log.exception(
                "publishing events %s..%s failed",
                messages[0].get("sequence"),
                messages[-1].get("sequence"),
            )

    def notify_jobs(self) -> None:
        for listener in self.job_listeners:
            listener()

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @property
    def engines(self) -> list[AsyncEngine]:
        """Every engine of this database (statements may run on any of them)."""
        extra = (self.urgent_engine, self.jobs_engine)
        return [self.engine, *(engine for engine in extra if engine is not None)]

    @asynccontextmanager
    async def session(self, *, read_only: bool = False) -> AsyncIterator[AsyncSession]:
        """A session; `read_only`: its transactions are read-only (`read_only_by_default`).
        On SQLite a group commit's session (an URGENT task's) comes from `urgent_engine`, a
        job runner task's from `jobs_engine`."""
        maker = self._sessionmakers[current_rank()]
        async with maker() as session:
            session.info["db"] = self
            if read_only:
                read_only_by_default(session)
            try:
                yield session
            finally:
                # Whatever was not committed is discarded; loaded rows stay readable (detached).
                session.expunge_all()
                if session.in_transaction():
                    await session.rollback()

    async def dispose(self) -> None:
        for engine in self.engines:
            await engine.dispose()

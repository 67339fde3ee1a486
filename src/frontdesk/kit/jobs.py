"""Jobs: a table in the application database, enqueued inside the business transaction,
claimed with FOR UPDATE SKIP LOCKED under a lease, retried with exponential backoff."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import socket
import time
import traceback
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from croniter import croniter
from sqlalchemy import (
    JSON,
    Index,
    Integer,
    Select,
    String,
    Text,
    and_,
    bindparam,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql import Executable

from frontdesk.config import Settings
from frontdesk.db import Base, Database, UTCDateTime, assign_ids, is_sqlite, utcnow
from frontdesk.kit import pressure, uow
from frontdesk.kit.events import event_message
from frontdesk.kit.sqlite import JOB_WRITER

log = logging.getLogger(__name__)

AVAILABLE, RUNNING, COMPLETED, FAILED = "available", "running", "completed", "failed"
# PostgreSQL's NOTIFY channel that tells job runners in other processes of new jobs.
NOTIFY_CHANNEL = "frontdesk_jobs"
JOB_STATES = (AVAILABLE, RUNNING, COMPLETED, FAILED)


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_claim", "state", "run_at"),
        # Claims by kind read their own kind's due jobs in order (migration 0055).
        Index("ix_jobs_kind_claim", "kind", "state", "run_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(16), default=AVAILABLE)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # NULL: the runner's FRONTDESK_JOB_MAX_ATTEMPTS applies.
    max_attempts: Mapped[int | None] = mapped_column(Integer)
    run_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    locked_by: Mapped[str | None] = mapped_column(String(100))
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Enqueueing twice with the same key is a no-op: the first job stands.
    key: Mapped[str | None] = mapped_column(String(200), unique=True)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Schedule(Base):
    """A cron schedule; firing it is a compare-and-set on next_run_at, so one process wins."""

    __tablename__ = "schedules"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    cron: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(100))
    next_run_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PermanentJobError(Exception):
    """Raised by a handler when retrying cannot help (the job fails at once)."""


class RetryLater(Exception):
    """Raised by a handler that must wait (a rate cap): run again after `seconds`,
    without spending one of the job's attempts."""

    def __init__(self, seconds: float, reason: str = "retry later") -> None:
        super().__init__(reason)
        self.seconds = seconds


@dataclass
class JobContext:
    db: Database
    settings: Settings
    # 0 for a batch handler: its jobs carry their own ids and attempts.
    job_id: int
    attempt: int
    # The runner holding the jobs' lease (`renew_leases`); empty outside a runner.
    worker: str = ""


@dataclass
class Handler:
    fn: Callable[..., Awaitable[Any]]
    # Transactional handlers get (session, payload) and commit together with the job's
    # completion; I/O handlers get (JobContext, payload) and open short transactions themselves.
    transactional: bool = True
    on_failure: Callable[[AsyncSession, dict[str, Any], str], Awaitable[None]] | None = None
    # > 0: a batch handler (`batch_handler`), given up to this many claimed jobs at once,
    # with at most `parallel` batches of the kind running in one runner.
    batch: int = 0
    parallel: int = 1
    # Work nobody waits on (sentiment, at-risk looks): gives way to requests in flight in the
    # runner's process for most of the time (JobRunner, Settings.job_background_share).
    background: bool = False


HANDLERS: dict[str, Handler] = {}
JOBS = Job.metadata.tables["jobs"]


# Seconds between a runner's looks for jobs of kinds no handler is registered for (claimed,
# then failed: "no handler"); every other claim names the kinds it takes.
UNKNOWN_SWEEP = 10.0


@dataclass
class CronSpec:
    name: str
    cron: str
    kind: str


SCHEDULES: list[CronSpec] = []


class AnyRow:
    """An `enabled` predicate that is true while `query` finds a row (a domain's "is anything
    configured?"). Called alone it is one statement, as a plain predicate; a commit whose
    subscriptions need several of them asks them all in one statement (`_choose_subscribed`:
    a new conversation's first message wants the bot's, routing's and the SLA tracker's)."""

    __slots__ = ("query",)

    def __init__(self, query: Callable[[], Select[Any]]) -> None:
        self.query = query

    async def __call__(self, session: AsyncSession) -> bool:
        [found] = await _any_rows(session, [self])
        return found


# The statement of each set of AnyRow predicates asked together (a handful of sets: built
# once, not per commit).
_ANY_ROWS: dict[tuple[AnyRow, ...], Executable] = {}


async def _any_rows(session: AsyncSession, predicates: list[AnyRow]) -> list[bool]:
    """Each predicate's answer, in one statement."""
    key = tuple(predicates)
    query = _ANY_ROWS.get(key)
    if query is None:
        query = _ANY_ROWS[key] = select(
            *(exists(p.query()).label(f"any_{i}") for i, p in enumerate(predicates))
        )
    row = (await session.execute(query)).one()
    return [bool(value) for value in row]


@dataclass
class Subscription:
    """Run job `kind` for each event of a type that `wants`; `enabled` (one query per commit
    that has such events; an `AnyRow` shares a statement with the commit's other ones) lets a
    domain switch its reaction off until it is configured."""

    kind: str
    wants: Callable[[dict[str, Any]], bool]
    enabled: Callable[[AsyncSession], Awaitable[bool]] | None = None


SUBSCRIPTIONS: dict[str, list[Subscription]] = {}


def handler(
    kind: str,
    *,
    transactional: bool = True,
    on_failure: Callable[[AsyncSession, dict[str, Any], str], Awaitable[None]] | None = None,
) -> Callable[[Callable[..., Awaitable[None]]], Callable[..., Awaitable[None]]]:
    def register(fn: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
        HANDLERS[kind] = Handler(fn, transactional, on_failure)
        return fn

    return register


def batch_handler(
    kind: str,
    *,
    size: int,
    parallel: int = 2,
    background: bool = False,
    on_failure: Callable[[AsyncSession, dict[str, Any], str], Awaitable[None]] | None = None,
) -> Callable[[BatchFn], BatchFn]:
    """Register `fn(ctx, jobs) -> {job id: exception}` for up to `size` jobs of one kind
    claimed together (one claim, the handler's own few transactions, one completion). A job
    missing from the answer is done; one that maps to RetryLater waits without spending an
    attempt; any other exception is a failed attempt of that job alone. An exception out of
    the handler fails the attempt of every job in the batch (they are retried as usual).
    At most `parallel` batches of the kind run at once in a runner: two overlap one batch's
    network wait with the next one's database work; more would only queue, and a batch
    that queues past the job lease is claimed again. On SQLite every writing transaction
    holds the database's one write lock (BEGIN IMMEDIATE): a handler reads in read-only
    transactions (`uow.reading`) and writes in short ones, so that requests do not wait
    behind a large batch. `background`: see `Handler.background`."""

    def register(fn: BatchFn) -> BatchFn:
        HANDLERS[kind] = Handler(
            fn,
            transactional=False,
            on_failure=on_failure,
            batch=size,
            parallel=parallel,
            background=background,
        )
        return fn

    return register


def on_event(
    event_type: str,
    kind: str,
    *,
    wants: Callable[[dict[str, Any]], bool] = lambda event: True,
    enabled: Callable[[AsyncSession], Awaitable[bool]] | None = None,
) -> None:
    """React to an event through the job queue: the job is enqueued in the transaction that
    records the event (payload: the event as clients get it, keyed by its sequence)."""
    SUBSCRIPTIONS.setdefault(event_type, []).append(Subscription(kind, wants, enabled))


_SUBSCRIBED = "frontdesk.jobs.subscribed"


async def _choose_subscribed(session: AsyncSession, pending: list[dict[str, Any]]) -> None:
    """Which enabled subscriptions want which of the events (before the event lock: the
    `enabled` checks read the database)."""
    wanted: dict[int, tuple[Subscription, list[dict[str, Any]]]] = {}
    for item in pending:
        for subscription in SUBSCRIPTIONS.get(item["type"], ()):
            if subscription.wants(item):
                wanted.setdefault(id(subscription), (subscription, []))[1].append(item)
    chosen: list[tuple[Subscription, list[dict[str, Any]]]] = []
    # Each `enabled` predicate asked once per commit: several subscriptions share one (the
    # SLA tracker's, on a new conversation and its first message: one read, not two), and
    # the `AnyRow` ones are asked together, in one statement.
    enabled: dict[Callable[[AsyncSession], Awaitable[bool]], bool] = {}
    together = list(
        dict.fromkeys(s.enabled for s, _ in wanted.values() if isinstance(s.enabled, AnyRow))
    )
    if together:
        enabled.update(zip(together, await _any_rows(session, together), strict=True))
    for subscription, items in wanted.values():
        if subscription.enabled is not None:
            if subscription.enabled not in enabled:
                enabled[subscription.enabled] = await subscription.enabled(session)
            if not enabled[subscription.enabled]:
                continue
        chosen.append((subscription, items))
    session.info[_SUBSCRIBED] = chosen


async def _enqueue_subscribed(session: AsyncSession, pending: list[dict[str, Any]]) -> None:
    if _SUBSCRIBED not in session.info:  # not chosen before the lock (uow.BEFORE_EVENTS)
        await _choose_subscribed(session, pending)
    chosen: list[tuple[Subscription, list[dict[str, Any]]]] = session.info.pop(_SUBSCRIBED)
    jobs: list[tuple[str, str, dict[str, Any]]] = []  # (kind, key, event)
    for subscription, items in chosen:
        jobs += [(subscription.kind, f"{subscription.kind}:{item['sequence']}", item)
                 for item in items]  # fmt: skip
    # The keys already queued, read together (not one statement per job, as `enqueue`
    # would): a burst of inbound messages commits several jobs per message.
    queued: set[str] = set()
    keys = [key for _, key, _ in jobs]
    for start in range(0, len(keys), 500):
        # Uses index: uq_jobs_key.
        chunk = keys[start : start + 500]
        queued.update(await session.scalars(select(Job.key).where(Job.key.in_(chunk))))
    rows = [
        {"kind": kind, "payload": event_message(**item), "key": key}
        for kind, key, item in jobs
        if key not in queued
    ]
    if rows:
        # One executemany with no ORM objects, the other columns from the table's defaults
        # (new Job objects without keys are inserted one statement each on SQLite: a group
        # commit of 32 webhooks made 32 INSERTs).
        await session.execute(insert(JOBS), rows)
        _announce(session)


def _subscribed_jobs(session: AsyncSession, pending: list[dict[str, Any]]) -> list[tuple[int, str]]:
    """PostgreSQL: the chosen subscriptions' jobs, which uow's event statement inserts."""
    chosen: list[tuple[Subscription, list[dict[str, Any]]]] = session.info.pop(_SUBSCRIBED, [])
    index = {id(item): n for n, item in enumerate(pending)}
    jobs = [(index[id(item)], subscription.kind) for subscription, items in chosen
            for item in items]  # fmt: skip
    if jobs:
        _announce(session)
    return jobs


uow.BEFORE_EVENTS.append(_choose_subscribed)
uow.BEFORE_COMMIT.append(_enqueue_subscribed)  # SQLite
uow.EVENT_JOBS.append(_subscribed_jobs)  # PostgreSQL


def every(name: str, cron: str, kind: str) -> None:
    SCHEDULES.append(CronSpec(name, cron, kind))


async def enqueue(
    session: AsyncSession,
    kind: str,
    payload: dict[str, Any],
    *,
    key: str | None = None,
    run_at: datetime | None = None,
    max_attempts: int | None = None,
) -> Job:
    """Add a job to the current transaction; it becomes visible to workers at commit."""
    if key is not None:
        existing = await session.scalar(select(Job).where(Job.key == key))
        if existing is not None:
            return existing
    job = Job(
        kind=kind,
        payload=payload,
        key=key,
        run_at=run_at or utcnow(),
        max_attempts=max_attempts,
        state=AVAILABLE,
        attempts=0,
    )
    session.add(job)
    _announce(session)
    return job


async def enqueue_many(
    session: AsyncSession, kind: str, keyed: Mapping[str, dict[str, Any]]
) -> None:
    """`enqueue` for many keyed jobs of one kind ({key: payload}): the keys already queued
    are read in one statement (not one each), and the new jobs are inserted together at
    flush. A key queued before is a no-op, as in `enqueue`."""
    if not keyed:
        return
    # Uses index: uq_jobs_key.
    found = set(await session.scalars(select(Job.key).where(Job.key.in_(list(keyed)))))
    now = utcnow()
    for key, payload in keyed.items():
        if key not in found:
            session.add(Job(kind=kind, payload=payload, key=key, run_at=now,
                            state=AVAILABLE, attempts=0))  # fmt: skip
    await assign_ids(session, Job)
    _announce(session)


def _announce(session: AsyncSession) -> None:
    """Wake this process's runner once the transaction's jobs are committed (and, on
    PostgreSQL, the other processes' runners)."""
    db = session.info.get("db")
    if db is not None:

        async def wake() -> None:
            db.notify_jobs()

        uow.after_commit(session, wake)
        queued = session.info.get(uow.AFTER_COMMIT, [])
        if db.is_postgres and not any(hook is _NOTIFY_MARK for hook in queued):
            # Once per transaction (a rollback drops it with the other hooks).
            uow.after_commit(session, _NOTIFY_MARK)

            async def notify() -> None:
                await notify_workers(db)

            uow.after_commit(session, notify)


async def _notify_mark() -> None:
    """Marks a transaction whose commit notifies the other processes' runners."""


_NOTIFY_MARK = _notify_mark


async def notify_workers(db: Database) -> None:
    """Wake the runners of other processes (`frontdesk worker`) once jobs are committed:
    `NOTIFY frontdesk_jobs`, after the commit (a rolled-back enqueue notifies nothing) on a
    connection of its own, outside the business transaction. Without it a worker only sees a
    job at its next poll (FRONTDESK_JOB_POLL_SECONDS). Never raises: the poll is the
    fallback."""
    try:
        async with db.engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.execute(text(f"NOTIFY {NOTIFY_CHANNEL}"))
    except Exception as exc:
        log.warning("could not notify job runners (%s); they poll", exc)


async def listen_for_jobs(db: Database, wake: Callable[[], None]) -> None:
    """LISTEN for new jobs on PostgreSQL (one connection of its own, reconnected when lost)
    and wake the runner on each notice; the runner's poll stays as the fallback."""
    import psycopg

    conninfo = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    delay = 0.5
    while True:
        try:
            async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
                await conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                wake()  # anything committed while (re)connecting
                delay = 0.5
                async for _ in conn.notifies():
                    wake()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("listening for new jobs failed (%s); again in %.1fs", exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)


async def count_by_state(session: AsyncSession) -> dict[str, int]:
    rows = await session.execute(select(Job.state, func.count()).group_by(Job.state))
    counts = dict.fromkeys(JOB_STATES, 0)
    counts.update({state: int(n) for state, n in rows.all()})
    return counts


def backoff(settings: Settings, attempts: int) -> timedelta:
    seconds = settings.job_backoff_base_seconds * 2 ** max(attempts - 1, 0)
    return timedelta(seconds=min(seconds, settings.job_backoff_max_seconds))


@dataclass
class Claimed:
    id: int
    kind: str
    payload: dict[str, Any]
    attempts: int
    max_attempts: int | None


BatchFn = Callable[[JobContext, list[Claimed]], Awaitable[Mapping[int, Exception]]]


def _batch_kinds() -> dict[str, Handler]:
    return {kind: spec for kind, spec in HANDLERS.items() if spec.batch > 0}


def _background_kinds(batches: dict[str, Handler]) -> frozenset[str]:
    return frozenset(kind for kind, spec in batches.items() if spec.background)


@dataclass
class JobRunner:
    """Claims and runs jobs until stopped; any number may run against one database."""

    db: Database
    settings: Settings
    name: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _running: set[asyncio.Task[None]] = field(default_factory=set)
    # Batches running now, per kind (Handler.parallel caps them).
    _batches: dict[str, int] = field(default_factory=dict)
    _stopping: bool = False
    _schedules_due: float = 0.0
    _sweep_due: float = 0.0
    # Background batches running now, and their turns while the process serves someone
    # (kit.pressure; `_held_back`).
    _background: int = 0
    _background_pace: pressure.Pace = field(init=False)
    _background_timer: asyncio.TimerHandle | None = None

    def __post_init__(self) -> None:
        self._background_pace = pressure.Pace(self.settings.job_background_share)

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        # On SQLite the runner's transactions (and its jobs', in the tasks it starts) go
        # before requests for the write lock (kit/sqlite.py JOB_WRITER).
        token = JOB_WRITER.set(True)
        try:
            await self._run()
        finally:
            JOB_WRITER.reset(token)

    async def _run(self) -> None:
        while not self._stopping:
            try:
                await sync_schedules(self.db)
                break
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("could not sync schedules; retrying")
                await asyncio.sleep(self.settings.job_poll_seconds)
        while not self._stopping:
            try:
                # Cron has minute resolution: one look a second, not one per claim (a busy
                # runner loops once per finished batch).
                if time.monotonic() >= self._schedules_due:
                    self._schedules_due = time.monotonic() + 1.0
                    await self.fire_schedules()
                if await self._claim_and_start():
                    await asyncio.sleep(0)
                    continue
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("job runner loop failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.settings.job_poll_seconds)
            self._wake.clear()

    async def _claim_and_start(self) -> bool:
        """Claim what the free slots take and start it: a batch kind fills one slot with up
        to its batch size, any other job takes one slot. True when a claim came back full
        (more may be waiting). The claims of one round share a transaction: the runner
        looks for work on every wake-up and every poll, mostly finding none, and each
        transaction of its own cost a BEGIN and COMMIT (on SQLite, a turn of the one write
        lock) besides its statement."""
        free = self.settings.job_concurrency - len(self._running)
        if free <= 0:
            return False
        batches = _batch_kinds()
        held = self._held_back(batches)
        # The sweep reads past every waiting job (SQLite: with the write lock held, ~15 ms
        # at 35,000 waiting): not while someone is served, unless it is long overdue.
        now = time.monotonic()
        sweep = now >= self._sweep_due and (
            not pressure.busy() or now >= self._sweep_due + 5 * UNKNOWN_SWEEP
        )
        if self.settings.is_sqlite:
            # An empty poll never takes the write lock; nor does one that finds only jobs of
            # kinds this runner cannot take now (a backlog of deliveries while its delivery
            # batch runs: each finished batch and each wake-up would claim for nothing).
            open_kinds = None if sweep else self._open_kinds(batches, held)
            if not await self._any_due(open_kinds):
                return False
        full = False
        taken: list[tuple[str, list[Claimed]]] = []
        claimed: list[Claimed] = []
        async with self.db.session() as session:
            for kind, spec in batches.items():
                if free <= 0:
                    break
                if self._batches.get(kind, 0) >= spec.parallel or kind in held:
                    continue
                # The handler bounds what a crash repeats (conversations.outbox sends and
                # records in waves), so a batch may be larger than JOB_CONCURRENCY.
                jobs = await self._claim_in(session, spec.batch, kinds=(kind,))
                if jobs:
                    taken.append((kind, jobs))
                    free -= 1
                    full = full or len(jobs) == spec.batch
                    if spec.background and pressure.busy():  # one at a time (`_held_back`)
                        held = _background_kinds(batches)
            if free > 0:
                # The other kinds by name (read through ix_jobs_kind_claim, not past a
                # backlog of batch kinds); kinds nobody handles are swept up now and then.
                singles = tuple(sorted(kind for kind in HANDLERS if kind not in batches))
                claimed = await self._claim_in(session, free, kinds=singles)
            if free > len(claimed) and sweep:
                self._sweep_due = time.monotonic() + UNKNOWN_SWEEP
                claimed += await self._claim_in(
                    session, free - len(claimed), exclude=tuple(sorted(HANDLERS))
                )
            await session.commit()
        for kind, jobs in taken:
            self._batches[kind] = self._batches.get(kind, 0) + 1
            if batches[kind].background:
                self._background += 1
            self._start(self._run_batch(kind, jobs))
        for job in claimed:
            self._start(self.execute(job))
        return full or (free > 0 and len(claimed) == free)

    async def _run_batch(self, kind: str, jobs: list[Claimed]) -> None:
        started = time.monotonic()
        try:
            await self.execute_batch(kind, jobs)
        finally:
            self._batches[kind] -= 1
            if HANDLERS[kind].background:
                self._background -= 1
                self._background_pace.spent(started)

    def _held_back(self, batches: dict[str, Handler]) -> frozenset[str]:
        """The background kinds this round leaves alone: while someone is being served in
        this process, one background batch at a time, each after the last one's share of
        the time (Settings.job_background_share). A wake-up is set for when they may go."""
        wait = self._background_pace.wait()
        if not wait and (self._background == 0 or not pressure.busy()):
            return frozenset()
        if self._background == 0 and self._background_timer is None:
            # (A running background batch wakes the runner when it ends.)
            def due() -> None:
                self._background_timer = None
                self.wake()

            self._background_timer = asyncio.get_running_loop().call_later(wait, due)
        return _background_kinds(batches)

    def _start(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._running.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        self._wake.set()

    async def stop(self) -> None:
        self._stopping = True
        if self._background_timer is not None:
            self._background_timer.cancel()
            self._background_timer = None
        self._wake.set()
        if self._running:
            await asyncio.wait(self._running, timeout=10)

    async def claim(
        self,
        limit: int,
        *,
        kinds: Collection[str] | None = None,
        exclude: Collection[str] = (),
    ) -> list[Claimed]:
        """Up to `limit` due jobs (of `kinds` only, or of any kind but `exclude`), leased to
        this runner in one transaction."""
        async with self.db.session() as session:
            claimed = await self._claim_in(session, limit, kinds=kinds, exclude=exclude)
            await session.commit()
        return claimed

    def _open_kinds(
        self, batches: dict[str, Handler], held: frozenset[str] = frozenset()
    ) -> tuple[str, ...]:
        """The kinds a claim round may take now: every handled kind but the batch kinds
        running as many batches as they may and the background kinds `held` back."""
        return tuple(
            sorted(
                kind
                for kind in HANDLERS
                if kind not in held
                and (kind not in batches or self._batches.get(kind, 0) < batches[kind].parallel)
            )
        )

    async def _any_due(self, kinds: tuple[str, ...] | None = None) -> bool:
        """Whether any job (of `kinds` only) is due, in a read-only transaction (SQLite:
        outside the write lock, which the claim's UPDATE takes)."""
        async with self.db.session() as session, uow.reading(session):
            found = await session.scalar(_due_probe(kinds, is_sqlite(session)), {"c_now": utcnow()})
        return found is not None

    async def _claim_in(
        self,
        session: AsyncSession,
        limit: int,
        *,
        kinds: Collection[str] | None = None,
        exclude: Collection[str] = (),
    ) -> list[Claimed]:
        """`claim` within the caller's transaction (the caller commits)."""
        now = utcnow()
        statement = _claim_statement(
            None if kinds is None else tuple(kinds), tuple(exclude), is_sqlite(session)
        )
        result = await session.execute(
            statement,
            {
                "c_now": now,
                "c_limit": limit,
                "c_name": self.name,
                "c_until": now + timedelta(seconds=self.settings.job_lease_seconds),
            },
        )
        claimed = [Claimed(*row) for row in result.all()]
        return sorted(claimed, key=lambda job: job.id)

    async def execute(self, job: Claimed) -> None:
        spec = HANDLERS.get(job.kind)
        if spec is not None and spec.batch:
            await self.execute_batch(job.kind, [job])  # a batch of one
            return
        job.max_attempts = job.max_attempts or self.settings.job_max_attempts
        try:
            if spec is None:
                raise PermanentJobError(f"no handler for job kind {job.kind!r}")
            if job.attempts > job.max_attempts:
                raise PermanentJobError("attempts exhausted (lease expired on the last one)")
            if spec.transactional:
                async with self.db.session() as session:
                    await spec.fn(session, job.payload)
                    if not await self._complete(session, job):
                        await uow.rollback(session)
                        return
                    await uow.commit(session)
            else:
                context = JobContext(self.db, self.settings, job.id, job.attempts)
                await spec.fn(context, job.payload)
                async with self.db.session() as session:
                    await self._complete(session, job)
                    await uow.commit(session)
        except RetryLater as exc:
            await self._postpone(job, exc)
        except Exception as exc:
            await self._failed(job, spec, exc)

    async def execute_batch(self, kind: str, jobs: list[Claimed]) -> None:
        spec = HANDLERS[kind]
        ready: list[Claimed] = []
        for job in jobs:
            job.max_attempts = job.max_attempts or self.settings.job_max_attempts
            if job.attempts > job.max_attempts:
                exhausted = PermanentJobError("attempts exhausted (lease expired on the last one)")
                await self._failed(job, spec, exhausted)
            else:
                ready.append(job)
        if not ready:
            return
        try:
            context = JobContext(self.db, self.settings, 0, 0, worker=self.name)
            outcomes = dict(await spec.fn(context, ready))
        except Exception as exc:
            log.exception("batch of %s %s jobs failed", len(ready), kind)
            outcomes = {job.id: exc for job in ready}
        await self._settle(ready, outcomes)
        for job in ready:
            error = outcomes.get(job.id)
            if error is not None and not isinstance(error, RetryLater):
                await self._failed(job, spec, error)

    async def _settle(self, jobs: list[Claimed], outcomes: dict[int, Exception]) -> None:
        """One transaction for the batch's done jobs and those that wait (RetryLater)."""
        done = [job.id for job in jobs if job.id not in outcomes]
        waiting = [job for job in jobs if isinstance(outcomes.get(job.id), RetryLater)]
        if not done and not waiting:
            return
        async with self.db.session() as session:
            if done:
                await session.execute(
                    update(Job)
                    .where(Job.id.in_(done), Job.locked_by == self.name, Job.state == RUNNING)
                    .values(
                        state=COMPLETED, finished_at=utcnow(), locked_until=None, last_error=None
                    )
                    .execution_options(synchronize_session=False)
                )
            for job in waiting:
                exc = outcomes[job.id]
                assert isinstance(exc, RetryLater)
                await self._postpone_in(session, job, exc)
            await uow.commit(session)

    async def _postpone(self, job: Claimed, exc: RetryLater) -> None:
        async with self.db.session() as session:
            await self._postpone_in(session, job, exc)
            await uow.commit(session)

    async def _postpone_in(self, session: AsyncSession, job: Claimed, exc: RetryLater) -> None:
        await session.execute(
            update(Job)
            .where(Job.id == job.id, Job.locked_by == self.name)
            .values(
                state=AVAILABLE,
                attempts=Job.attempts - 1,
                run_at=utcnow() + timedelta(seconds=max(exc.seconds, 0.01)),
                locked_by=None,
                locked_until=None,
                last_error=str(exc)[:4000],
            )
            .execution_options(synchronize_session=False)
        )

    async def _complete(self, session: AsyncSession, job: Claimed) -> bool:
        # Guarded by the lock owner: if our lease ran out and another worker took the job,
        # its run is the one that counts.
        result = await session.execute(
            update(Job)
            .where(Job.id == job.id, Job.locked_by == self.name, Job.state == RUNNING)
            .values(state=COMPLETED, finished_at=utcnow(), locked_until=None, last_error=None)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0))

    async def _failed(self, job: Claimed, spec: Handler | None, exc: Exception) -> None:
        error = "".join(traceback.format_exception_only(exc)).strip()[:4000]
        final = isinstance(exc, PermanentJobError) or job.attempts >= (
            job.max_attempts or self.settings.job_max_attempts
        )
        log.warning("job %s (%s) attempt %s failed: %s", job.id, job.kind, job.attempts, error)
        async with self.db.session() as session:
            values: dict[str, Any] = {"last_error": error, "locked_by": None, "locked_until": None}
            if final:
                values.update(state=FAILED, finished_at=utcnow())
            else:
                values.update(
                    state=AVAILABLE, run_at=utcnow() + backoff(self.settings, job.attempts)
                )
            result = await session.execute(
                update(Job)
                .where(Job.id == job.id, Job.locked_by == self.name)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            if not getattr(result, "rowcount", 0):
                await uow.rollback(session)
                return
            if final and spec is not None and spec.on_failure is not None:
                await spec.on_failure(session, job.payload, error)
            await uow.commit(session)

    async def fire_schedules(self) -> None:
        now = utcnow()
        async with self.db.session() as session:
            # Looked at once a second, mostly finding nothing: a read (SQLite: outside the
            # write lock); the update below fires each due one once even if another fired it.
            async with uow.reading(session):
                due = (
                    await session.scalars(select(Schedule).where(Schedule.next_run_at <= now))
                ).all()
            if not due:
                await uow.commit(session)  # PostgreSQL: the read's transaction
                return
            for item in due:
                following = croniter(item.cron, now).get_next(datetime)
                fired = await session.execute(
                    update(Schedule)
                    .where(Schedule.name == item.name, Schedule.next_run_at == item.next_run_at)
                    .values(next_run_at=following)
                    .execution_options(synchronize_session=False)
                )
                if getattr(fired, "rowcount", 0):
                    key = f"schedule:{item.name}:{item.next_run_at.isoformat()}"
                    await enqueue(session, item.kind, {}, key=key, max_attempts=1)
            await uow.commit(session)


async def renew_leases(ctx: JobContext, job_ids: Collection[int]) -> set[int]:
    """Extend the lease of these running jobs of `ctx.worker` (a long batch keeps its jobs
    from being claimed again while it works through them): the ids still held. Outside a
    runner (no worker) nothing is leased, so every id is kept."""
    if not ctx.worker or not job_ids:
        return set(job_ids)
    until = utcnow() + timedelta(seconds=ctx.settings.job_lease_seconds)
    async with ctx.db.session() as session:
        result = await session.execute(
            update(Job)
            .where(Job.id.in_(list(job_ids)), Job.locked_by == ctx.worker, Job.state == RUNNING)
            .values(locked_until=until)
            .returning(Job.id)
            .execution_options(synchronize_session=False)
        )
        held = {int(job_id) for job_id in result.scalars().all()}
        await uow.commit(session)
    return held


def _due(now: Any) -> Any:
    """Jobs due at `now` (a datetime or a bound parameter)."""
    return or_(
        and_(Job.state == AVAILABLE, Job.run_at <= now),
        # A worker that died holding a job: its lease ran out, run it again.
        and_(Job.state == RUNNING, Job.locked_until < now),
    )


@functools.lru_cache(maxsize=64)
def _claim_statement(
    kinds: tuple[str, ...] | None, exclude: tuple[str, ...], sqlite: bool = False
) -> Any:
    """The claim's UPDATE for these kinds, built once: a runner claims on every wake-up (a
    reply's NOTIFY, a finished batch, each poll), up to three times a round, and building
    the statement (its clauses coerced one by one) cost more CPU than executing it from
    SQLAlchemy's compiled cache. Parameters: c_now, c_limit, c_name (the runner), c_until
    (the lease's end). SQLite: the due jobs of each state are read in order up to the limit
    (`_sqlite_due`)."""
    now = bindparam("c_now", type_=UTCDateTime())
    limit = bindparam("c_limit", type_=Integer())
    if sqlite:
        due: Any = _sqlite_due(kinds, exclude, now, limit)
    else:
        due = (
            select(Job.id)
            .where(_due(now))
            .where(*_kind_filter(kinds, exclude))
            .order_by(Job.run_at, Job.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    return (
        update(Job)
        .where(Job.id.in_(due.scalar_subquery()))
        .values(
            state=RUNNING,
            locked_by=bindparam("c_name", type_=String()),
            locked_until=bindparam("c_until", type_=UTCDateTime()),
            attempts=Job.attempts + 1,
        )
        .returning(Job.id, Job.kind, Job.payload, Job.attempts, Job.max_attempts)
        .execution_options(synchronize_session=False)
    )


@functools.lru_cache(maxsize=64)
def _due_probe(kinds: tuple[str, ...] | None, sqlite: bool) -> Any:
    """One due job's id (of `kinds` only), any one, built once per kind list; parameter
    c_now. SQLite: each of `_due`'s two parts stops at its first row (through
    ix_jobs_kind_claim for given kinds), never reading or sorting a backlog."""
    now = bindparam("c_now", type_=UTCDateTime())
    filters = _kind_filter(kinds, ())
    if not sqlite:
        return select(Job.id).where(_due(now), *filters).limit(1)
    parts = [
        select(*select(Job.id).where(state, *filters).limit(1).subquery().c)
        for state in (
            and_(Job.state == AVAILABLE, Job.run_at <= now),
            and_(Job.state == RUNNING, Job.locked_until < now),
        )
    ]
    return select(union_all(*parts).subquery().c.id).limit(1)


def _sqlite_due(
    kinds: tuple[str, ...] | None, exclude: tuple[str, ...], now: Any, limit: Any
) -> Any:
    """SQLite: the first `limit` due jobs as `_due` orders them, from its two parts (available
    by run_at; running with the lease run out) read through ix_jobs_kind_claim for given
    kinds: for one kind each part in index order, stopped at the limit; for several, only
    their due jobs (then sorted). With `_due`'s OR in one WHERE, SQLite read every due job of
    any kind and sorted them: with 20,000 sentiment jobs waiting, each claim took 4-9 ms with
    the write lock held, even for a kind that had none."""
    filters = _kind_filter(kinds, exclude)
    in_order = kinds is None or len(kinds) == 1
    parts = []
    for state in (
        and_(Job.state == AVAILABLE, Job.run_at <= now),
        and_(Job.state == RUNNING, Job.locked_until < now),
    ):
        part = select(Job.id, Job.run_at).where(state, *filters)
        if in_order:
            part = select(*part.order_by(Job.run_at, Job.id).limit(limit).subquery().c)
        parts.append(part)
    both = union_all(*parts).subquery()
    return select(both.c.id).order_by(both.c.run_at, both.c.id).limit(limit)


def _kind_filter(kinds: Collection[str] | None, exclude: Collection[str]) -> list[Any]:
    clauses: list[Any] = []
    if kinds is not None:
        clauses.append(Job.kind.in_(list(kinds)))
    if exclude:
        clauses.append(Job.kind.not_in(list(exclude)))
    return clauses


async def sync_schedules(db: Database) -> None:
    """Make sure every schedule declared in code has a row (existing rows keep their time).
    Processes starting together may race to insert the same row: the loser retries."""
    for attempt in range(3):
        try:
            async with db.session() as session:
                await _sync_schedules(session)
                await uow.commit(session)
            return
        except IntegrityError:
            if attempt == 2:
                raise


async def _sync_schedules(session: AsyncSession) -> None:
    for spec in SCHEDULES:
        row = await session.get(Schedule, spec.name)
        if row is None:
            session.add(
                Schedule(
                    name=spec.name,
                    cron=spec.cron,
                    kind=spec.kind,
                    next_run_at=croniter(spec.cron, utcnow()).get_next(datetime),
                )
            )
            await session.flush()
        elif row.cron != spec.cron or row.kind != spec.kind:
            row.cron, row.kind = spec.cron, spec.kind


@handler("jobs.prune")
async def prune_jobs(session: AsyncSession, payload: dict[str, Any]) -> None:
    """Delete completed jobs after a week; failed ones stay until someone looks at them."""
    cutoff = utcnow() - timedelta(days=7)
    await session.execute(delete(Job).where(Job.state == COMPLETED, Job.finished_at < cutoff))


every("jobs.prune", "17 3 * * *", "jobs.prune")

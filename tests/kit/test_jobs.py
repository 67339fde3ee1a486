from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.db import Database, utcnow
from frontdesk.kit import jobs, uow
from frontdesk.kit.events import record
from frontdesk.kit.jobs import Job, JobRunner, Schedule
from frontdesk.kit.sqlite import JOB_RANK, REQUEST_RANK, current_rank

CALLS: list[dict[str, Any]] = []


@jobs.handler("test.record")
async def record_call(session: AsyncSession, payload: dict[str, Any]) -> None:
    CALLS.append(payload)


RANKS: list[int] = []


@jobs.handler("test.rank")
async def record_rank(session: AsyncSession, payload: dict[str, Any]) -> None:
    RANKS.append(current_rank())


@jobs.handler("test.explode")
async def explode(session: AsyncSession, payload: dict[str, Any]) -> None:
    raise RuntimeError("boom")


def batch_kind(monkeypatch: pytest.MonkeyPatch, fn: Any) -> None:
    """Register `fn` for this test as the batch kind "test.batch": 4 jobs a batch, one batch
    at a time."""
    monkeypatch.setitem(
        jobs.HANDLERS, "test.batch", jobs.Handler(fn=fn, transactional=False, batch=4, parallel=1)
    )


async def enqueue(runtime, kind="test.record", **kwargs):  # type: ignore[no-untyped-def]
    async with runtime.db.session() as session:
        job = await jobs.enqueue(session, kind, kwargs.pop("payload", {"n": 1}), **kwargs)
        await uow.commit(session)
        return job.id


async def job_row(runtime, job_id):  # type: ignore[no-untyped-def]
    async with runtime.db.session() as session:
        return await session.get(Job, job_id)


class TestEnqueue:
    async def test_same_key_enqueues_once(self, runtime):
        first = await enqueue(runtime, key="k1")
        second = await enqueue(runtime, key="k1")
        assert first == second

    async def test_enqueue_many_adds_only_the_keys_not_queued_yet(self, runtime):
        kept = await enqueue(runtime, key="k1", payload={"n": 0})
        async with runtime.db.session() as session:
            await jobs.enqueue_many(
                session, "test.record", {"k1": {"n": 1}, "k2": {"n": 2}, "k3": {"n": 3}}
            )
            await uow.commit(session)
        async with runtime.db.session() as session:
            rows = (await session.scalars(select(Job).order_by(Job.id))).all()
            await session.commit()
        assert [(row.key, row.payload, row.state) for row in rows] == [
            ("k1", {"n": 0}, "available"), ("k2", {"n": 2}, "available"),
            ("k3", {"n": 3}, "available"),
        ]  # fmt: skip
        assert rows[0].id == kept
        runner = JobRunner(runtime.db, runtime.settings, name="r")
        assert sorted(job.payload["n"] for job in await runner.claim(10)) == [0, 2, 3]

    async def test_job_is_invisible_until_commit(self, runtime):
        runner = JobRunner(runtime.db, runtime.settings, name="r")
        async with runtime.db.session() as session:
            await jobs.enqueue(session, "test.record", {})
            await session.flush()
            if not runtime.db.is_postgres:
                # SQLite has one writer at a time: the claim would wait for this transaction.
                await session.rollback()
                assert await runner.claim(10) == []
                return
            assert await runner.claim(10) == []
            await uow.commit(session)
        assert len(await runner.claim(10)) == 1


class TestRunner:
    async def test_runs_and_completes(self, runtime):
        CALLS.clear()
        job_id = await enqueue(runtime, payload={"n": 7})
        runner = JobRunner(runtime.db, runtime.settings, name="r")
        for job in await runner.claim(10):
            await runner.execute(job)
        assert CALLS == [{"n": 7}]
        row = await job_row(runtime, job_id)
        assert (row.state, row.attempts) == ("completed", 1)

    async def test_a_running_runners_jobs_write_at_the_job_rank(self, runtime):
        # On SQLite they go before requests for the write lock (kit/sqlite.py JOB_WRITER).
        RANKS.clear()
        await enqueue(runtime, kind="test.rank")
        runner = JobRunner(runtime.db, runtime.settings, name="r")
        running = asyncio.create_task(runner.run())
        try:
            for _ in range(200):
                if RANKS:
                    break
                await asyncio.sleep(0.02)
        finally:
            await runner.stop()
            await asyncio.wait_for(running, 10)
        assert RANKS == [JOB_RANK]
        assert current_rank() == REQUEST_RANK  # the runner's own context, not the caller's

    async def test_failure_backs_off_then_fails_for_good(self, runtime):
        job_id = await enqueue(runtime, kind="test.explode", max_attempts=2)
        runner = JobRunner(runtime.db, runtime.settings, name="r")
        [job] = await runner.claim(10)
        await runner.execute(job)
        row = await job_row(runtime, job_id)
        assert row.state == "available" and row.run_at > utcnow() - timedelta(seconds=1)
        assert "boom" in row.last_error
        await asyncio.sleep(0.06)
        [job] = await runner.claim(10)
        await runner.execute(job)
        row = await job_row(runtime, job_id)
        assert (row.state, row.attempts) == ("failed", 2)

    async def test_unknown_kind_fails_at_once(self, runtime):
        job_id = await enqueue(runtime, kind="test.nobody-handles-this")
        runner = JobRunner(runtime.db, runtime.settings, name="r")
        [job] = await runner.claim(10)
        await runner.execute(job)
        row = await job_row(runtime, job_id)
        assert row.state == "failed" and "no handler" in row.last_error

    async def test_expired_lease_is_claimed_by_another_worker(self, runtime):
        CALLS.clear()
        job_id = await enqueue(runtime)
        dead = JobRunner(runtime.db, runtime.settings, name="dead")
        assert len(await dead.claim(10)) == 1
        alive = JobRunner(runtime.db, runtime.settings, name="alive")
        assert await alive.claim(10) == []  # lease still held
        async with runtime.db.session() as session:
            await session.execute(update(Job).values(locked_until=utcnow() - timedelta(seconds=1)))
            await session.commit()
        [job] = await alive.claim(10)
        assert job.attempts == 2
        await alive.execute(job)
        assert (await job_row(runtime, job_id)).state == "completed"
        assert CALLS == [{"n": 1}]

    async def test_late_completion_by_a_lost_lease_does_not_count(self, runtime):
        CALLS.clear()
        job_id = await enqueue(runtime)
        slow = JobRunner(runtime.db, runtime.settings, name="slow")
        [stale] = await slow.claim(10)
        async with runtime.db.session() as session:
            await session.execute(update(Job).values(locked_until=utcnow() - timedelta(seconds=1)))
            await session.commit()
        fast = JobRunner(runtime.db, runtime.settings, name="fast")
        [fresh] = await fast.claim(10)
        await slow.execute(stale)  # its transaction rolls back: it no longer holds the job
        row = await job_row(runtime, job_id)
        assert row.state == "running" and row.locked_by == "fast"
        await fast.execute(fresh)
        assert (await job_row(runtime, job_id)).state == "completed"

    async def test_concurrent_claims_never_share_a_job(self, runtime):
        for i in range(40):
            await enqueue(runtime, payload={"n": i})
        runners = [JobRunner(runtime.db, runtime.settings, name=f"r{i}") for i in range(4)]
        batches = await asyncio.gather(*(runner.claim(15) for runner in runners))
        ids = [job.id for batch in batches for job in batch]
        assert len(ids) == len(set(ids)) == 40

    async def test_a_round_claims_every_kind_in_one_transaction(self, runtime, monkeypatch):
        """The batch kinds' claims and the other jobs' claim share one transaction (they were
        one each), found work or not; what was claimed runs once it is committed. On SQLite a
        read-only look goes first, and a round that finds nothing due never writes (nor
        takes the write lock)."""
        from sqlalchemy import event as sa_event

        from frontdesk.db import READ_ONLY

        batches: list[list[int]] = []

        async def batch(_ctx: jobs.JobContext, claimed: list[jobs.Claimed]) -> dict[int, Exception]:
            batches.append(sorted(job.payload["n"] for job in claimed))
            return {}

        batch_kind(monkeypatch, batch)
        for n in range(2):
            await enqueue(runtime, kind="test.batch", payload={"n": n})
        await enqueue(runtime, payload={"n": 7})
        CALLS.clear()
        runner = JobRunner(runtime.db, runtime.settings)
        begins: list[str] = []

        def note(conn: Any) -> None:
            begins.append("read" if conn.get_execution_options().get(READ_ONLY) else "write")

        sqlite = runtime.settings.is_sqlite
        engine = runtime.db.engine.sync_engine
        sa_event.listen(engine, "begin", note)
        try:
            assert await runner._claim_and_start() is False  # no claim came back full
            assert begins == (["read", "write"] if sqlite else ["write"])
            await asyncio.wait(runner._running)
            assert batches == [[0, 1]] and CALLS == [{"n": 7}]
            begins.clear()
            assert await runner._claim_and_start() is False  # nothing due
            assert begins == (["read"] if sqlite else ["write"])
        finally:
            sa_event.remove(engine, "begin", note)
        async with runtime.db.session() as session:
            states = (await session.scalars(select(Job.state))).all()
            await session.commit()
        assert sorted(states) == ["completed"] * 3


class TestClaimRounds:
    async def test_a_kind_nobody_handles_is_swept_up_and_failed(self, runtime):
        """Rounds claim the registered kinds by name; kinds nobody handles are claimed by
        the sweep (at the first round, then every UNKNOWN_SWEEP) and fail at once."""
        job_id = await enqueue(runtime, kind="test.nobody-handles-this")
        runner = JobRunner(runtime.db, runtime.settings, name="r")
        await runner._claim_and_start()
        await asyncio.wait(runner._running)
        row = await job_row(runtime, job_id)
        assert row.state == "failed" and "no handler" in row.last_error
        second = await enqueue(runtime, kind="test.nobody-handles-this")
        await runner._claim_and_start()  # within the sweep's interval: left for later
        assert (await job_row(runtime, second)).state == "available"

    # PostgreSQL keeps FOR UPDATE SKIP LOCKED over _due: this plan is SQLite's.
    @pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
    async def test_on_sqlite_a_claim_by_kind_reads_its_own_kinds_index(self, runtime):
        """A claim for one kind reads ix_jobs_kind_claim in order and stops at its limit: a
        backlog of other kinds is not read (with _due's OR it was read and sorted whole)."""
        from sqlalchemy import event as sa_event

        seen: list[tuple[str, Any]] = []

        def note(_conn, _cursor, statement, params, _context, _many):  # type: ignore[no-untyped-def]
            if statement.startswith("UPDATE jobs"):
                seen.append((statement, params))

        engine = runtime.db.engine.sync_engine
        sa_event.listen(engine, "before_cursor_execute", note)
        try:
            await JobRunner(runtime.db, runtime.settings, name="r").claim(5, kinds=("test.record",))
        finally:
            sa_event.remove(engine, "before_cursor_execute", note)
        [(sql, params)] = seen
        async with runtime.db.session() as session:
            connection = await session.connection()
            found = await connection.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, tuple(params))
            plan = " ".join(str(row) for row in found.all())
            await session.rollback()
        assert "ix_jobs_kind_claim (kind=? AND state=? AND run_at<?)" in plan
        assert "ix_jobs_claim" not in plan

    @pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
    async def test_on_sqlite_a_round_with_only_busy_kinds_due_takes_no_write_lock(
        self, runtime, monkeypatch
    ):
        """A backlog of a batch kind whose batches all run (deliveries while the one delivery
        batch works): the round's read-only look asks only for the kinds it could take, finds
        none, and does not write (each finished batch and each wake-up claimed for nothing,
        with the write lock held). Another kind due, or the batch kind free again: claimed."""
        from sqlalchemy import event as sa_event

        from frontdesk.db import READ_ONLY

        async def batch(_ctx: jobs.JobContext, claimed: list[jobs.Claimed]) -> dict[int, Exception]:
            return {}

        batch_kind(monkeypatch, batch)
        for n in range(6):
            await enqueue(runtime, kind="test.batch", payload={"n": n})
        runner = JobRunner(runtime.db, runtime.settings, name="r")
        runner._sweep_due = float("inf")
        runner._batches["test.batch"] = 1  # its one batch is running
        begins: list[str] = []

        def note(conn: Any) -> None:
            begins.append("read" if conn.get_execution_options().get(READ_ONLY) else "write")

        engine = runtime.db.engine.sync_engine
        sa_event.listen(engine, "begin", note)
        try:
            assert await runner._claim_and_start() is False
            assert begins == ["read"]
            CALLS.clear()
            await enqueue(runtime, payload={"n": 9})
            begins.clear()
            await runner._claim_and_start()
            await asyncio.wait(runner._running)
            assert begins[:2] == ["read", "write"] and CALLS == [{"n": 9}]
        finally:
            sa_event.remove(engine, "begin", note)
        runner._batches["test.batch"] = 0
        assert await runner._claim_and_start() is True  # a full batch of 4: more may wait
        await asyncio.wait(runner._running)
        async with runtime.db.session() as session:
            states = await session.scalars(select(Job.state).where(Job.kind == "test.batch"))
            assert sorted(states.all()) == ["available"] * 2 + ["completed"] * 4
            await session.commit()

    async def test_background_kinds_give_way_while_someone_is_served(
        self, runtime, monkeypatch
    ):
        """While a request is in flight, one background batch at a time, each after the last
        one's share of the time; the other kinds as ever; nobody served: all at once."""
        from frontdesk.kit import pressure

        ran: list[str] = []

        def background(kind: str) -> Any:
            async def batch(_ctx: jobs.JobContext, claimed: list[jobs.Claimed]) -> dict[int, Any]:
                ran.append(kind)
                return {}

            return jobs.Handler(fn=batch, transactional=False, batch=4, background=True)

        for kind in ("test.bg1", "test.bg2"):
            monkeypatch.setitem(jobs.HANDLERS, kind, background(kind))
            for n in range(2):
                await enqueue(runtime, kind=kind, payload={"n": n})
        monkeypatch.setattr(pressure, "_serving", 0)
        monkeypatch.setattr(pressure, "_last", float("-inf"))
        runner = JobRunner(runtime.db, runtime.settings, name="r")
        runner._sweep_due = float("inf")
        CALLS.clear()
        with pressure.serving():
            await runner._claim_and_start()
            await asyncio.wait(runner._running)
            assert len(ran) == 1  # one background kind of the two, not both at once
            runner._background_pace._next = time.monotonic() + 60  # its share not yet had
            await enqueue(runtime, payload={"n": 5})
            await runner._claim_and_start()
            await asyncio.wait(runner._running)
            assert len(ran) == 1 and CALLS == [{"n": 5}]  # the other kinds are not held
            assert runner._background_timer is not None  # woken when its turn comes
        monkeypatch.setattr(pressure, "_last", float("-inf"))  # nobody served any more
        await runner._claim_and_start()
        await asyncio.wait(runner._running)
        assert sorted(ran) == ["test.bg1", "test.bg2"]
        await runner.stop()
        assert runner._background_timer is None

    async def test_subscribed_jobs_are_inserted_in_one_statement(self, runtime):
        """SQLite: one executemany (new Job objects were inserted one statement each: a group
        commit of 32 webhooks made 32 INSERTs); PostgreSQL: the events' own statement."""
        from tests.conftest import statements_containing

        with statements_containing(runtime, "INSERT INTO jobs") as inserts:
            async with runtime.db.session() as session:
                for n in range(10):
                    record(session, "test.subscribed", {"n": n})
                await uow.commit(session)
        async with runtime.db.session() as session:
            made = (await session.scalars(select(Job.kind))).all()
            await session.commit()
        assert sorted(made) == ["test.explode"] + ["test.record"] * 10
        assert len(inserts) == 1


class TestSchedules:
    async def test_due_schedule_fires_once_across_runners(self, runtime):
        await jobs.sync_schedules(runtime.db)
        async with runtime.db.session() as session:
            await session.execute(
                update(Schedule)
                .where(Schedule.name == "jobs.prune")
                .values(next_run_at=utcnow() - timedelta(minutes=1))
            )
            await session.commit()
        runners = [JobRunner(runtime.db, runtime.settings, name=f"r{i}") for i in range(3)]
        await asyncio.gather(*(runner.fire_schedules() for runner in runners))
        async with runtime.db.session() as session:
            fired = (await session.scalars(select(Job).where(Job.kind == "jobs.prune"))).all()
            schedule = await session.get(Schedule, "jobs.prune")
        assert len(fired) == 1
        assert schedule is not None and schedule.next_run_at > utcnow()

    async def test_sync_keeps_existing_next_run(self, runtime):
        await jobs.sync_schedules(runtime.db)
        async with runtime.db.session() as session:
            before = (await session.get(Schedule, "conversations.wake_snoozed")).next_run_at
        await jobs.sync_schedules(runtime.db)
        async with runtime.db.session() as session:
            after = (await session.get(Schedule, "conversations.wake_snoozed")).next_run_at
        assert before == after

    async def test_prune_deletes_old_completed_jobs_only(self, runtime):
        old = await enqueue(runtime)
        failed = await enqueue(runtime, kind="test.explode", max_attempts=1)
        async with runtime.db.session() as session:
            await session.execute(
                update(Job)
                .values(state="completed", finished_at=utcnow() - timedelta(days=8))
                .where(Job.id == old)
            )
            await session.execute(
                update(Job)
                .values(state="failed", finished_at=utcnow() - timedelta(days=8))
                .where(Job.id == failed)
            )
            await session.commit()
        async with runtime.db.session() as session:
            await jobs.prune_jobs(session, {})
            await session.commit()
        assert await job_row(runtime, old) is None
        assert await job_row(runtime, failed) is not None


class TestWake:
    async def test_a_committed_job_wakes_the_runner_at_once_a_rolled_back_one_does_not(
        self, runtime
    ):
        """PostgreSQL: a job enqueued through another Database (another process: nothing
        in-process to wake) wakes a runner within a second, through LISTEN/NOTIFY. SQLite has
        one process: its commit wakes the runner in process."""
        woken: list[float] = []
        if runtime.db.is_postgres:
            listener = asyncio.create_task(
                jobs.listen_for_jobs(runtime.db, lambda: woken.append(time.monotonic()))
            )
            other = Database(runtime.db.url)  # no job listeners: as in a `frontdesk serve`
        else:
            listener = asyncio.create_task(asyncio.sleep(0))
            other = Database(runtime.db.url)
            other.job_listeners.append(lambda: woken.append(time.monotonic()))
            woken.append(time.monotonic())  # nothing to connect
        try:
            async with asyncio.timeout(10):
                while not woken:  # connected (it wakes once on connecting)
                    await asyncio.sleep(0.01)
            woken.clear()
            async with other.session() as session:
                await jobs.enqueue(session, "test.record", {"n": 1})
                await session.rollback()
            await asyncio.sleep(0.3)
            assert woken == []
            async with other.session() as session:
                await jobs.enqueue(session, "test.record", {"n": 2})
                await jobs.enqueue(session, "test.record", {"n": 3})
                committed = time.monotonic()
                await uow.commit(session)
            async with asyncio.timeout(1):
                while not woken:
                    await asyncio.sleep(0.005)
            assert woken[0] - committed < 1
            await asyncio.sleep(0.2)
            # PostgreSQL folds one transaction's notices into one; in process each job wakes.
            assert len(woken) == (1 if runtime.db.is_postgres else 2)
        finally:
            listener.cancel()
            await other.dispose()


jobs.on_event("test.subscribed", "test.record")
GATE_ASKED: list[int] = []


async def _gate(session: AsyncSession) -> bool:
    GATE_ASKED.append(1)
    return True


jobs.on_event("test.gated_a", "test.record", enabled=_gate)
jobs.on_event("test.gated_b", "test.record", enabled=_gate)
jobs.on_event("test.subscribed", "test.explode", wants=lambda event: event["payload"].get("n") == 0)
# Two "anything configured?" gates: one finds a row (a job of kind test.marker), one does not.
MARKED = jobs.AnyRow(lambda: select(Job.id).where(Job.kind == "test.marker"))
NEVER = jobs.AnyRow(lambda: select(Job.id).where(Job.kind == "test.nothing"))
jobs.on_event("test.any_a", "test.record", enabled=MARKED)
jobs.on_event("test.any_b", "test.explode", enabled=NEVER)


class TestSubscriptions:
    async def test_a_commit_of_many_events_reads_their_jobs_keys_in_one_statement(self, runtime):
        from sqlalchemy import event as sa_event

        from frontdesk.kit.events import record

        reads: list[str] = []

        def note(_conn, _cursor, statement, _params, _context, _many):  # type: ignore[no-untyped-def]
            if statement.startswith("SELECT") and "FROM jobs" in statement and "key" in statement:
                reads.append(statement)

        engine = runtime.db.engine.sync_engine
        sa_event.listen(engine, "before_cursor_execute", note)
        try:
            async with runtime.db.session() as session:
                for n in range(10):
                    record(session, "test.subscribed", {"n": n})
                await uow.commit(session)
        finally:
            sa_event.remove(engine, "before_cursor_execute", note)
        # SQLite: one read (was one per job: 11); PostgreSQL: none, the statement that writes
        # the events inserts their jobs, skipping a key queued before (uow.EVENT_JOBS).
        assert len(reads) == (1 if runtime.settings.is_sqlite else 0), reads
        async with runtime.db.session() as session:
            made = (await session.execute(select(Job.kind, Job.key).order_by(Job.id))).all()
        assert [kind for kind, _ in made].count("test.record") == 10
        assert [kind for kind, _ in made].count("test.explode") == 1
        assert all(key and key.startswith(f"{kind}:") for kind, key in made)
        assert len({key for _, key in made}) == 11

    async def test_an_enabled_predicate_is_asked_once_per_commit(self, runtime):
        """Two subscriptions gated by the same predicate (as the SLA tracker's on a new
        conversation and its first message): one answer serves both."""
        from frontdesk.kit.events import record

        GATE_ASKED.clear()
        async with runtime.db.session() as session:
            record(session, "test.gated_a", {"n": 1})
            record(session, "test.gated_b", {"n": 2})
            await uow.commit(session)
        assert len(GATE_ASKED) == 1
        async with runtime.db.session() as session:
            made = (
                await session.scalars(select(Job.payload).where(Job.kind == "test.record"))
            ).all()
            await session.commit()
        assert len(made) == 2

    async def test_any_row_predicates_of_one_commit_are_asked_in_one_statement(self, runtime):
        """The bot's, routing's and the SLA tracker's gates on a new conversation's first
        message: one statement for all, each answered as it would be alone."""
        from frontdesk.kit.events import record
        from tests.conftest import statements_containing

        async with runtime.db.session() as session:
            await jobs.enqueue(session, "test.marker", {}, run_at=utcnow() + timedelta(days=1))
            await uow.commit(session)
        async with runtime.db.session() as session:
            assert await MARKED(session) is True
            assert await NEVER(session) is False
            await session.rollback()
        with statements_containing(runtime, "EXISTS") as asked:
            async with runtime.db.session() as session:
                record(session, "test.any_a", {"n": 1})
                record(session, "test.any_b", {"n": 2})
                await uow.commit(session)
        assert len(asked) == 1, asked
        async with runtime.db.session() as session:
            kinds = (await session.scalars(select(Job.kind).where(Job.kind != "test.marker"))).all()
            await session.rollback()
        assert kinds == ["test.record"]

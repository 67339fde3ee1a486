"""The sentiment job runs in batches: one claim, one transaction and one completion for many
customer messages, with the same outcome as one job per message; a message that cannot be
analysed fails its own job alone."""

from __future__ import annotations

from sqlalchemy import select

from frontdesk.kit.jobs import Job, JobRunner
from frontdesk.sentiment import model
from frontdesk.sentiment.tasks import SENTIMENT_JOB
from frontdesk.surveys.tasks import AT_RISK_JOB
from tests.conftest import run_jobs
from tests.sentiment.test_service import ANGRY, HAPPY, conversation, events, messages, say


async def run_batch(runtime, kind: str) -> int:  # type: ignore[no-untyped-def]
    """Claim every due job of `kind` and run them as one batch, as the runner does."""
    runner = JobRunner(runtime.db, runtime.settings, name="test-batch")
    jobs = await runner.claim(100, kinds=(kind,))
    if jobs:
        await runner.execute_batch(kind, jobs)
    return len(jobs)


async def states(runtime, kind: str) -> list[str]:  # type: ignore[no-untyped-def]
    async with runtime.db.session() as session:
        found = await session.scalars(select(Job.state).where(Job.kind == kind).order_by(Job.id))
        return list(found.all())


class TestBatch:
    async def test_a_batch_labels_every_message_and_folds_each_trend_in_order(
        self, client, cast, runtime
    ):
        calm = await say(client, cast, "c1", ANGRY[0], address="calm@example.com")
        for n in range(3):
            await say(client, cast, f"c{n + 2}", HAPPY, address="calm@example.com")
        angry = await say(client, cast, "a1", ANGRY[1], address="angry@example.com")
        assert await run_batch(runtime, SENTIMENT_JOB) == 5
        assert await states(runtime, SENTIMENT_JOB) == ["completed"] * 5
        labels = [m["sentiment"] for m in await messages(client, cast, calm)]
        assert labels == ["negative", "positive", "positive", "positive"]
        # Folded oldest first: thanks after anger calm the trend, as one job each would.
        assert (await conversation(client, cast, calm))["frustrated"] is False
        assert (await conversation(client, cast, calm))["sentiment_trend"] > 0
        found = await conversation(client, cast, angry)
        assert found["frustrated"] is True and found["priority"] == "high"
        changed = await events(runtime, "conversation.sentiment_changed")
        assert len(changed) == 5
        assert [e.payload["frustrated"] for e in changed if e.conversation_id == calm] == [
            True, False, False, False
        ]  # fmt: skip

    async def test_on_sqlite_the_model_runs_outside_the_write_lock(
        self, client, cast, runtime, monkeypatch
    ):
        """SQLite: the texts are read in a read-only transaction and analysed before the
        write transaction begins, so the one write lock is not held while the model runs."""
        from pathlib import Path

        from frontdesk.kit.sqlite import writer_queue

        sqlite = runtime.settings.is_sqlite
        queue = writer_queue(str(Path(runtime.db.engine.url.database or "").resolve()))
        analyse = model.analyse
        lock_held: list[bool] = []

        def noting(text: str):  # type: ignore[no-untyped-def]
            lock_held.append(queue.taken)
            return analyse(text)

        monkeypatch.setattr(model, "analyse", noting)
        first = await say(client, cast, "q1", ANGRY[0], address="q1@example.com")
        await say(client, cast, "q2", HAPPY, address="q2@example.com")
        assert await run_batch(runtime, SENTIMENT_JOB) == 2
        assert await states(runtime, SENTIMENT_JOB) == ["completed"] * 2
        assert [m["sentiment"] for m in await messages(client, cast, first)] == ["negative"]
        assert len(lock_held) == 2  # each message analysed once
        if sqlite:
            assert lock_held == [False, False]

    async def test_a_message_that_cannot_be_analysed_fails_its_own_job_alone(
        self, client, cast, runtime, monkeypatch
    ):
        analyse = model.analyse

        def broken(text: str):  # type: ignore[no-untyped-def]
            if "broken" in text:
                raise ValueError("cannot analyse this one")
            return analyse(text)

        monkeypatch.setattr(model, "analyse", broken)
        first = await say(client, cast, "b1", ANGRY[0], address="one@example.com")
        await say(client, cast, "b2", "this one is broken", address="two@example.com")
        third = await say(client, cast, "b3", HAPPY, address="three@example.com")
        assert await run_batch(runtime, SENTIMENT_JOB) == 3
        job_states = await states(runtime, SENTIMENT_JOB)
        assert job_states[0] == job_states[2] == "completed"
        assert job_states[1] != "completed"  # retried later, as a job of its own would be
        assert (await messages(client, cast, first))[0]["sentiment"] == "negative"
        assert (await messages(client, cast, third))[0]["sentiment"] == "positive"


class TestAtRiskBatch:
    async def test_a_run_of_negative_messages_in_one_batch_is_flagged_once(
        self, client, cast, runtime
    ):
        cid = 0
        for n, text in enumerate([*ANGRY, ANGRY[0]]):
            cid = await say(client, cast, f"r{n}", text)
        assert await run_batch(runtime, SENTIMENT_JOB) == 4
        assert await run_batch(runtime, AT_RISK_JOB) == 4
        assert await states(runtime, AT_RISK_JOB) == ["completed"] * 4
        found = await conversation(client, cast, cid)
        assert "at-risk" in found["tags"]
        assert len(await events(runtime, "conversation.at_risk")) == 1
        await run_jobs(runtime)
        assert len(await events(runtime, "conversation.at_risk")) == 1

    async def test_a_batch_reads_its_conversations_labels_and_tags_once(
        self, client, cast, runtime
    ):
        """Several conversations in one at-risk batch: their labels are one statement and
        their tags another (they were three reads per job); the due ones are flagged once,
        the others left alone, one already flagged not flagged again."""
        from tests.conftest import statements_containing

        due, other = 0, 0
        for n, text in enumerate(ANGRY):
            due = await say(client, cast, f"d{n}", text, address="due@example.com")
        for n, text in enumerate(ANGRY):
            other = await say(client, cast, f"o{n}", text, address="other@example.com")
        calm = await say(client, cast, "c0", ANGRY[0], address="calm@example.com")
        assert await run_batch(runtime, SENTIMENT_JOB) == 7
        with (
            statements_containing(runtime, "messages.sentiment IS NOT NULL") as labels,
            statements_containing(runtime, "FROM conversation_tags JOIN tags") as tags,
        ):
            assert await run_batch(runtime, AT_RISK_JOB) == 7
        assert len(labels) == 1 and len(tags) == 1
        flagged = {e.conversation_id for e in await events(runtime, "conversation.at_risk")}
        assert flagged == {due, other}
        assert "at-risk" not in (await conversation(client, cast, calm))["tags"]
        await say(client, cast, "d9", ANGRY[0], address="due@example.com")
        assert await run_batch(runtime, SENTIMENT_JOB) == 1
        assert await run_batch(runtime, AT_RISK_JOB) == 1
        assert len(await events(runtime, "conversation.at_risk")) == 2  # not again

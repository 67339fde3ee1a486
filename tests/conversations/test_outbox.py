"""Deliveries in batches (conversations/outbox.py through kit.jobs batch handlers), on the API
channel against a loopback receiver that processes each Idempotency-Key once."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, func, select, update

from frontdesk.conversations.models import Message
from frontdesk.conversations.outbox import deliver_batch, window
from frontdesk.conversations.service import DELIVER_JOB
from frontdesk.db import utcnow
from frontdesk.inboxes.port import adapter_for
from frontdesk.kit import http, jobs, uow
from frontdesk.kit.events import Event
from frontdesk.kit.jobs import Job, JobContext, JobRunner
from tests.conftest import WebhookReceiver, inbound_payload, post_inbound, run_jobs, serve_app


class Receiver(WebhookReceiver):
    """The shared receiver, noting the client port of each request (one port = one pooled
    connection)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ports: list[int] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.ports.append(scope["client"][1])
        await super().__call__(scope, receive, send)


async def replies(client, cast, count: int, address_of_hook: str) -> list[int]:  # type: ignore[no-untyped-def]
    """`count` agent replies, each in the conversation of a different customer."""
    response = await client.patch(
        f"/api/v1/inboxes/{cast.website.id}",
        json={"webhook_url": f"http://{address_of_hook}/hook"},
        headers=cast.ada.headers,
    )
    assert response.status_code == 200, response.text
    ids = []
    for n in range(count):
        inbound = await post_inbound(
            client, cast.website, inbound_payload(f"in-{n}", f"customer{n}@example.com")
        )
        assert inbound.status_code == 202, inbound.text
        sent = await client.post(
            f"/api/v1/conversations/{inbound.json()['conversation_id']}/messages",
            json={"text": f"Reply {n}"},
            headers=cast.alice.headers,
        )
        assert sent.status_code == 201, sent.text
        ids.append(sent.json()["id"])
    return ids


async def statuses(runtime, ids: list[int]) -> list[str]:  # type: ignore[no-untyped-def]
    async with runtime.db.session() as session:
        rows = await session.execute(
            select(Message.id, Message.delivery_status).where(Message.id.in_(ids))
        )
        by_id = dict(rows.tuples().all())
    return [by_id[i] for i in ids]


async def deliver_jobs(runtime) -> list[Job]:  # type: ignore[no-untyped-def]
    async with runtime.db.session() as session:
        rows = await session.scalars(select(Job).where(Job.kind == DELIVER_JOB).order_by(Job.id))
        return list(rows.all())


async def settle_other_jobs(runtime) -> None:  # type: ignore[no-untyped-def]
    """Run what the inbound messages queued (routing, events...), leaving the deliveries."""
    runner = JobRunner(runtime.db, runtime.settings, name="others")
    while claimed := await runner.claim(50, exclude=(DELIVER_JOB,)):
        for job in claimed:
            await runner.execute(job)


async def deliver_one_batch(runtime) -> None:  # type: ignore[no-untyped-def]
    """Run what the inbound messages queued, then every due delivery as one batch, as the
    runner does."""
    await settle_other_jobs(runtime)
    runner = JobRunner(runtime.db, runtime.settings, name="r")
    await runner.execute_batch(DELIVER_JOB, await runner.claim(64, kinds=(DELIVER_JOB,)))


def key(message_id: int) -> str:
    return f"frontdesk-message-{message_id}"


class TestBatchClaim:
    async def test_deliveries_are_claimed_together_and_apart_from_other_jobs(
        self, client, cast, runtime
    ):
        receiver = Receiver(secret_for={cast.website.id: cast.website.secret})
        async with serve_app(receiver) as address:
            ids = await replies(client, cast, 3, address)
        async with runtime.db.session() as session:
            await jobs.enqueue(session, "test.other", {})
            await uow.commit(session)
        runner = JobRunner(runtime.db, runtime.settings, name="r")
        others = await runner.claim(100, exclude=(DELIVER_JOB,))
        assert "test.other" in {job.kind for job in others}
        assert all(job.kind != DELIVER_JOB for job in others)
        batch = await runner.claim(64, kinds=(DELIVER_JOB,))
        assert sorted(job.payload["message_id"] for job in batch) == ids
        assert await runner.claim(64, kinds=(DELIVER_JOB,)) == []  # leased to this runner


class TestBatchDelivery:
    async def test_one_batch_sends_each_reply_once_and_records_every_result(
        self, client, cast, runtime
    ):
        receiver = Receiver(secret_for={cast.website.id: cast.website.secret})
        async with serve_app(receiver) as address:
            ids = await replies(client, cast, 4, address)
            await deliver_one_batch(runtime)
        assert await statuses(runtime, ids) == ["delivered"] * 4
        assert Counter(receiver.requests) == {key(i): 1 for i in ids}
        assert {receiver.processed[key(i)]["text"] for i in ids} == {f"Reply {n}" for n in range(4)}
        assert {job.state for job in await deliver_jobs(runtime)} == {"completed"}

    async def test_the_waves_read_no_conversation_or_message_again(self, client, cast, runtime):
        """The batch's one read loads the conversations and messages; recording a wave reads
        neither again (each wave read both: two SELECTs a wave, and before that one per
        message)."""
        receiver = Receiver(secret_for={cast.website.id: cast.website.secret})
        async with serve_app(receiver) as address:
            ids = await replies(client, cast, 4, address)
            await settle_other_jobs(runtime)
            settings = runtime.settings.model_copy(update={"job_concurrency": 2})
            runner = JobRunner(runtime.db, settings, name="r")
            batch = await runner.claim(64, kinds=(DELIVER_JOB,))
            reads: list[str] = []

            def note(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
                if statement.lstrip().upper().startswith("SELECT") and (
                    "FROM conversations" in statement or "messages.text" in statement
                ):
                    reads.append(statement)

            engine = runtime.db.engine.sync_engine
            event.listen(engine, "before_cursor_execute", note)
            try:
                await runner.execute_batch(DELIVER_JOB, batch)
            finally:
                event.remove(engine, "before_cursor_execute", note)
        assert await statuses(runtime, ids) == ["delivered"] * 4
        assert window(JobContext(runtime.db, settings, 0, 0)) == 2  # two waves
        # While preparing: the messages and their conversations (the earlier messages of the
        # threads come as a few columns, without their text).
        assert len(reads) == 2, reads

    async def test_a_failed_send_fails_only_its_own_job_which_is_retried(
        self, client, cast, runtime
    ):
        receiver = Receiver(secret_for={cast.website.id: cast.website.secret}, fail_first=1)
        async with serve_app(receiver) as address:
            ids = await replies(client, cast, 3, address)
            await deliver_one_batch(runtime)
            assert sorted(await statuses(runtime, ids)) == ["delivered", "delivered", "queued"]
            [waiting] = [job for job in await deliver_jobs(runtime) if job.state == "available"]
            assert waiting.attempts == 1 and "503" in (waiting.last_error or "")
            async with runtime.db.session() as session:  # its backoff is over
                await session.execute(
                    update(Job).where(Job.id == waiting.id).values(run_at=utcnow())
                )
                await uow.commit(session)
            assert await run_jobs(runtime) == 1
        assert await statuses(runtime, ids) == ["delivered"] * 3
        assert set(receiver.processed) == {key(i) for i in ids}  # each processed once

    async def test_a_batch_cut_off_after_its_write_is_finished_without_sending_again(
        self, client, cast, runtime
    ):
        receiver = Receiver(secret_for={cast.website.id: cast.website.secret})
        async with serve_app(receiver) as address:
            ids = await replies(client, cast, 3, address)
            await settle_other_jobs(runtime)
            dead = JobRunner(runtime.db, runtime.settings, name="dead")
            claimed = await dead.claim(64, kinds=(DELIVER_JOB,))
            # The dead worker sent and recorded the first reply, then died before it could
            # complete the jobs (and never touched the other two).
            context = JobContext(runtime.db, runtime.settings, 0, 0)
            assert await deliver_batch(context, claimed[:1]) == {}
            async with runtime.db.session() as session:  # its lease runs out
                await session.execute(
                    update(Job)
                    .where(Job.kind == DELIVER_JOB)
                    .values(locked_until=utcnow() - timedelta(seconds=1))
                )
                await uow.commit(session)
            alive = JobRunner(runtime.db, runtime.settings, name="alive")
            again = await alive.claim(64, kinds=(DELIVER_JOB,))
            assert len(again) == 3 and {job.attempts for job in again} == {2}
            await alive.execute_batch(DELIVER_JOB, again)
        assert await statuses(runtime, ids) == ["delivered"] * 3
        assert Counter(receiver.requests) == {key(i): 1 for i in ids}
        assert {job.state for job in await deliver_jobs(runtime)} == {"completed"}

    async def test_the_running_worker_delivers_through_one_pooled_connection(
        self, client, cast, runtime
    ):
        receiver = Receiver(secret_for={cast.website.id: cast.website.secret})
        pool = http.open_pool(5.0)
        token = http.install(pool)  # as Runtime.start does for the runner it starts
        runner = JobRunner(runtime.db, runtime.settings, name="live")
        task = asyncio.create_task(runner.run())
        try:
            async with serve_app(receiver) as address:
                ids = []
                for _ in range(3):  # one after another: each a batch of its own
                    ids += await replies(client, cast, 1, address)
                    async with asyncio.timeout(30):
                        while key(ids[-1]) not in receiver.processed:
                            await asyncio.sleep(0.02)
        finally:
            await runner.stop()
            task.cancel()
            http.uninstall(token)
            await pool.aclose()
        async with asyncio.timeout(30):
            while await statuses(runtime, ids) != ["delivered"] * 3:
                await asyncio.sleep(0.02)
        assert len(set(receiver.ports)) == 1  # kept alive across the batches
        assert Counter(receiver.requests) == {key(i): 1 for i in ids}


class TestSqliteRead:
    @pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
    async def test_the_batch_reads_off_the_write_lock(self, client, cast, runtime, monkeypatch):
        """SQLite: a batch of 64 reads its messages, recipients and threads in a read-only
        transaction, so a request may write meanwhile (a writer then would hold the one write
        lock for the whole read, and requests would wait behind it)."""
        from frontdesk.conversations import outbox

        receiver = Receiver(secret_for={cast.website.id: cast.website.secret})
        written: list[int] = []
        original = outbox._refusals

        async def refusals(*args: Any, **kwargs: Any) -> Any:
            async def write() -> None:
                async with runtime.db.session() as other:
                    await jobs.enqueue(other, "test.other", {"during": "the batch's read"})
                    await uow.commit(other)

            await asyncio.wait_for(write(), 2.0)  # never waits for the batch's read to end
            written.append(1)
            return await original(*args, **kwargs)

        monkeypatch.setattr(outbox, "_refusals", refusals)
        async with serve_app(receiver) as address:
            ids = await replies(client, cast, 3, address)
            await deliver_one_batch(runtime)
        assert written == [1]
        assert await statuses(runtime, ids) == ["delivered"] * 3


class TestWaves:
    async def test_a_crash_mid_batch_repeats_at_most_one_wave(
        self, client, cast, runtime, monkeypatch
    ):
        """A batch larger than JOB_CONCURRENCY sends in waves of JOB_CONCURRENCY and records
        each before the next: a worker dying after the provider took a reply of the third wave
        leaves the first two recorded, and only the third wave is sent again."""
        receiver = Receiver(secret_for={cast.website.id: cast.website.secret})
        adapter = adapter_for("api")
        real = adapter.send
        calls: list[int] = []

        async def send(inbox, outbound, app):  # type: ignore[no-untyped-def]
            result = await real(inbox, outbound, app)
            calls.append(outbound.message_id)
            if len(calls) == 5:  # the provider took it; the process dies before recording
                raise asyncio.CancelledError()
            return result

        async with serve_app(receiver) as address:
            ids = await replies(client, cast, 8, address)
            await settle_other_jobs(runtime)
            settings = runtime.settings.model_copy(update={"job_concurrency": 2})
            assert window(JobContext(runtime.db, settings, 0, 0)) == 2
            dead = JobRunner(runtime.db, settings, name="dead")
            claimed = await dead.claim(64, kinds=(DELIVER_JOB,))
            assert len(claimed) == 8  # one batch, larger than the concurrency
            monkeypatch.setattr(adapter, "send", send)
            with pytest.raises(asyncio.CancelledError):
                await deliver_batch(JobContext(runtime.db, settings, 0, 0), claimed)
            monkeypatch.setattr(adapter, "send", real)
            # Two waves recorded; the third was cut off; the fourth never started.
            assert await statuses(runtime, ids) == ["delivered"] * 4 + ["queued"] * 4
            async with runtime.db.session() as session:  # its lease runs out
                await session.execute(
                    update(Job)
                    .where(Job.kind == DELIVER_JOB)
                    .values(locked_until=utcnow() - timedelta(seconds=1))
                )
                await uow.commit(session)
            alive = JobRunner(runtime.db, settings, name="alive")
            await alive.execute_batch(DELIVER_JOB, await alive.claim(64, kinds=(DELIVER_JOB,)))
        assert await statuses(runtime, ids) == ["delivered"] * 8
        assert set(receiver.processed) == {key(i) for i in ids}
        repeats = len(receiver.requests) - len(set(receiver.requests))
        assert 1 <= repeats <= 2  # the cut-off wave's sends, never more than one wave
        assert {job.state for job in await deliver_jobs(runtime)} == {"completed"}

    async def test_replies_answer_what_came_before_them_each_counted_once(
        self, client, cast, runtime
    ):
        """Two replies in one conversation recorded together: each inbound message is
        answered by the first reply after it (the events say how many each answered)."""
        receiver = Receiver(secret_for={cast.website.id: cast.website.secret})
        async with serve_app(receiver) as address:
            await client.patch(
                f"/api/v1/inboxes/{cast.website.id}",
                json={"webhook_url": f"http://{address}/hook"},
                headers=cast.ada.headers,
            )
            sent = []
            for n, texts in enumerate((["a", "b"], ["c"])):
                for text in texts:
                    inbound = await post_inbound(
                        client,
                        cast.website,
                        inbound_payload(f"wave-{text}", "same@example.com", text=text),
                    )
                    assert inbound.status_code == 202, inbound.text
                conversation = inbound.json()["conversation_id"]
                reply = await client.post(
                    f"/api/v1/conversations/{conversation}/messages",
                    json={"text": f"Reply {n}"},
                    headers=cast.alice.headers,
                )
                assert reply.status_code == 201, reply.text
                sent.append(reply.json()["id"])
            await deliver_one_batch(runtime)
        assert await statuses(runtime, sent) == ["delivered", "delivered"]
        async with runtime.db.session() as session:
            unanswered = await session.scalar(
                select(func.count()).where(
                    Message.direction == "inbound", Message.answered.is_(False)
                )
            )
            events = (
                await session.scalars(
                    select(Event).where(Event.type == "message.updated").order_by(Event.sequence)
                )
            ).all()
        assert unanswered == 0
        answered = {e.payload["message_id"]: e.payload.get("answered") for e in events}
        assert answered[sent[0]] == 2 and answered[sent[1]] == 1

    async def test_a_long_batch_renews_its_lease_so_no_one_claims_it_again(
        self, client, cast, runtime
    ):
        """A batch that takes longer than the job lease keeps its unsent jobs leased (it
        renews them between waves): another worker claiming meanwhile gets none of them, and
        each reply is sent once."""
        receiver = Receiver(secret_for={cast.website.id: cast.website.secret}, delay=0.3)
        async with serve_app(receiver) as address:
            ids = await replies(client, cast, 8, address)
            await settle_other_jobs(runtime)
            settings = runtime.settings.model_copy(
                update={"job_concurrency": 2, "job_lease_seconds": 1.5}
            )
            slow = JobRunner(runtime.db, settings, name="slow")
            claimed = await slow.claim(64, kinds=(DELIVER_JOB,))
            assert len(claimed) == 8  # 8 waves of 1 at >= 0.3 s each: past the 1.5 s lease
            other = JobRunner(runtime.db, settings, name="other")
            stolen: list[int] = []

            async def keep_claiming() -> None:
                while True:
                    stolen.extend(job.id for job in await other.claim(64, kinds=(DELIVER_JOB,)))
                    await asyncio.sleep(0.05)

            thief = asyncio.create_task(keep_claiming())
            try:
                await slow.execute_batch(DELIVER_JOB, claimed)
            finally:
                thief.cancel()
        assert stolen == []
        assert await statuses(runtime, ids) == ["delivered"] * 8
        assert Counter(receiver.requests) == {key(i): 1 for i in ids}
        assert {job.state for job in await deliver_jobs(runtime)} == {"completed"}

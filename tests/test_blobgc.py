"""Blob garbage collection against the real tables, on SQLite and PostgreSQL: a blob goes only
when no row names it and nobody put it within the grace period."""

from __future__ import annotations

import os
import re
import time
from datetime import timedelta
from typing import Any

from sqlalchemy import event, select, text

from frontdesk import blobgc
from frontdesk.analytics.metrics import REGISTRY
from frontdesk.channels.email.models import Quarantined
from frontdesk.conversations import service as conversations
from frontdesk.conversations.models import Attachment, Message
from frontdesk.db import Base
from frontdesk.inboxes.port import Inbound, InboundAttachment
from frontdesk.kit import uow
from frontdesk.kit.blobs import BlobStore, Swept
from frontdesk.kit.jobs import SCHEDULES, Job, enqueue
from frontdesk.runtime import Runtime
from tests.conftest import Cast, run_jobs

GRACE = timedelta(hours=24)


def age_blobs(store: BlobStore, *, hours: float = 25) -> None:
    """Every stored file, as if last put `hours` ago."""
    then = time.time() - hours * 3600
    for path in store.root.rglob("*"):
        if path.is_file():
            os.utime(path, (then, then))


async def collect(runtime: Runtime) -> Swept:
    return await blobgc.collect(runtime.db, runtime.blobs, grace=GRACE)


async def receive(
    runtime: Runtime, cast: Cast, external_id: str, *files: bytes, **meta: Any
) -> Message:
    """A customer message on the website inbox, with these files attached."""
    inbound = Inbound(
        inbox_id=cast.website.id,
        external_id=external_id,
        address="layla@example.com",
        text="hello",
        attachments=[
            InboundAttachment(f"f{n}.txt", "text/plain", data) for n, data in enumerate(files)
        ],
        meta=meta,
    )
    async with runtime.db.session() as session:
        received = await conversations.receive(session, inbound, blobs=runtime.blobs)
        await uow.commit(session)
    return received.message


async def attachments_named(runtime: Runtime, key: str) -> list[Attachment]:
    async with runtime.db.session() as session:
        rows = await session.scalars(select(Attachment).where(Attachment.blob_key == key))
        return list(rows.all())


async def delete(runtime: Runtime, row: Any) -> None:
    async with runtime.db.session() as session:
        await session.delete(await session.merge(row))
        await uow.commit(session)


class TestCollect:
    async def test_removes_an_old_blob_no_row_names(self, runtime, cast):
        key = runtime.blobs.put(b"orphan")
        age_blobs(runtime.blobs)
        swept = await collect(runtime)
        assert (swept.files, swept.bytes, swept.failed) == (1, len(b"orphan"), 0)
        assert not runtime.blobs.exists(key)

    async def test_keeps_a_young_blob_no_row_names(self, runtime, cast):
        key = runtime.blobs.put(b"upload in flight")
        age_blobs(runtime.blobs, hours=23)
        swept = await collect(runtime)
        assert swept.files == 0
        assert runtime.blobs.get(key) == b"upload in flight"

    async def test_keeps_an_old_blob_put_again_by_an_upload_in_flight(self, runtime, cast):
        key = runtime.blobs.put(b"sent again")
        age_blobs(runtime.blobs)
        runtime.blobs.put(b"sent again")  # its row is not committed yet
        assert (await collect(runtime)).files == 0
        assert runtime.blobs.exists(key)

    async def test_keeps_an_old_blob_an_attachment_names(self, runtime, cast):
        message = await receive(runtime, cast, "m1", b"invoice")
        key = runtime.blobs.key(b"invoice")
        orphan = runtime.blobs.put(b"orphan")
        age_blobs(runtime.blobs)
        swept = await collect(runtime)
        assert (swept.files, swept.in_use) == (1, 1)
        assert runtime.blobs.get(key) == b"invoice"
        assert not runtime.blobs.exists(orphan)
        assert [row.message_id for row in await attachments_named(runtime, key)] == [message.id]

    async def test_a_blob_two_attachments_share_outlives_the_first(self, runtime, cast):
        await receive(runtime, cast, "m1", b"the same photo")
        await receive(runtime, cast, "m2", b"the same photo")
        key = runtime.blobs.key(b"the same photo")
        first, second = await attachments_named(runtime, key)
        await delete(runtime, first)
        age_blobs(runtime.blobs)
        assert (await collect(runtime)).files == 0
        assert runtime.blobs.get(key) == b"the same photo"
        await delete(runtime, second)
        assert (await collect(runtime)).files == 1
        assert not runtime.blobs.exists(key)

    async def test_keeps_blobs_the_email_channel_names(self, runtime, cast):
        raw, bounce, quarantined, orphan = runtime.blobs.put_many(
            [b"From: a mail", b"From: a bounce", b"broken mail", b"orphan"]
        )
        await receive(runtime, cast, "mail", email={"raw": raw})
        reply = await receive(runtime, cast, "replied")
        async with runtime.db.session() as session:
            row = await session.get(Message, reply.id)
            assert row is not None
            row.meta = {"bounce": {"raw": bounce, "status": "5.1.1"}}
            session.add(
                Quarantined(
                    inbox_id=None, source="smtp", reason="unreadable", blob_key=quarantined, size=11
                )
            )
            await uow.commit(session)
        age_blobs(runtime.blobs)
        swept = await collect(runtime)
        assert (swept.files, swept.in_use) == (1, 3)
        assert [runtime.blobs.exists(key) for key in (raw, bounce, quarantined, orphan)] == [
            True,
            True,
            True,
            False,
        ]


class TestReferenceQueries:
    async def test_each_chunk_is_answered_from_indexes(self, runtime, cast):
        await receive(runtime, cast, "m1", b"file", email={"raw": runtime.blobs.key(b"raw")})
        keys = [runtime.blobs.key(bytes([n])) for n in range(50)]
        statements: list[tuple[str, Any]] = []

        def capture(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
            statements.append((statement, parameters))

        engine = runtime.db.engine.sync_engine
        event.listen(engine, "before_cursor_execute", capture)
        try:
            assert await blobgc.keys_in_use(runtime.db, keys) == set()
        finally:
            event.remove(engine, "before_cursor_execute", capture)
        asked = [(sql, params) for sql, params in statements if "blob_key" in sql]
        assert len(asked) == len(blobgc.holders())
        postgresql = runtime.db.is_postgres
        async with runtime.db.engine.connect() as conn:
            if postgresql:  # tiny tables: make a usable index win over a sequential scan
                await conn.execute(text("SET LOCAL enable_seqscan = off"))
            for sql, params in asked:
                explain = "EXPLAIN " if postgresql else "EXPLAIN QUERY PLAN "
                plan = "\n".join(
                    str(row[-1]) for row in await conn.exec_driver_sql(explain + sql, params)
                )
                scans = (
                    r"Seq Scan on \w+"
                    if postgresql
                    else r"SCAN (attachments|messages|email_quarantine)\b"
                )
                assert not re.search(scans, plan), plan

    def test_every_table_with_a_blob_key_is_a_holder(self):
        # A new table that names blobs must join blobgc.holders() (and this list).
        named = {
            table.name
            for table in Base.metadata.tables.values()
            if any("blob" in column.name for column in table.columns)
        }
        assert named == {"attachments", "email_quarantine", "call_recording_chunks"}


class TestCollectJob:
    def test_runs_daily(self):
        [spec] = [spec for spec in SCHEDULES if spec.kind == blobgc.COLLECT_JOB]
        assert re.fullmatch(r"\d+ \d+ \* \* \*", spec.cron)

    async def test_removes_garbage_and_counts_it(self, runtime, cast):
        removed = REGISTRY.get_sample_value("frontdesk_blob_files_removed_total") or 0
        orphan = runtime.blobs.put(b"orphan")
        await receive(runtime, cast, "m1", b"kept")
        age_blobs(runtime.blobs)
        async with runtime.db.session() as session:
            await enqueue(session, blobgc.COLLECT_JOB, {})
            await uow.commit(session)
        assert await run_jobs(runtime) == 2  # and the sentiment of the customer's message
        assert not runtime.blobs.exists(orphan)
        assert runtime.blobs.exists(runtime.blobs.key(b"kept"))
        assert REGISTRY.get_sample_value("frontdesk_blob_files_removed_total") == removed + 1

    async def test_hands_the_rest_to_a_new_job_when_its_time_is_up(self, runtime, cast):
        keys = runtime.blobs.put_many([b"one", b"two"])
        age_blobs(runtime.blobs)
        runtime.settings.job_lease_seconds = 0  # the budget (half the lease) is spent at once
        async with runtime.db.session() as session:
            await enqueue(session, blobgc.COLLECT_JOB, {})
            await uow.commit(session)
        assert await run_jobs(runtime) == 2
        async with runtime.db.session() as session:
            jobs = (await session.scalars(select(Job).order_by(Job.id))).all()
        assert [(job.state, job.payload) for job in jobs] == [
            ("completed", {}),
            ("completed", {"after": max(keys)}),
        ]
        assert not any(runtime.blobs.exists(key) for key in keys)

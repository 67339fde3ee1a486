"""Blob garbage collection: the tables that name blobs, and the daily job that removes the
files none of them names.

Invariant: every row that names a blob is found by one of `holders()`. A new table (or JSON
field) that stores blob keys joins HOLDERS, or its channel's plugin `blob_holders`, or the
collector removes its blobs."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from frontdesk.analytics.metrics import BLOB_BYTES_REMOVED, BLOB_FILES_REMOVED
from frontdesk.conversations import repository as conversations_repository
from frontdesk.db import Database
from frontdesk.inboxes.port import BlobHolder, channel_plugins
from frontdesk.kit import uow
from frontdesk.kit.blobs import BlobStore, Swept, sweep
from frontdesk.kit.jobs import JobContext, enqueue, every, handler

log = logging.getLogger(__name__)

COLLECT_JOB = "blobs.collect"

# Each answers which of the given keys its tables name; channels add their own (the e-mail
# channel: email_quarantine, and raw mails and bounces named in messages.meta).
HOLDERS: tuple[BlobHolder, ...] = (
    # attachments: of messages, of notes, and agents' pending uploads
    conversations_repository.blob_keys_in_use,
)


def holders() -> list[BlobHolder]:
    return [*HOLDERS, *(holder for plugin in channel_plugins() for holder in plugin.blob_holders)]


async def keys_in_use(db: Database, keys: Sequence[str]) -> set[str]:
    """The keys among `keys` that some row names; the transaction ends before this returns
    (on SQLite it holds the write lock)."""
    used: set[str] = set()
    async with db.session() as session:
        for holder in holders():
            rest = [key for key in keys if key not in used]
            if not rest:
                break
            used |= await holder(session, rest)
        await session.rollback()  # read only
    return used


async def collect(
    db: Database,
    store: BlobStore,
    *,
    grace: timedelta,
    after: str = "",
    seconds: float | None = None,
) -> Swept:
    """Remove the blob files no row names and nobody put within `grace`; logs what went."""
    swept = await sweep(
        store,
        in_use=lambda keys: keys_in_use(db, keys),
        before=time.time() - grace.total_seconds(),
        after=after,
        seconds=seconds,
    )
    log.info(
        "blob collection removed %d files (%d bytes); %d old blobs still in use; %d failed%s",
        swept.files,
        swept.bytes,
        swept.in_use,
        swept.failed,
        f"; resumes after {swept.resume_after[:12]}" if swept.resume_after else "",
    )
    return swept


@handler(COLLECT_JOB, transactional=False)
async def collect_job(ctx: JobContext, payload: dict[str, Any]) -> None:
    """One sweep of the blob store; past half the job lease it hands the rest to a new job
    (which starts after the last key it looked at)."""
    swept = await collect(
        ctx.db,
        BlobStore(ctx.settings.blob_dir),
        grace=timedelta(hours=ctx.settings.blob_grace_hours),
        after=str(payload.get("after", "")),
        seconds=ctx.settings.job_lease_seconds / 2,
    )
    BLOB_FILES_REMOVED.inc(swept.files)
    BLOB_BYTES_REMOVED.inc(swept.bytes)
    if swept.resume_after:
        async with ctx.db.session() as session:
            await enqueue(session, COLLECT_JOB, {"after": swept.resume_after}, max_attempts=1)
            await uow.commit(session)


every(COLLECT_JOB, "41 4 * * *", COLLECT_JOB)

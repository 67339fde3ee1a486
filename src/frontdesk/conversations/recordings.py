"""What happens to a call's recording after it is stored: it is transcribed (if an engine
is configured; the transcript is redacted of card numbers and becomes the call message's
searchable text), and deleted with its transcript once the inbox's retention period
(`retention_days` in the inbox settings) is over. Retention deletes the attachment rows; the
blob collector (blobgc.py) then removes the files no row names."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from frontdesk.conversations import calls, repository
from frontdesk.conversations.transcription import transcriber
from frontdesk.db import utcnow
from frontdesk.inboxes import repository as inboxes_repository
from frontdesk.kit import uow
from frontdesk.kit.blobs import BlobStore
from frontdesk.kit.jobs import JobContext, every, handler
from frontdesk.kit.pci import redact_cards

log = logging.getLogger(__name__)
TRANSCRIBE_JOB = calls.TRANSCRIBE_JOB
RETENTION_JOB = "calls.retention"
# Calls handled per transaction of the retention job.
BATCH = 200


@handler(TRANSCRIBE_JOB, transactional=False)
async def transcribe(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Transcribe one stored recording (once: a call that has a transcript keeps it)."""
    engine = transcriber(ctx.settings.transcriber)
    if engine is None:
        return
    async with ctx.db.session() as session:
        attachment = await repository.get_attachment(session, int(payload["attachment_id"]))
        message = (
            await repository.get_message(session, attachment.message_id)
            if attachment is not None and attachment.message_id is not None
            else None
        )
        await session.commit()
    if attachment is None or message is None or message.kind != calls.CALL_KIND:
        return  # deleted meanwhile (retention)
    audio = BlobStore(ctx.settings.blob_dir).get(attachment.blob_key)
    language = (message.meta.get("call") or {}).get("language")
    words = await engine.transcribe(audio, content_type=attachment.content_type, language=language)
    text = redact_cards(words.strip())[:20000]
    async with ctx.db.session() as session:

        async def keep() -> None:
            row = await repository.get_message(session, message.id)
            if row is None or (row.meta.get("call") or {}).get("transcript"):
                return
            if await repository.get_attachment(session, attachment.id) is None:
                return
            row.text = text  # searchable like any message (its search key follows the text)
            await calls.update_call(session, row, transcript=text, transcriber=engine.name)

        await uow.retrying(session, keep)


@handler(RETENTION_JOB, transactional=False)
async def apply_retention(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Delete the recordings and transcripts of calls older than their inbox's retention."""
    async with ctx.db.session() as session:
        inboxes = await inboxes_repository.list_inboxes(session, only=None, after=None, limit=10000)
        await session.commit()
    for inbox in inboxes:
        days = inbox.settings.get("retention_days")
        if not isinstance(days, int) or days <= 0:
            continue
        before = utcnow() - timedelta(days=days)
        while await _expire_batch(ctx, inbox.id, before):
            pass


async def _expire_batch(ctx: JobContext, inbox_id: int, before: Any) -> int:
    async with ctx.db.session() as session:

        async def work() -> int:
            expired = await repository.calls_with_media_before(
                session, inbox_id, before=before, limit=BATCH
            )
            for message in expired:
                await repository.delete_attachments_of(session, message.id)
                message.text = ""
                await calls.update_call(
                    session, message, recording=None, transcript=None,
                    recording_deleted="retention",
                )  # fmt: skip
            return len(expired)

        done = await uow.retrying(session, work)
    if done:
        log.info("retention: inbox %s, %d calls' recordings deleted", inbox_id, done)
    return done


every(RETENTION_JOB, "23 3 * * *", RETENTION_JOB)

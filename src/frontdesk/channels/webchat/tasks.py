"""Job handlers of the webchat channel."""

from __future__ import annotations

from typing import Any

from frontdesk.channels.webchat import calls, repository
from frontdesk.channels.webchat.adapter import webchat_channel
from frontdesk.channels.webchat.calls import ASSEMBLE_JOB
from frontdesk.channels.webchat.service import TRANSCRIPT_JOB
from frontdesk.db import utcnow
from frontdesk.inboxes import repository as inboxes_repository
from frontdesk.inboxes.port import Outbound, PermanentSendError
from frontdesk.kit import uow
from frontdesk.kit.blobs import BlobStore
from frontdesk.kit.jobs import JobContext, PermanentJobError, handler


@handler(TRANSCRIPT_JOB, transactional=False)
async def send_transcript(ctx: JobContext, payload: dict[str, Any]) -> None:
    """E-mail a visitor the whole chat (through the e-mail channel, when it is installed)."""
    async with ctx.db.session() as session:
        inbox = await inboxes_repository.get_inbox(session, int(payload["inbox_id"]))
        messages = await repository.visitor_messages(
            session,
            inbox_id=int(payload["inbox_id"]),
            customer_id=int(payload["customer_id"]),
            after=0,
            recent_since=utcnow(),
            limit=5000,
        )
        await session.commit()
    if inbox is None or not messages:
        raise PermanentJobError("nothing to send: the chat or its inbox is gone")
    lines = [
        f"[{m.created_at:%Y-%m-%d %H:%M} UTC] {'You' if m.direction == 'inbound' else 'Us'}: "
        f"{m.text}"
        for m in messages
    ]
    outbound = Outbound(
        message_id=messages[-1].id,
        conversation_id=messages[-1].conversation_id,
        customer_id=int(payload["customer_id"]),
        to_address=str(payload["email"]),
        text="\n".join(lines),
        subject=f"Your chat with {inbox.name}",
        idempotency_key=f"frontdesk-transcript-{ctx.job_id}",
    )
    try:
        await webchat_channel.send_email(inbox, outbound, ctx.settings)
    except PermanentSendError as exc:
        raise PermanentJobError(str(exc)) from exc


@handler(ASSEMBLE_JOB, transactional=False)
async def assemble_recording(ctx: JobContext, payload: dict[str, Any]) -> None:
    """A browser call's recording, assembled from what was uploaded once uploads stopped
    (the agent's page closed or lost its connection mid-call)."""
    async with ctx.db.session() as session:
        await calls.assemble_when_idle(
            session,
            int(payload["message_id"]),
            blobs=BlobStore(ctx.settings.blob_dir),
            app=ctx.settings,
            generation=int(payload.get("generation", 0)),
        )
        await uow.commit(session)

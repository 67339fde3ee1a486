"""Job handlers of the conversations domain."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.analytics.metrics import MESSAGES
from frontdesk.conversations import attachments, repository, service
from frontdesk.conversations.delivery import drop_stale_pending
from frontdesk.conversations.outbox import DONE, PARALLEL_BATCHES, deliver_batch
from frontdesk.conversations.service import DELIVER_JOB, READ_JOB
from frontdesk.inboxes import repository as inboxes_repository
from frontdesk.inboxes.port import adapter_for
from frontdesk.inboxes.secrets import opened_inbox
from frontdesk.kit.jobs import Claimed, JobContext, batch_handler, every, handler


async def _delivery_failed(session: AsyncSession, payload: dict[str, Any], error: str) -> None:
    message = await repository.get_message(session, int(payload["message_id"]))
    # A refusal from the provider was already recorded, with its own code and reason.
    if message is not None and message.delivery_status not in (*DONE, "failed"):
        await service.mark_failed(session, message, error=error)
        MESSAGES.labels(direction="outbound", outcome="failed").inc()


# Up to this many deliveries are claimed, sent (concurrently) and recorded together; one
# batch holds one of the runner's FRONTDESK_JOB_CONCURRENCY slots. On SQLite too: the batch
# reads in a read-only transaction, off the one write lock, and records each wave of sends
# in a short transaction of its own (conversations/outbox.py).
DELIVERY_BATCH = 64


@batch_handler(
    DELIVER_JOB,
    size=DELIVERY_BATCH,
    parallel=PARALLEL_BATCHES,
    on_failure=_delivery_failed,
)
async def deliver(ctx: JobContext, jobs: list[Claimed]) -> dict[int, Exception]:
    """Send queued messages through their inboxes' channel adapters (idempotent)."""
    return await deliver_batch(ctx, jobs)


@handler(READ_JOB, transactional=False)
async def mark_read(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Tell the provider an agent read the customer's message (WhatsApp's blue ticks)."""
    async with ctx.db.session() as session:
        message = await repository.get_message(session, int(payload["message_id"]))
        inbox = await inboxes_repository.get_inbox(session, message.inbox_id) if message else None
        await session.commit()
    if message is None or inbox is None or not message.provider_message_id:
        return
    hook = getattr(adapter_for(inbox.channel), "mark_read", None)
    if hook is not None:
        await hook(opened_inbox(inbox, ctx.settings), message.provider_message_id, ctx.settings)


@handler("conversations.wake_snoozed")
async def wake_snoozed(session: AsyncSession, payload: dict[str, Any]) -> None:
    await service.wake_snoozed(session)


every("conversations.wake_snoozed", "* * * * *", "conversations.wake_snoozed")


@handler("conversations.drop_stale_uploads")
async def drop_stale_uploads(session: AsyncSession, payload: dict[str, Any]) -> None:
    await attachments.drop_stale_uploads(session)


every("conversations.drop_stale_uploads", "17 * * * *", "conversations.drop_stale_uploads")


@handler("conversations.drop_stale_pending")
async def drop_stale_pending_updates(session: AsyncSession, payload: dict[str, Any]) -> None:
    await drop_stale_pending(session)


every("conversations.drop_stale_pending", "41 3 * * *", "conversations.drop_stale_pending")

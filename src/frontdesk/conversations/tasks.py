"""Job handlers of the conversations domain."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.analytics.metrics import MESSAGES
from frontdesk.conversations import attachments, repository, service
from frontdesk.conversations.delivery import drop_stale_pending
from frontdesk.conversations.service import DELIVER_JOB, READ_JOB
from frontdesk.customers import repository as customers_repository
from frontdesk.inboxes import repository as inboxes_repository
from frontdesk.inboxes.port import (
    Outbound,
    OutboundAttachment,
    PermanentSendError,
    RateLimited,
    Refusal,
    adapter_for,
)
from frontdesk.inboxes.secrets import opened_inbox
from frontdesk.kit import ratelimit, uow
from frontdesk.kit.blobs import BlobStore
from frontdesk.kit.jobs import JobContext, PermanentJobError, RetryLater, every, handler

DONE = ("sent", "delivered", "read")


async def _delivery_failed(session: AsyncSession, payload: dict[str, Any], error: str) -> None:
    message = await repository.get_message(session, int(payload["message_id"]))
    # A refusal from the provider was already recorded, with its own code and reason.
    if message is not None and message.delivery_status not in (*DONE, "failed"):
        await service.mark_failed(session, message, error=error)
        MESSAGES.labels(direction="outbound", outcome="failed").inc()


@handler(DELIVER_JOB, transactional=False, on_failure=_delivery_failed)
async def deliver(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Send one queued message through its inbox's channel adapter (idempotent)."""
    message_id = int(payload["message_id"])
    # Read in a short transaction and end it before the network call (SQLite holds its write
    # lock for the whole transaction).
    async with ctx.db.session() as session:
        message = await repository.get_message(session, message_id)
        if message is None or message.delivery_status in DONE:
            return
        inbox = await inboxes_repository.get_inbox(session, message.inbox_id)
        identity = (
            await customers_repository.get_identity(session, message.identity_id)
            if message.identity_id
            else None
        )
        conversation = await repository.get_conversation(session, message.conversation_id)
        attachments = await repository.attachments_of(session, [message.id])
        earlier = await repository.thread_messages(
            session, message.conversation_id, before_id=message.id
        )
        customer = await customers_repository.get_customer(session, message.customer_id)
        refused = await _refusal(session, inbox, identity)
        await session.commit()  # read-only; commit keeps the loaded rows usable
    if inbox is None or identity is None or conversation is None:
        raise PermanentJobError("message has no inbox, recipient or conversation any more")
    if refused:  # e.g. the address hard-bounced: fail clearly instead of sending again
        await _refused(ctx, message_id, PermanentSendError(refused.reason, code=refused.code))
        raise PermanentJobError(refused.reason)
    adapter = adapter_for(inbox.channel)
    await _take_rate_slot(ctx, adapter, inbox)
    inbox = opened_inbox(inbox, ctx.settings)
    answered = next((m for m in reversed(earlier) if m.direction == "inbound"), None)
    blobs = BlobStore(ctx.settings.blob_dir)
    outbound = Outbound(
        message_id=message.id,
        conversation_id=message.conversation_id,
        customer_id=message.customer_id,
        to_address=identity.address,
        text=message.text,
        html=message.html,
        subject=conversation.subject,
        thread=conversation.thread_key,
        idempotency_key=f"frontdesk-message-{message.id}",
        to_name=customer.name if customer else None,
        references=[ref for m in earlier if (ref := m.external_id or m.meta.get("remote_id"))],
        in_reply_to=answered.external_id if answered else None,
        author_kind=message.author_kind,
        answers_automated=bool(answered and answered.meta.get("automated")),
        template=message.meta.get("template"),
        interactive=message.meta.get("interactive"),
        meta=dict(message.meta),
        attachments=[
            OutboundAttachment(item.filename, item.content_type, blobs.get(item.blob_key))
            for item in attachments
        ],
    )
    try:
        result = await adapter.send(inbox, outbound, ctx.settings)
    except RateLimited as exc:
        # The provider's throttle, not a failure of this message: wait as long as it asks.
        raise RetryLater(exc.retry_after, str(exc)) from exc
    except PermanentSendError as exc:
        await _refused(ctx, message_id, exc)
        raise PermanentJobError(str(exc)) from exc
    async with ctx.db.session() as session:
        message = await repository.get_message(session, message_id)
        if message is None or message.delivery_status in DONE:
            return
        await service.mark_delivered(
            session, message, status=result.status, remote_id=result.external_id
        )
        await uow.commit(session)
    MESSAGES.labels(direction="outbound", outcome=result.status).inc()


async def _refused(ctx: JobContext, message_id: int, exc: PermanentSendError) -> None:
    async with ctx.db.session() as session:
        message = await repository.get_message(session, message_id)
        if message is not None and message.delivery_status not in DONE:
            await service.mark_failed(session, message, error=exc.reason, code=exc.code)
            await uow.commit(session)
            MESSAGES.labels(direction="outbound", outcome="failed").inc()


async def _refusal(session: AsyncSession, inbox: Any, identity: Any) -> Refusal | None:
    """Channels may refuse a recipient before anything is sent (e-mail: suppressed after a
    hard bounce; SMS: the customer opted out since the reply was queued)."""
    if inbox is None or identity is None:
        return None
    refused = await service.send_refusal(session, inbox, identity.address)
    if refused is not None:
        return refused
    refusal = getattr(adapter_for(inbox.channel), "refusal", None)
    if refusal is None:
        return None
    reason: str | None = await refusal(session, inbox, identity.address)
    return Refusal(reason, code="") if reason else None


async def _take_rate_slot(ctx: JobContext, adapter: Any, inbox: Any) -> None:
    """Channels may cap sends per inbox per minute (e-mail relays do); past the cap the job
    waits for the next window without spending an attempt."""
    cap = getattr(adapter, "outbound_per_minute", None)
    limit = cap(inbox) if cap is not None else None
    if not limit:
        return
    async with ctx.db.session() as session:
        wait = await ratelimit.take(session, f"outbound:{inbox.id}", limit=limit)
        await uow.commit(session)
    if wait:
        raise RetryLater(wait, f"outbound cap of {limit}/min for inbox {inbox.id} reached")


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

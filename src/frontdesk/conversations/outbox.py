"""Delivering queued replies in batches: one read transaction loads a batch of messages with
everything their adapters need (the channels' refusal checks included), the per-inbox rate
slots are taken in one transaction, and the sends go out in waves over the process's pooled
HTTP client (kit/http.py), each wave's results recorded in one write transaction before the
next wave is sent: a crash repeats at most one wave (JOB_CONCURRENCY sends in all).

What a batch keeps from one-message-per-job delivery: each message is sent under its stable
idempotency key (`frontdesk-message-<id>`), a message already sent or delivered is never sent
again, statuses only move forward (conversations/delivery.py), and a job whose batch crashed
(an exception, a killed process: the lease runs out) is claimed and run again."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.analytics.metrics import MESSAGES
from frontdesk.conversations import repository, service
from frontdesk.conversations.models import Conversation, Message
from frontdesk.customers import repository as customers_repository
from frontdesk.inboxes import repository as inboxes_repository
from frontdesk.inboxes.models import Inbox
from frontdesk.inboxes.port import (
    ChannelAdapter,
    Outbound,
    OutboundAttachment,
    PermanentSendError,
    RateLimited,
    Refusal,
    SendResult,
    adapter_for,
    find_adapter,
)
from frontdesk.inboxes.secrets import opened_inbox
from frontdesk.kit import ratelimit, uow
from frontdesk.kit.blobs import BlobStore
from frontdesk.kit.jobs import Claimed, JobContext, PermanentJobError, RetryLater, renew_leases

DONE = ("sent", "delivered", "read")
# Delivery batches of one runner running at once (kit.jobs.batch_handler `parallel`). One: its
# waves are then JOB_CONCURRENCY sends each, and every wave pays one write transaction (about
# eight statements, the event lock among them), so fewer, larger waves cost less CPU per
# delivery; a second batch only overlapped its waits with this one's, which the waves'
# concurrency already covers.
PARALLEL_BATCHES = 1


@dataclass
class Send:
    """One message of the batch, ready for its adapter."""

    job_id: int
    inbox: Inbox  # secrets opened: never added to a session
    adapter: ChannelAdapter
    outbound: Outbound
    # As the batch loaded it (outside any session since): the wave's record writes it back.
    message: Message


@dataclass
class Batch:
    sends: list[Send]
    # job id -> how the job ends without a send (PermanentJobError, RetryLater).
    outcomes: dict[int, Exception]
    # message id -> the refusal to record on it (an opt-out since the reply was queued).
    refused: dict[int, PermanentSendError]
    # The batch's conversations, as loaded with its messages (their events name them).
    conversations: dict[int, Conversation]


def window(ctx: JobContext) -> int:
    """Sends of one batch that may be answered by their provider but not yet recorded: a
    worker killed now sends those again (providers without idempotency keys deliver them
    twice). The runner's batches together keep it to FRONTDESK_JOB_CONCURRENCY."""
    return max(1, ctx.settings.job_concurrency // PARALLEL_BATCHES)


async def deliver_batch(ctx: JobContext, jobs: Sequence[Claimed]) -> dict[int, Exception]:
    """Send the queued messages these deliver jobs name; {job id: exception} for the jobs
    that did not end done (see kit.jobs.batch_handler). One read for the batch; the sends go
    out in waves of `window` messages, each wave's results recorded (one transaction) before
    the next wave is sent, so a crash repeats at most one wave per batch."""
    began = time.monotonic()  # about when the jobs were claimed, the lease's start
    async with ctx.db.session() as session:
        async with uow.reading(session):  # SQLite: a reader, off the one write lock
            batch = await _prepare(session, ctx, jobs)
        await session.commit()  # read-only; commit keeps the loaded rows usable
    if any(_capped(send) for send in batch.sends):
        await _take_rate_slots(ctx, batch)
    size = window(ctx)
    # A long batch renews the lease of its jobs each time a third of it has passed, so they
    # are not claimed again (and sent twice) while it works; a job whose lease was lost
    # anyway is left to whoever holds it now.
    renew_at = began + ctx.settings.job_lease_seconds / 3
    for start in range(0, len(batch.sends), size):
        if time.monotonic() > renew_at:
            rest = batch.sends[start:]
            # The sent ones too: they are completed together at the batch's end.
            held = await renew_leases(ctx, {job.id for job in jobs})
            renew_at = time.monotonic() + ctx.settings.job_lease_seconds / 3
            lost = [send for send in rest if send.job_id not in held]
            if lost:
                gone = {send.job_id for send in lost}
                batch.sends = batch.sends[:start] + [s for s in rest if s.job_id not in gone]
        wave = batch.sends[start : start + size]
        if not wave:
            break
        results = await asyncio.gather(
            *(send.adapter.send(send.inbox, send.outbound, ctx.settings) for send in wave),
            return_exceptions=True,
        )
        await _record(ctx, batch, wave, list(results), refused=batch.refused if not start else {})
    if not batch.sends and batch.refused:
        await _record(ctx, batch, [], [], refused=batch.refused)
    return batch.outcomes


async def _prepare(session: AsyncSession, ctx: JobContext, jobs: Sequence[Claimed]) -> Batch:
    ids = {job.id: int(job.payload["message_id"]) for job in jobs}
    messages = await repository.get_messages(session, set(ids.values()))
    live = [m for m in messages.values() if m.delivery_status not in DONE]
    inboxes = await inboxes_repository.get_inboxes(session, {m.inbox_id for m in live})
    identities = await customers_repository.get_identities(
        session, {m.identity_id for m in live if m.identity_id}
    )
    customers = await customers_repository.get_customers(session, {m.customer_id for m in live})
    conversations = await repository.get_conversations(session, {m.conversation_id for m in live})
    threads = await repository.thread_messages_many(
        session,
        {m.conversation_id for m in live},
        before_id=max((m.id for m in live), default=0),
    )
    files = await repository.attachments_of(session, [m.id for m in live])
    refusals = await _refusals(session, inboxes, identities, live)
    blobs = BlobStore(ctx.settings.blob_dir)
    opened: dict[int, Inbox] = {}
    batch = Batch([], {}, {}, conversations)
    for job_id, message_id in ids.items():
        message = messages.get(message_id)
        if message is None or message.delivery_status in DONE:
            continue  # done already (a retry after the write of an earlier run)
        inbox = inboxes.get(message.inbox_id)
        identity = identities.get(message.identity_id) if message.identity_id else None
        conversation = conversations.get(message.conversation_id)
        if inbox is None or identity is None or conversation is None:
            batch.outcomes[job_id] = PermanentJobError(
                "message has no inbox, recipient or conversation any more"
            )
            continue
        refused = refusals.get((inbox.id, identity.address))
        if refused:  # e.g. the address hard-bounced: fail clearly instead of sending again
            batch.refused[message_id] = PermanentSendError(refused.reason, code=refused.code)
            batch.outcomes[job_id] = PermanentJobError(refused.reason)
            continue
        if inbox.id not in opened:
            opened[inbox.id] = opened_inbox(inbox, ctx.settings)
        earlier = [m for m in threads[message.conversation_id] if m.id < message.id]
        customer = customers.get(message.customer_id)
        outbound = _outbound(
            message,
            address=identity.address,
            subject=conversation.subject,
            thread=conversation.thread_key,
            to_name=customer.name if customer else None,
            earlier=earlier,
            attachments=[
                OutboundAttachment(item.filename, item.content_type, blobs.get(item.blob_key))
                for item in files
                if item.message_id == message.id
            ],
        )
        adapter = adapter_for(inbox.channel)
        batch.sends.append(Send(job_id, opened[inbox.id], adapter, outbound, message))
    return batch


def _outbound(
    message: Message,
    *,
    address: str,
    subject: str | None,
    thread: str | None,
    to_name: str | None,
    earlier: list[Any],  # repository.thread_messages_many's rows
    attachments: list[OutboundAttachment],
) -> Outbound:
    answered = next((m for m in reversed(earlier) if m.direction == "inbound"), None)
    return Outbound(
        message_id=message.id,
        conversation_id=message.conversation_id,
        customer_id=message.customer_id,
        to_address=address,
        text=message.text,
        html=message.html,
        subject=subject,
        thread=thread,
        idempotency_key=f"frontdesk-message-{message.id}",
        to_name=to_name,
        references=[ref for m in earlier if (ref := m.external_id or m.meta.get("remote_id"))],
        in_reply_to=answered.external_id if answered else None,
        author_kind=message.author_kind,
        answers_automated=bool(answered and answered.meta.get("automated")),
        answers_answered=bool(answered and answered.answered),
        template=message.meta.get("template"),
        interactive=message.meta.get("interactive"),
        meta=dict(message.meta),
        attachments=attachments,
    )


async def _refusals(
    session: AsyncSession,
    inboxes: dict[int, Inbox],
    identities: dict[int, Any],
    live: Sequence[Message],
) -> dict[tuple[int, str], Refusal]:
    """{(inbox id, address): refusal} for the batch's recipients: a channel that can check a
    batch at once (`send_refusals`: SMS opt-outs, one query) does; others are asked per
    recipient."""
    wanted: dict[int, set[str]] = {}
    for message in live:
        identity = identities.get(message.identity_id) if message.identity_id else None
        if identity is not None and message.inbox_id in inboxes:
            wanted.setdefault(message.inbox_id, set()).add(identity.address)
    found: dict[tuple[int, str], Refusal] = {}
    for inbox_id, addresses in wanted.items():
        inbox = inboxes[inbox_id]
        many = getattr(find_adapter(inbox.channel), "send_refusals", None)
        if many is not None and getattr(adapter_for(inbox.channel), "refusal", None) is None:
            batch: dict[str, Refusal] = await many(session, inbox, addresses)
            found.update(((inbox_id, address), refusal) for address, refusal in batch.items())
            continue
        for address in addresses:
            refusal = await _refusal(session, inbox, address)
            if refusal is not None:
                found[(inbox_id, address)] = refusal
    return found


async def _refusal(session: AsyncSession, inbox: Inbox, address: str) -> Refusal | None:
    """Channels may refuse a recipient before anything is sent (e-mail: suppressed after a
    hard bounce; SMS: the customer opted out since the reply was queued)."""
    refused = await service.send_refusal(session, inbox, address)
    if refused is not None:
        return refused
    refusal = getattr(adapter_for(inbox.channel), "refusal", None)
    if refusal is None:
        return None
    reason: str | None = await refusal(session, inbox, address)
    return Refusal(reason, code="") if reason else None


def _cap(send: Send) -> int | None:
    cap = getattr(send.adapter, "outbound_per_minute", None)
    limit: int | None = cap(send.inbox) if cap is not None else None
    return limit or None


def _capped(send: Send) -> bool:
    return _cap(send) is not None


async def _take_rate_slots(ctx: JobContext, batch: Batch) -> None:
    """Channels may cap sends per inbox per minute (e-mail relays do): the batch takes the
    slots of each inbox at once; the messages past the cap wait for the next window without
    spending an attempt (in message order, so the oldest go first)."""
    by_inbox: dict[int, list[Send]] = {}
    for send in batch.sends:
        if _capped(send):
            by_inbox.setdefault(send.inbox.id, []).append(send)
    late: set[int] = set()
    async with ctx.db.session() as session:
        for inbox_id, sends in by_inbox.items():
            limit = _cap(sends[0])
            assert limit is not None
            sends.sort(key=lambda send: send.outbound.message_id)
            granted, wait = await ratelimit.take_many(
                session, f"outbound:{inbox_id}", len(sends), limit=limit
            )
            for send in sends[granted:]:
                late.add(send.job_id)
                batch.outcomes[send.job_id] = RetryLater(
                    wait, f"outbound cap of {limit}/min for inbox {inbox_id} reached"
                )
        await uow.commit(session)
    batch.sends = [send for send in batch.sends if send.job_id not in late]


async def _record(
    ctx: JobContext,
    batch: Batch,
    wave: list[Send],
    results: list[Any],
    *,
    refused: dict[int, PermanentSendError],
) -> None:
    """One transaction for a wave's results: sent, refused by the provider (failed with
    its code), throttled (RetryLater) or an error (the job's attempt fails, retried); and
    the batch's refusals before sending (`refused`, with its first wave)."""
    sent: dict[int, tuple[Send, SendResult]] = {}
    refused = dict(refused)
    for send, result in zip(wave, results, strict=True):
        message_id = send.outbound.message_id
        if isinstance(result, SendResult):
            sent[message_id] = (send, result)
        elif isinstance(result, RateLimited):
            # The provider's throttle, not a failure of this message: wait as long as it asks.
            batch.outcomes[send.job_id] = RetryLater(result.retry_after, str(result))
        elif isinstance(result, PermanentSendError):
            refused[message_id] = result
            batch.outcomes[send.job_id] = PermanentJobError(str(result))
        elif isinstance(result, Exception):
            batch.outcomes[send.job_id] = result
        else:  # BaseException (cancelled): let the runner see it
            raise result
    if not sent and not refused:
        return
    outcomes: list[str] = []
    async with ctx.db.session() as session:
        # The sent messages are the batch's own (loaded before the send): only their stored
        # delivery state is read again, to skip one somebody recorded meanwhile.
        stored = await repository.delivery_states(session, set(sent))
        delivered: list[tuple[Message, str, str | None]] = []
        for message_id, (send, result) in sorted(sent.items()):
            now = stored.get(message_id)
            if now is None or now.delivery_status in DONE:
                continue
            message = send.message
            message.delivery_status = now.delivery_status
            message.delivery_error = now.delivery_error
            message.provider_message_id = now.provider_message_id
            message.sent_at = now.sent_at
            message.meta = dict(now.meta or {})
            delivered.append((message, result.status, result.external_id))
            outcomes.append(result.status)
        # Refused by the provider or the channel: rare, through the ORM.
        messages = await repository.get_messages(session, set(refused))
        for message_id, message in sorted(messages.items()):
            if message.delivery_status in DONE:
                continue
            error = refused[message_id]
            await service.mark_failed(session, message, error=error.reason, code=error.code)
            outcomes.append("failed")
        await service.mark_delivered_many(session, delivered, batch.conversations)
        await uow.commit(session)
    for outcome in outcomes:
        MESSAGES.labels(direction="outbound", outcome=outcome).inc()

"""Phone calls on the timeline: a call is a message of kind "call" whose state (direction,
status, duration, agent, wait, recording, transcript) lives in meta["call"]. Inbound calls
arrive through `receive` like any message (Inbound.kind = "call"); these are the writers of
what happens to a call afterwards, and of the calls agents place.

Invariant: an inbound call stays unanswered (Message.answered False) until an agent spoke
with the caller: it was answered, or someone called the customer back and they picked up."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.auth.models import Agent
from frontdesk.conversations import repository
from frontdesk.conversations.events import record_message
from frontdesk.conversations.models import Attachment, Conversation, Message
from frontdesk.conversations.receiving import set_status
from frontdesk.customers import repository as customers_repository
from frontdesk.customers.models import Identity
from frontdesk.db import utcnow
from frontdesk.kit import jobs
from frontdesk.kit.events import record

CALL_KIND = "call"
CALLBACK_TAG = "callback"
# A stored recording is transcribed by this job (conversations/recordings.py) when an
# engine is configured.
TRANSCRIBE_JOB = "calls.transcribe"


async def update_call(session: AsyncSession, message: Message, **changes: Any) -> Message:
    """Merge `changes` into the call's state and tell the desk (message.updated), and say
    when an agent starts or stops talking on it (call.answered, call.ended)."""
    before = dict(message.meta.get("call") or {})
    call = {**before, **changes}
    message.meta = {**message.meta, "call": call}
    conversation = await repository.get_conversation(session, message.conversation_id)
    assert conversation is not None
    # Once: the earlier messages were marked when an agent first spoke with the caller (the
    # end of the call, its recording and transcript change nothing there).
    if _spoken(call) and not _spoken(before):
        await _answered(session, message, conversation)
    record_message(session, message, conversation, "message.updated")
    _agent_moves(session, message, before, call)
    return message


def _agent_moves(
    session: AsyncSession, message: Message, before: dict[str, Any], after: dict[str, Any]
) -> None:
    """call.answered when an agent comes on the call (answered, or a transfer while it is),
    call.ended for the agent who leaves it (the call ended, or was transferred away). Each
    is recorded once: only a change of status or agent makes one (routing's presence rule
    reads them: busy on a call, after-call work once it ends)."""
    was = before.get("agent_id") if before.get("status") == "answered" else None
    now = after.get("agent_id") if after.get("status") == "answered" else None
    if was and was != now:
        reason = "transferred" if now else str(after.get("status") or "ended")
        _call_event(session, message, "call.ended", int(was), reason=reason)
    elif (
        not was
        and after.get("agent_id")  # talked, though the answered notice never came
        and after.get("status") == "ended"
        and before.get("status") != "ended"
    ):
        _call_event(session, message, "call.ended", int(after["agent_id"]), reason="ended")
    if now and now != was:
        _call_event(session, message, "call.answered", int(now), reason="answered")


def _call_event(
    session: AsyncSession, message: Message, type: str, agent_id: int, *, reason: str
) -> None:
    record(
        session,
        type,
        {"message_id": message.id, "conversation_id": message.conversation_id,
         "agent_id": agent_id, "channel": message.channel, "reason": reason},
        inbox_id=message.inbox_id,
        conversation_id=message.conversation_id,
        customer_id=message.customer_id,
    )  # fmt: skip


def _spoken(call: dict[str, Any]) -> bool:
    return call.get("status") in ("answered", "ended") and bool(call.get("agent_id"))


async def _answered(session: AsyncSession, message: Message, conversation: Conversation) -> None:
    """An agent spoke with the customer: this call and every earlier unanswered inbound
    message of the conversation (a missed call among them) are answered."""
    if message.direction == "inbound":
        message.answered = True
    await repository.mark_answered(
        session, conversation_id=conversation.id, before_message_id=message.id
    )
    if message.direction == "outbound":
        await repository.remove_tag(session, conversation.id, CALLBACK_TAG)


async def attach_recording(
    session: AsyncSession,
    message: Message,
    *,
    filename: str,
    content_type: str,
    size: int,
    blob_key: str,
    transcribe: bool = True,
) -> Attachment:
    """The call's recording (or voicemail), its blob already durable, named on the call;
    transcribed by a job if `transcribe` (an engine is configured)."""
    row = Attachment(
        message_id=message.id,
        filename=filename[:300],
        content_type=content_type[:200],
        size=size,
        blob_key=blob_key,
    )
    session.add(row)
    await session.flush()
    await update_call(session, message, recording=row.id)
    if transcribe:
        await jobs.enqueue(
            session, TRANSCRIBE_JOB, {"attachment_id": row.id}, key=f"{TRANSCRIBE_JOB}:{row.id}"
        )
    return row


async def flag_callback(session: AsyncSession, message: Message, *, reason: str) -> None:
    """The caller was not served (missed, asked to be called back): the conversation is
    tagged `callback` and stays open until someone calls back; routing makes it a task."""
    conversation = await repository.get_conversation(session, message.conversation_id)
    assert conversation is not None
    await repository.add_tag(session, conversation.id, CALLBACK_TAG)
    if conversation.status not in ("open", "pending"):
        await set_status(session, conversation, "open")
    record(
        session,
        "call.callback_needed",
        {"conversation_id": conversation.id, "message_id": message.id, "reason": reason},
        inbox_id=conversation.inbox_id,
        conversation_id=conversation.id,
        customer_id=conversation.customer_id,
    )


async def place_call(
    session: AsyncSession,
    conversation: Conversation,
    *,
    agent: Agent,
    identity_id: int | None,
    from_number: str,
    to_number: str,
) -> Message:
    """An outbound call the agent places (click-to-call), ringing until the provider says
    more. The caller enqueues the job that asks the provider to dial."""
    message = Message(
        conversation_id=conversation.id,
        inbox_id=conversation.inbox_id,
        customer_id=conversation.customer_id,
        channel="voice",
        direction="outbound",
        author_kind="agent",
        author_agent_id=agent.id,
        kind=CALL_KIND,
        identity_id=identity_id,
        text="",
        delivery_status="queued",
        answered=False,
        meta={
            "call": {
                "direction": "outbound",
                "status": "ringing",
                "from_number": from_number,
                "to_number": to_number,
                "agent_id": agent.id,
            }
        },
    )
    session.add(message)
    await session.flush()
    conversation.last_message_at = conversation.updated_at = utcnow()
    record_message(session, message, conversation, "message.created")
    return message


async def not_picked_up(session: AsyncSession, message: Message, *, agent_id: int) -> None:
    """The agent the call was put through to did not answer: the conversation is theirs no
    more, so another agent (or routing) can take the caller, who is waiting again."""
    conversation = await repository.get_conversation(session, message.conversation_id)
    assert conversation is not None
    if conversation.assignee_id != agent_id:
        return
    conversation.assignee_id = None
    conversation.updated_at = utcnow()
    record(
        session,
        "conversation.updated",
        # Routing gives the call's task back to the queue (routing.tasks.assigned_by_hand).
        {"conversation_id": conversation.id, "changed": ["assignee_id"],
         "values": {"assignee_id": [agent_id, None]}, "by": None, "rule": "not_picked_up"},
        inbox_id=conversation.inbox_id,
        conversation_id=conversation.id,
        customer_id=conversation.customer_id,
    )  # fmt: skip
    record(
        session,
        "conversation.updated",
        {"conversation_id": conversation.id, "changed": ["assignee_id"], "by": None},
        inbox_id=conversation.inbox_id,
        conversation_id=conversation.id,
        customer_id=conversation.customer_id,
    )


async def phone_of(session: AsyncSession, customer_id: int) -> Identity | None:
    """The customer's phone number to call (their first phone identity)."""
    identities = await customers_repository.identities_of(session, customer_id)
    return next((identity for identity in identities if identity.kind == "phone"), None)

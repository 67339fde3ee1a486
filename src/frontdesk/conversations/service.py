"""Conversations: `receive` is the only way in, `reply` the only way out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.auth import repository as auth_repository
from frontdesk.auth.models import Agent
from frontdesk.conversations import delivery, repository, switching, window
from frontdesk.conversations.delivery import (
    apply_provider_edit,
    apply_provider_status,
    apply_watermark,
)
from frontdesk.conversations.events import record_message
from frontdesk.conversations.models import Attachment, Conversation, Message, Note
from frontdesk.conversations.receiving import (
    Received,
    receive,
    receive_many,
    record_opened,
    set_status,
    stamp_lifecycle,
)
from frontdesk.conversations.schemas import ConversationUpdate, ReplyCreate
from frontdesk.conversations.signature import signed
from frontdesk.customers import repository as customers_repository
from frontdesk.customers.models import Identity
from frontdesk.db import utcnow
from frontdesk.inboxes import repository as inboxes_repository
from frontdesk.inboxes import templates
from frontdesk.inboxes.models import Inbox
from frontdesk.inboxes.port import Refusal, adapter_for, find_adapter
from frontdesk.inboxes.service import visible_inbox_ids
from frontdesk.kit import jobs
from frontdesk.kit.errors import Conflict, Invalid, NotFound
from frontdesk.kit.events import record
from frontdesk.kit.pci import redact_cards
from frontdesk.kit.security import sanitize_html

DELIVER_JOB = "conversations.deliver"
READ_JOB = "conversations.mark_read"

__all__ = [
    "DELIVER_JOB",
    "Received",
    "apply_provider_edit",
    "apply_provider_status",
    "apply_watermark",
    "receive",
    "receive_many",
    "reply",
]


async def reply(
    session: AsyncSession,
    conversation: Conversation,
    *,
    author: Agent | None,
    data: ReplyCreate,
    author_kind: str = "agent",
    attachments: Sequence[Attachment] = (),
    meta: dict[str, Any] | None = None,
    check_window: bool = True,
) -> Message:
    """Queue an outbound message (with the given pending uploads) and its delivery job in
    this transaction. Past the channel's reply window it is refused, or sent as the channel
    allows (`meta`, e.g. a message tag); `check_window=False` is for sends that carry their
    own rule (a private reply to a public comment)."""
    inbox = await inboxes_repository.get_inbox(session, conversation.inbox_id)
    assert inbox is not None
    if switching.switches(inbox, data):  # also the way out of a deactivated inbox
        return await _reply_elsewhere(
            session, conversation, inbox, author=author, data=data, attachments=attachments
        )
    if not inbox.active:
        raise Conflict("this inbox is deactivated; reply from another inbox", code="inbox_inactive")
    text, structured = data.text, await _structured(session, inbox, data)
    if "template" in structured:
        text = structured["template"]["text"]
    elif not data.text.strip() and not data.html and not attachments:
        raise Invalid("a reply needs text, html or a file", code="empty_message")
    html = data.html
    if author_kind == "agent" and "template" not in structured:
        text, html = signed(text, html, author=author, channel=inbox.channel)
    identity = await _reply_identity(session, conversation, data.identity_id)
    allowed = (
        await window.check(session, inbox, conversation, template=data.template is not None)
        if check_window
        else {}
    )
    refused = await send_refusal(session, inbox, identity.address)
    if refused is not None:
        raise Conflict(refused.reason, code=refused.code)
    message = Message(
        conversation_id=conversation.id,
        inbox_id=inbox.id,
        customer_id=conversation.customer_id,
        channel=inbox.channel,
        direction="outbound",
        author_kind=author_kind,
        author_agent_id=author.id if author else None,
        identity_id=identity.id,
        # PCI: an agent never sends (or stores) a card number either.
        text=redact_cards(text),
        html=_redacted_html(html),
        delivery_status="queued",
        answered=False,
        meta={**allowed, **structured, **(meta or {})},
    )
    session.add(message)
    await session.flush()
    for attachment in attachments:
        attachment.message_id = message.id
    await jobs.enqueue(
        session, DELIVER_JOB, {"message_id": message.id}, key=f"deliver:{message.id}"
    )
    conversation.last_message_at = conversation.updated_at = utcnow()
    if author_kind == "agent":
        stamp_lifecycle(conversation, "first_response_at", conversation.updated_at)
    record_message(session, message, conversation, "message.created")
    return message


def _redacted_html(html: str | None) -> str | None:
    clean = sanitize_html(html)
    return redact_cards(clean) if clean else clean


async def _reply_elsewhere(
    session: AsyncSession,
    source: Conversation,
    inbox: Inbox,
    *,
    author: Agent | None,
    data: ReplyCreate,
    attachments: Sequence[Attachment],
) -> Message:
    """The reply on another of the customer's channels (ADR 0007): sent in their conversation
    on that inbox under its rules; the switch is shown in both conversations."""
    found = await switching.target(session, source, data, agent=author)
    target = await switching.conversation_for(session, found, customer_id=source.customer_id)
    for attachment in attachments:
        attachment.conversation_id = target.id
    there = data.model_copy(
        update={"channel": None, "inbox_id": None, "identity_id": found.identity.id}
    )
    origin = {"conversation_id": source.id, "channel": inbox.channel}
    try:
        message = await reply(
            session, target, author=author, data=there, attachments=attachments,
            meta={"switched_from": origin},
        )  # fmt: skip
    except Conflict as exc:  # the target channel's rules: the choice of channel is refused
        raise Invalid(exc.message, code=exc.code) from exc
    switching.record_switch(session, source, target, message, from_channel=inbox.channel, by=author)
    return message


async def _structured(session: AsyncSession, inbox: Inbox, data: ReplyCreate) -> dict[str, Any]:
    """The template or choices a reply carries, checked against the inbox's channel (the
    reply window is `window.check`'s: outside it only an approved template may go)."""
    meta: dict[str, Any] = {}
    if data.interactive is not None:
        meta["interactive"] = data.interactive.model_dump(exclude_defaults=True)
    if data.template is None:
        return meta
    # PCI: a card number never goes out (nor is stored) as a template parameter either.
    parameters = [redact_cards(parameter) for parameter in data.template.parameters]
    found = await templates.approved(
        session,
        inbox,
        name=data.template.name,
        language=data.template.language,
        parameters=parameters,
    )
    rendered = templates.render(found.body, parameters) or f"[{found.name}]"
    meta["template"] = {
        "name": found.name,
        "language": found.language,
        "parameters": parameters,
        "components": found.components,
        "text": rendered,
    }
    return meta


async def send_refusal(session: AsyncSession, inbox: Inbox, address: str) -> Refusal | None:
    """Why the inbox's channel will not send to this address now (opted out...), or None."""
    hook = getattr(find_adapter(inbox.channel), "send_refusal", None)
    if hook is None:
        return None
    refused: Refusal | None = await hook(session, inbox, address)
    return refused


async def _reply_identity(
    session: AsyncSession, conversation: Conversation, identity_id: int | None
) -> Identity:
    if identity_id is not None:
        identity = await customers_repository.get_identity(session, identity_id)
        if identity is None or identity.customer_id != conversation.customer_id:
            raise Invalid("identity does not belong to this customer", code="invalid_identity")
        return identity
    last = await repository.last_inbound(session, conversation.id)
    if last is not None and last.identity_id is not None:
        identity = await customers_repository.get_identity(session, last.identity_id)
        if identity is not None and identity.customer_id == conversation.customer_id:
            return identity
    identities = await customers_repository.identities_of(session, conversation.customer_id)
    if not identities:
        raise Conflict("the customer has no address to reply to", code="no_identity")
    return identities[0]


async def opened_by_agent(session: AsyncSession, conversation: Conversation) -> bool:
    """An agent opened the conversation: on channels with read receipts whose adapter can say
    so (`mark_read`), the customer's last message is marked read, once, by a job."""
    inbox = await inboxes_repository.get_inbox(session, conversation.inbox_id)
    if inbox is None or not adapter_for(inbox.channel).capabilities.read_receipts:
        return False
    if getattr(adapter_for(inbox.channel), "mark_read", None) is None:
        return False
    last = await repository.last_inbound(session, conversation.id)
    if last is None or not last.provider_message_id:
        return False
    await jobs.enqueue(session, READ_JOB, {"message_id": last.id}, key=f"mark-read:{last.id}")
    return True


async def open_thread(
    session: AsyncSession, *, inbox_id: int, customer_id: int, thread_key: str
) -> Conversation:
    """The customer's newest conversation of this thread on the inbox (reopened if closed),
    or a new one that the business starts (e.g. a private reply to a public comment)."""
    found = await repository.find_by_thread(
        session, inbox_id=inbox_id, customer_id=customer_id, thread_key=thread_key
    )
    if found is not None:
        if found.status not in ("open", "pending"):
            await set_status(session, found, "open")
        return found
    conversation = Conversation(
        inbox_id=inbox_id, customer_id=customer_id, status="open", priority="normal",
        thread_key=thread_key,
    )  # fmt: skip
    session.add(conversation)
    await session.flush()
    record_opened(session, conversation)
    return conversation


async def mark_delivered(
    session: AsyncSession, message: Message, *, status: str, remote_id: str | None
) -> None:
    """Record a successful send (with the provider's id of the message); earlier inbound
    messages of the conversation are answered, and status notices that came first apply."""
    # Before any row is written (delivery.settle_pending needs them, and does not lock again).
    locked = {(message.inbox_id, remote_id)} if remote_id else set()
    await repository.lock_provider_ids(session, locked)
    if delivery.moves_forward(message.delivery_status, status):
        message.delivery_status = status
        message.delivery_error = None
    message.sent_at = message.sent_at or utcnow()
    if remote_id:
        message.provider_message_id = remote_id[:300]
        message.meta = {**message.meta, "remote_id": remote_id}
    answered = await repository.mark_answered(
        session, conversation_id=message.conversation_id, before_message_id=message.id
    )
    conversation = await repository.get_conversation(session, message.conversation_id)
    assert conversation is not None
    record_message(session, message, conversation, "message.updated", answered=answered)
    await delivery.settle_pending(session, [message], locked=locked)


async def mark_delivered_many(
    session: AsyncSession,
    sent: Sequence[tuple[Message, str, str | None]],
    conversations: Mapping[int, Conversation],
) -> None:
    """`mark_delivered` for a delivery wave (message, status, the provider's id) in few
    statements: the messages are the batch's own, loaded before the send and outside this
    session, with their stored delivery state copied in (`repository.delivery_states`); they
    are written in one executemany, the answered inbound messages of all their conversations
    in one UPDATE, the status notices that came first in one lookup."""
    if not sent:
        return
    # Before any row is written (delivery.settle_pending needs them at the end, and does not
    # lock them again).
    locked = {(message.inbox_id, remote_id) for message, _, remote_id in sent if remote_id}
    await repository.lock_provider_ids(session, locked)
    now = utcnow()
    bounds: dict[int, int] = {}
    for message, status, remote_id in sent:
        if delivery.moves_forward(message.delivery_status, status):
            message.delivery_status = status
            message.delivery_error = None
        message.sent_at = message.sent_at or now
        if remote_id:
            message.provider_message_id = remote_id[:300]
            message.meta = {**message.meta, "remote_id": remote_id}
        bounds[message.conversation_id] = max(bounds.get(message.conversation_id, 0), message.id)
    await repository.save_deliveries(session, [message for message, _, _ in sent])
    # Each answered message counts for the first reply of the batch after it.
    replies: dict[int, list[int]] = {}
    for message, _, _ in sent:
        replies.setdefault(message.conversation_id, []).append(message.id)
    answered: dict[int, int] = {}
    for conversation_id, inbound_id in await repository.mark_answered_many(session, bounds):
        ids = sorted(replies[conversation_id])
        first = next(reply_id for reply_id in ids if reply_id > inbound_id)
        answered[first] = answered.get(first, 0) + 1
    for message, _, _ in sent:
        conversation = conversations[message.conversation_id]
        record_message(
            session, message, conversation, "message.updated", answered=answered.get(message.id, 0)
        )
    await delivery.settle_pending(session, [message for message, _, _ in sent], locked=locked)


async def mark_failed(
    session: AsyncSession, message: Message, *, error: str, code: str | None = None
) -> None:
    """A delivery that will not be retried any more: visible, never silently dropped."""
    message.delivery_status = "failed"
    message.delivery_error = delivery.describe_error(code, error)
    message.meta = delivery.with_failure_code(message.meta, code)
    conversation = await repository.get_conversation(session, message.conversation_id)
    assert conversation is not None
    record_message(session, message, conversation, "message.updated")


async def retry_delivery(
    session: AsyncSession, conversation: Conversation, message_id: int
) -> Message:
    """Send a failed reply of the conversation again, as a new delivery job."""
    message = await repository.get_message(session, message_id)
    if message is None or message.conversation_id != conversation.id:
        raise NotFound("message not found")
    if message.direction != "outbound" or message.delivery_status != "failed":
        raise Conflict("only a failed reply can be sent again", code="not_failed")
    retries = int(message.meta.get("retries", 0)) + 1
    message.delivery_status = "queued"
    message.delivery_error = None
    # The bounce and the code belong to the failed try (the events keep them).
    kept = {k: v for k, v in message.meta.items() if k not in ("bounce", delivery.FAILURE_CODE)}
    message.meta = {**kept, "retries": retries}
    await jobs.enqueue(
        session, DELIVER_JOB, {"message_id": message.id}, key=f"deliver:{message.id}:{retries}"
    )
    record_message(session, message, conversation, "message.updated")
    return message


async def get_or_raise(
    session: AsyncSession, conversation_id: int, *, agent: Agent
) -> Conversation:
    """The conversation if the agent may see its inbox, else NotFound."""
    conversation = await repository.get_conversation(session, conversation_id)
    if conversation is None:
        raise NotFound("conversation not found")
    inbox_ids = await visible_inbox_ids(session, agent)
    if inbox_ids is not None and conversation.inbox_id not in inbox_ids:
        raise NotFound("conversation not found")
    return conversation


async def update(
    session: AsyncSession, conversation: Conversation, data: ConversationUpdate, *, by: Agent
) -> Conversation:
    """Change status, priority, assignment, team, subject, language, snooze or tags."""
    changes = data.model_dump(exclude_unset=True)
    if "status" in changes and changes["status"] != conversation.status:
        if changes["status"] == "snoozed" and not data.snoozed_until:
            raise Invalid("snoozing needs snoozed_until", code="invalid_snooze")
        await set_status(session, conversation, changes["status"], by=by.id)
    values: dict[str, Any] = {}
    if data.snoozed_until is not None:
        if data.snoozed_until != conversation.snoozed_until:
            values["snoozed_until"] = [None, data.snoozed_until.isoformat()]
        conversation.snoozed_until = data.snoozed_until
    if "assignee_id" in changes:
        await _check_assignee(session, conversation, changes["assignee_id"])
    team_id = changes.get("team_id")
    if team_id is not None and await auth_repository.get_team(session, team_id) is None:
        raise Invalid(f"team {team_id} does not exist", code="unknown_team")
    for name in ("assignee_id", "priority", "team_id", "subject", "language"):
        if name in changes and changes[name] != getattr(conversation, name):
            values[name] = [getattr(conversation, name), changes[name]]
            setattr(conversation, name, changes[name])
    if data.tags is not None:
        values.update(await _retag(session, conversation, data.tags))
    conversation.updated_at = utcnow()
    await session.flush()
    changed = sorted(changes)
    record(
        session,
        "conversation.updated",
        # `values`: what each field really changed from and to (the activity log reads it).
        {"conversation_id": conversation.id, "changed": changed, "by": by.id, "values": values},
        inbox_id=conversation.inbox_id,
        conversation_id=conversation.id,
        customer_id=conversation.customer_id,
    )
    return conversation


async def _retag(
    session: AsyncSession, conversation: Conversation, names: Sequence[str]
) -> dict[str, Any]:
    before = set(await repository.tag_names(session, conversation.id))
    tags = [
        await repository.get_or_create_tag(session, name.strip()[:100])
        for name in names
        if name.strip()
    ]
    await repository.set_tags(session, conversation.id, [tag.id for tag in tags])
    after = {tag.name for tag in tags}
    if before == after:
        return {}
    return {"tags": {"added": sorted(after - before), "removed": sorted(before - after)}}


async def raise_priority(
    session: AsyncSession, conversation: Conversation, priority: str, *, reason: str
) -> None:
    """A rule (not an agent) sets the priority; `reason` names the rule in the event."""
    values = {"priority": [conversation.priority, priority]}
    conversation.priority = priority
    conversation.updated_at = utcnow()
    record(
        session,
        "conversation.updated",
        {
            "conversation_id": conversation.id,
            "changed": ["priority"],
            "values": values,  # the activity log shows the rule's change like anyone's
            "by": None,
            "rule": reason,
        },
        inbox_id=conversation.inbox_id,
        conversation_id=conversation.id,
        customer_id=conversation.customer_id,
    )


async def _check_assignee(
    session: AsyncSession, conversation: Conversation, agent_id: int | None
) -> None:
    if agent_id is None:
        return
    assignee = await auth_repository.get_agent(session, agent_id)
    if assignee is None or not assignee.active:
        raise Invalid("assignee is not an active agent", code="invalid_assignee")
    inbox_ids = await visible_inbox_ids(session, assignee)
    if inbox_ids is not None and conversation.inbox_id not in inbox_ids:
        raise Invalid("assignee does not serve this inbox", code="invalid_assignee")


async def add_note(
    session: AsyncSession,
    conversation: Conversation,
    *,
    author: Agent,
    text: str,
    attachments: Sequence[Attachment] = (),
) -> Note:
    """An internal note (with the given pending uploads): never sent to the customer."""
    if not text.strip() and not attachments:
        raise Invalid("a note needs text or a file", code="empty_message")
    note = Note(conversation_id=conversation.id, agent_id=author.id, text=redact_cards(text))
    session.add(note)
    await session.flush()
    for attachment in attachments:
        attachment.note_id = note.id
    record(
        session,
        "note.created",
        {
            "note_id": note.id,
            "conversation_id": conversation.id,
            "agent_id": author.id,
            "text": note.text,
        },
        inbox_id=conversation.inbox_id,
        conversation_id=conversation.id,
        customer_id=conversation.customer_id,
    )
    return note


async def wake_snoozed(session: AsyncSession) -> int:
    """Reopen snoozed conversations whose time has come."""
    due = await repository.due_snoozed(session, utcnow())
    for conversation in due:
        await set_status(session, conversation, "open")
    return len(due)

"""The way in: `receive` / `receive_many` store inbound messages exactly once, on their
customer and conversation. Batch-native: a batch costs a fixed number of queries for dedupe,
identities and threading, whatever its size (see conversations/ingest.py)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.conversations import delivery, repository
from frontdesk.conversations.events import record_message
from frontdesk.conversations.models import ACTIVE_STATUSES, Attachment, Conversation, Message
from frontdesk.customers import service as customers
from frontdesk.customers.models import Customer
from frontdesk.customers.service import IdentityRef
from frontdesk.db import assign_ids, utcnow
from frontdesk.inboxes import repository as inboxes_repository
from frontdesk.inboxes.models import Inbox
from frontdesk.inboxes.port import Inbound, adapter_for
from frontdesk.kit.blobs import BlobStore
from frontdesk.kit.errors import FrontdeskError, Invalid, NotFound
from frontdesk.kit.events import record
from frontdesk.kit.pci import redact_cards
from frontdesk.kit.security import sanitize_html
from frontdesk.kit.text import classify_address, raw_address, storable, storable_json

SPOOF_TAG = "possible-spoof"


@dataclass
class Received:
    message: Message
    conversation: Conversation
    duplicate: bool


async def receive(session: AsyncSession, inbound: Inbound, *, blobs: BlobStore) -> Received:
    """Store one inbound message exactly once, on its customer and conversation.
    The caller commits (kit.uow.retrying) and only then acknowledges."""
    [outcome] = await receive_many(session, [inbound], blobs=blobs)
    if isinstance(outcome, FrontdeskError):
        raise outcome
    return outcome


@dataclass
class _Item:
    index: int
    inbound: Inbound
    inbox: Inbox
    ref: IdentityRef
    # Filled in as the batch is processed.
    customer: Customer = field(init=False)
    identity_id: int = field(init=False)
    conversation: Conversation = field(init=False)

    @property
    def plain(self) -> bool:
        """No thread key or references: joins the customer's active conversation."""
        inbound = self.inbound
        return not (
            inbound.thread or inbound.conversation_hints or inbound.references or inbound.spoofed
        )

    @property
    def keyed(self) -> bool:
        """A thread key and no references: joins the newest conversation of that thread."""
        inbound = self.inbound
        return bool(inbound.thread) and not (
            inbound.conversation_hints or inbound.references or inbound.spoofed
        )

    @property
    def customer_key(self) -> tuple[int, int]:
        return (self.inbox.id, self.customer.id)

    @property
    def thread_key(self) -> tuple[int, int, str]:
        return (self.inbox.id, self.customer.id, self.inbound.thread or "")


async def receive_many(
    session: AsyncSession,
    inbounds: list[Inbound],
    *,
    blobs: BlobStore,
    inboxes: Mapping[int, Inbox] | None = None,
) -> list[Received | FrontdeskError]:
    """`receive` for a batch, in order. An item refused before anything is written (unknown
    inbox, invalid address) gets its error in place; the others are stored. The caller commits.
    Duplicates — already stored, or repeated within the batch — answer `duplicate: True`.
    `inboxes`: the batch's inbox rows if the caller read them in this transaction."""
    outcomes: list[Received | FrontdeskError | None] = [None] * len(inbounds)
    if inboxes is None:
        inboxes = await inboxes_repository.get_inboxes(session, {i.inbox_id for i in inbounds})
    items: list[_Item] = []
    for index, inbound in enumerate(inbounds):
        inbox = inboxes.get(inbound.inbox_id)
        try:
            if inbox is None or not inbox.active:
                raise NotFound("inbox not found")
            kind, address = _identity(inbound, adapter_for(inbox.channel).handle_kind)
        except FrontdeskError as exc:
            outcomes[index] = exc
            continue
        _make_storable(inbound)
        items.append(
            _Item(index, inbound, inbox, IdentityRef(kind, address, inbound.name, inbox.id))
        )
    items = await _drop_duplicates(session, items, outcomes)
    resolved = await customers.resolve_many(session, [item.ref for item in items])
    for item, (customer, identity) in zip(items, resolved, strict=True):
        item.customer, item.identity_id = customer, identity.id
    # The batch's moment: a conversation it opens is stored with it (no UPDATE after the
    # INSERT), the others are moved to it below.
    now = utcnow()
    await _thread_all(session, items, now)
    messages = [_new_message(item) for item in items]
    session.add_all(messages)
    await assign_ids(session, Message)
    # Flushing here makes a concurrent duplicate fail now, on the unique (inbox, external_id).
    await session.flush()
    # Durable before the caller commits: one round of fsyncs for the batch's attachments.
    blob_keys = iter(
        await blobs.put_many_async([a.data for item in items for a in item.inbound.attachments])
    )
    for item, message in zip(items, messages, strict=True):
        for attachment in item.inbound.attachments:
            session.add(
                Attachment(
                    message_id=message.id,
                    filename=attachment.filename[:300],
                    content_type=attachment.content_type[:200],
                    size=len(attachment.data),
                    blob_key=next(blob_keys),
                )
            )
        conversation = item.conversation
        if conversation.last_message_at != now or conversation.updated_at != now:
            conversation.last_message_at = conversation.updated_at = now
        for tag in item.inbound.tags:
            await repository.add_tag(session, item.conversation.id, tag)
        record_message(session, message, item.conversation, "message.created")
        outcomes[item.index] = Received(message, item.conversation, duplicate=False)
    await session.flush()
    # Notices (edits, statuses) that arrived before their message land on it now.
    await delivery.settle_pending(session, messages)
    _answer_repeats(inbounds, outcomes)
    return [outcome for outcome in outcomes if outcome is not None]


def _identity(inbound: Inbound, handle_kind: str) -> tuple[str, str]:
    try:
        return classify_address(inbound.address, handle_kind=handle_kind)
    except Invalid:
        if not inbound.raw_address_ok:
            raise
        return raw_address(inbound.address)


def _make_storable(inbound: Inbound) -> None:
    """Replace what a text column cannot hold (NUL, lone surrogates) in everything of the
    message that is stored, and mask card numbers in what a person wrote (PCI: no card
    number is ever stored): the one place every channel's text passes before storage."""
    inbound.external_id = storable(inbound.external_id)
    inbound.text = redact_cards(storable(inbound.text))
    # Cut to their columns' sizes: a 400-character display name is a name, not an error.
    inbound.name = storable(inbound.name)[:300] if inbound.name else inbound.name
    inbound.html = redact_cards(storable(inbound.html)) if inbound.html else inbound.html
    inbound.thread = storable(inbound.thread)[:300] if inbound.thread else inbound.thread
    inbound.subject = (
        redact_cards(storable(inbound.subject))[:500] if inbound.subject else inbound.subject
    )
    inbound.references = [storable(reference) for reference in inbound.references]
    inbound.meta = _redacted_meta(storable_json(inbound.meta))
    for attachment in inbound.attachments:
        attachment.filename = storable(attachment.filename)
        attachment.content_type = storable(attachment.content_type)


def _redacted_meta(value: Any, key: str = "") -> Any:
    """Card numbers masked in the channel's notes on a message (an e-mail's subject, a
    caption), except under keys that name ids (`message_id`, `sid`, `ids`): an id is the
    provider's, never typed by a person, and must stay as the provider will name it."""
    if isinstance(value, str):
        return value if _ID_KEY.search(key) else redact_cards(value)
    if isinstance(value, dict):
        return {k: _redacted_meta(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_redacted_meta(item, key) for item in value]
    return value


_ID_KEY = re.compile(r"(?i)(?:id|ids|sid|key|raw|token)$")


async def _drop_duplicates(
    session: AsyncSession, items: list[_Item], outcomes: list[Received | FrontdeskError | None]
) -> list[_Item]:
    """Answer already-stored messages as duplicates; keep the first of repeats in the batch."""
    stored = await repository.find_messages(
        session, {(item.inbox.id, item.inbound.external_id) for item in items}
    )
    conversations = await repository.get_conversations(
        session, {message.conversation_id for message in stored.values()}
    )
    fresh: list[_Item] = []
    seen: set[tuple[int, str]] = set()
    for item in items:
        key = (item.inbox.id, item.inbound.external_id)
        if key in stored:
            message = stored[key]
            outcomes[item.index] = Received(message, conversations[message.conversation_id], True)
        elif key not in seen:
            seen.add(key)
            fresh.append(item)
    return fresh


def _answer_repeats(
    inbounds: list[Inbound], outcomes: list[Received | FrontdeskError | None]
) -> None:
    first: dict[tuple[int, str], Received] = {}
    for index, inbound in enumerate(inbounds):
        key = (inbound.inbox_id, inbound.external_id)
        outcome = outcomes[index]
        if isinstance(outcome, Received) and key not in first:
            first[key] = outcome
        elif outcome is None and key in first:
            outcomes[index] = Received(first[key].message, first[key].conversation, True)


async def _thread_all(session: AsyncSession, items: list[_Item], now: datetime) -> None:
    """Plain messages join their customer's active conversation on the inbox, messages with
    only a thread key join that thread (one query each for the batch, one insert for what is
    new); messages with references are threaded one by one. Each message finds what the ones
    before it in the batch opened or wrote, as if they had been received one at a time."""
    team_ids: dict[int, list[int]] | None = None  # read once, when a conversation must open

    async def teams_of(inbox_id: int) -> list[int]:
        nonlocal team_ids
        if team_ids is None:
            inbox_ids = {item.inbox.id for item in items}
            team_ids = await inboxes_repository.team_ids_by_inbox(session, inbox_ids)
        return team_ids.get(inbox_id, [])

    active = await repository.find_active_many(
        session, {item.customer_key for item in items if item.plain}
    )
    threads = await repository.find_by_thread_many(
        session, {item.thread_key for item in items if item.keyed}
    )
    # (inbox_id, external_id) → conversation, for references to earlier messages of the batch.
    earlier: dict[tuple[int, str], Conversation] = {}
    opened: list[Conversation] = []
    for item in items:
        if item.plain or item.keyed:
            conversation = (
                active.get(item.customer_key) if item.plain else threads.get(item.thread_key)
            )
            if conversation is None:
                teams = await teams_of(item.inbox.id)
                conversation = _new_conversation(
                    item.inbox, item.customer, item.inbound, teams, now
                )
                session.add(conversation)
                opened.append(conversation)
            elif conversation.status not in ("open", "pending"):
                await set_status(session, conversation, "open")
        else:
            await _flush_opened(session, opened)  # references resolve to conversation ids
            conversation = await _thread(
                session, item.inbox, item.customer, item.inbound, teams_of, earlier, now
            )
        item.conversation = conversation
        earlier[(item.inbox.id, item.inbound.external_id)] = conversation
        _remember(conversation, active, threads)
    await _flush_opened(session, opened)


def _remember(
    conversation: Conversation,
    active: dict[tuple[int, int], Conversation],
    threads: dict[tuple[int, int, str], Conversation],
) -> None:
    """Keep what a query would now find for later messages of the batch: the newest active
    conversation of the customer, and the newest of its thread (a new one has no id yet)."""

    def newer(other: Conversation | None) -> bool:
        if other is None or conversation.id is None:
            return True
        return other.id is not None and conversation.id >= other.id

    customer = (conversation.inbox_id, conversation.customer_id)
    if conversation.status in ACTIVE_STATUSES and newer(active.get(customer)):
        active[customer] = conversation
    if conversation.thread_key:
        thread = (*customer, conversation.thread_key)
        if newer(threads.get(thread)):
            threads[thread] = conversation


async def _flush_opened(session: AsyncSession, opened: list[Conversation]) -> None:
    if opened:
        await assign_ids(session, Conversation)
        await session.flush()
        for conversation in opened:
            record_opened(session, conversation)
        opened.clear()


def _new_message(item: _Item) -> Message:
    inbound = item.inbound
    # The business wrote it from the provider's own tools (no agent of ours): outbound, sent.
    ours = inbound.author_kind != "customer"
    return Message(
        conversation_id=item.conversation.id,
        inbox_id=item.inbox.id,
        customer_id=item.customer.id,
        channel=item.inbox.channel,
        direction="outbound" if ours else "inbound",
        author_kind=inbound.author_kind,
        kind=inbound.kind,
        identity_id=item.identity_id,
        text=inbound.text,
        html=inbound.html if inbound.html_sanitized else sanitize_html(inbound.html),
        external_id=inbound.external_id,
        provider_message_id=inbound.provider_message_id,
        delivery_status="sent" if ours else "received",
        answered=False,
        meta=inbound.meta,
        sent_at=inbound.sent_at,
    )


def _new_conversation(
    inbox: Inbox, customer: Customer, inbound: Inbound, team_ids: list[int], now: datetime
) -> Conversation:
    """Opened at `now` with its first message (stored as it will stay: no UPDATE follows)."""
    return Conversation(
        created_at=now,
        updated_at=now,
        last_message_at=now,
        inbox_id=inbox.id,
        customer_id=customer.id,
        status="open",
        priority="normal",
        team_id=min(team_ids) if team_ids else None,
        subject=inbound.subject,
        thread_key=inbound.thread,
    )


def record_opened(session: AsyncSession, conversation: Conversation) -> None:
    record(
        session,
        "conversation.created",
        {
            "conversation_id": conversation.id,
            "customer_id": conversation.customer_id,
            "status": "open",
        },
        inbox_id=conversation.inbox_id,
        conversation_id=conversation.id,
        customer_id=conversation.customer_id,
    )


async def _thread(
    session: AsyncSession,
    inbox: Inbox,
    customer: Customer,
    inbound: Inbound,
    teams_of: Callable[[int], Awaitable[list[int]]],
    earlier: dict[tuple[int, str], Conversation],
    now: datetime,
) -> Conversation:
    foreign: list[int] = []
    if inbound.conversation_hints or inbound.references:
        found, foreign = await _referenced(session, inbox, customer, inbound, earlier)
        if found is not None and inbound.spoofed:
            foreign = [found.id]  # the customer's own conversation, which it must not join
        elif found is not None:
            if found.status not in ("open", "pending"):
                await set_status(session, found, "open")
            return found
    flagged = bool(foreign) or inbound.spoofed
    if flagged:
        # Someone wrote into another customer's conversation (a forwarded token, a forged
        # In-Reply-To), or under a sender address the channel found forged: never join an
        # existing conversation; open a new one and flag it for the agent.
        spoof: dict[str, object] = {"conversation_ids": foreign}
        if inbound.spoofed:
            spoof["sender_forged"] = True
        inbound.meta = {**inbound.meta, "possible_spoof": spoof}
        found = None
    elif inbound.thread:
        found = await repository.find_by_thread(
            session, inbox_id=inbox.id, customer_id=customer.id, thread_key=inbound.thread
        )
    else:
        found = await repository.find_active(session, inbox_id=inbox.id, customer_id=customer.id)
    if found is not None:
        if found.status not in ("open", "pending"):
            await set_status(session, found, "open")
        return found
    conversation = _new_conversation(inbox, customer, inbound, await teams_of(inbox.id), now)
    session.add(conversation)
    await session.flush()
    record_opened(session, conversation)
    if flagged:
        tag = await repository.get_or_create_tag(session, SPOOF_TAG)
        await repository.set_tags(session, conversation.id, [tag.id])
        record(
            session,
            "conversation.flagged",
            {"conversation_id": conversation.id, "flag": "possible_spoof", "referenced": foreign},
            inbox_id=inbox.id,
            conversation_id=conversation.id,
            customer_id=customer.id,
        )
    return conversation


async def _referenced(
    session: AsyncSession,
    inbox: Inbox,
    customer: Customer,
    inbound: Inbound,
    earlier: dict[tuple[int, str], Conversation],
) -> tuple[Conversation | None, list[int]]:
    """The first hinted conversation of this inbox whose customer is the sender, and the ids
    of hinted conversations that belong to someone else. References name stored messages
    or earlier messages of the batch."""
    references = inbound.references[:100]
    stored = await repository.conversation_ids_by_external_id(session, inbox.id, references)
    for reference in references:
        if (inbox.id, reference) in earlier:
            stored[reference] = earlier[(inbox.id, reference)].id
    candidates = [
        *inbound.conversation_hints,
        *(stored[reference] for reference in references if reference in stored),
    ]
    foreign: list[int] = []
    for conversation_id in dict.fromkeys(candidates):
        conversation = await repository.get_conversation(session, conversation_id)
        if conversation is None or conversation.inbox_id != inbox.id:
            continue
        if conversation.customer_id == customer.id:
            return conversation, []
        foreign.append(conversation.id)
    return None, foreign


async def set_status(
    session: AsyncSession, conversation: Conversation, status: str, *, by: int | None = None
) -> None:
    """Move the conversation to `status`; `by` is the agent who did it (None: the system, e.g.
    a customer's message reopening it or a snooze running out)."""
    previous = conversation.status
    conversation.status = status
    if status != "snoozed":
        conversation.snoozed_until = None
    conversation.updated_at = utcnow()
    if status in CLOSED_STATUSES and previous not in CLOSED_STATUSES:
        stamp_lifecycle(conversation, "resolved_at", conversation.updated_at)
    elif previous in CLOSED_STATUSES and status not in CLOSED_STATUSES:
        stamp_lifecycle(conversation, "reopened_at", conversation.updated_at)
    record(
        session,
        "conversation.status_changed",
        {"conversation_id": conversation.id, "from": previous, "to": status, "by": by},
        inbox_id=conversation.inbox_id,
        conversation_id=conversation.id,
        customer_id=conversation.customer_id,
    )


CLOSED_STATUSES = ("resolved", "closed")
# The first offer, acceptance and agent reply are kept; resolved and reopened keep the latest.
FIRST_ONLY = ("offered_at", "accepted_at", "first_response_at")
LATEST = ("resolved_at", "reopened_at")


def stamp_lifecycle(conversation: Conversation, name: str, at: datetime) -> None:
    """Record a lifecycle instant for metrics (offers and acceptances come from sla.tasks)."""
    if name not in FIRST_ONLY + LATEST:
        raise ValueError(name)
    current = getattr(conversation, name)
    if current is None or (name in LATEST and at > current):
        setattr(conversation, name, at)

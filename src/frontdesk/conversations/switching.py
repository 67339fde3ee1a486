"""Replying on another of the customer's channels ("reply on WhatsApp instead", ADR 0007).

The reply never leaves its channel's rules: it lands in a conversation of the customer on an
inbox of the chosen channel (their active one there, or one the business opens), so threading,
provider statuses and the reply window work as for any reply there. This module picks that
inbox, identity and conversation and says why it cannot (422: the request's choice of channel
is what cannot be honoured); `service.reply` then replies there as usual."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.auth.models import Agent
from frontdesk.conversations import repository, window
from frontdesk.conversations.models import Conversation, Message
from frontdesk.conversations.receiving import record_opened, set_status
from frontdesk.conversations.schemas import ReplyCreate
from frontdesk.customers import repository as customers_repository
from frontdesk.customers.models import Identity
from frontdesk.inboxes import repository as inboxes_repository
from frontdesk.inboxes.models import Inbox
from frontdesk.inboxes.port import ChannelAdapter, Refusal, find_adapter
from frontdesk.inboxes.service import visible_inbox_ids
from frontdesk.kit.errors import Invalid
from frontdesk.kit.events import record

# More inboxes than this on one desk is not a choice a person makes from a list.
MAX_INBOXES = 500


@dataclass(frozen=True)
class Target:
    """Where a switched reply goes: the inbox, the customer's identity there, and their
    conversation on it (None: none is active, one is opened when the reply is sent)."""

    inbox: Inbox
    identity: Identity
    conversation: Conversation | None


@dataclass(frozen=True)
class Reach:
    """One inbox the customer might be answered on, as it stands now (for the desktop)."""

    inbox: Inbox
    identity: Identity | None
    window: window.ReplyWindow | None
    refusal: Refusal | None
    beyond_window: bool  # the channel still allows a reply past the window (a message tag)

    @property
    def state(self) -> str:
        """no_identity | opted_out (or the channel's refusal) | window_closed | open."""
        if self.identity is None:
            return "no_identity"
        if self.refusal is not None:
            return "refused"
        if self.window is not None and not self.window.open and not self.beyond_window:
            return "window_closed"
        return "open"


def switches(inbox: Inbox, data: ReplyCreate) -> bool:
    """The reply names another channel or inbox than its conversation's."""
    return (data.channel is not None and data.channel != inbox.channel) or (
        data.inbox_id is not None and data.inbox_id != inbox.id
    )


def usable(adapter: ChannelAdapter, identity: Identity) -> bool:
    """An identity the channel can send to: its own handle kind, or a phone where the
    channel's addresses are phone numbers (SMS, WhatsApp)."""
    return identity.kind == adapter.handle_kind or (
        identity.kind == "phone" and adapter.capabilities.phone_numbers
    )


async def target(
    session: AsyncSession, source: Conversation, data: ReplyCreate, *, agent: Agent | None
) -> Target:
    """The inbox, identity and conversation a switched reply goes to, once the target
    channel's rules allow it now (422 with the channel's own code if they do not)."""
    inbox = await _inbox(session, data, agent=agent)
    adapter = find_adapter(inbox.channel)
    assert adapter is not None  # _inbox keeps to installed channels
    identity = await _identity(session, source.customer_id, adapter, data.identity_id)
    conversation = await _active(session, inbox, adapter, source.customer_id)
    refused = await _refusal(session, inbox, identity)
    if refused is not None:
        raise Invalid(refused.reason, code=refused.code)
    probe = conversation or _unsaved(inbox, adapter, source.customer_id)
    try:
        await window.check(session, inbox, probe, template=data.template is not None)
    except window.ReplyWindowClosed as exc:
        raise Invalid(exc.message, code=exc.code) from exc
    return Target(inbox, identity, conversation)


async def conversation_for(
    session: AsyncSession, found: Target, *, customer_id: int
) -> Conversation:
    """The target's conversation: the active one (reopened if the channel threads by key and
    it was closed), or a new one the business opens."""
    if found.conversation is not None:
        if found.conversation.status not in ("open", "pending"):
            await set_status(session, found.conversation, "open")
        return found.conversation
    adapter = find_adapter(found.inbox.channel)
    assert adapter is not None
    conversation = _unsaved(found.inbox, adapter, customer_id)
    teams = await inboxes_repository.inbox_team_ids(session, found.inbox.id)
    conversation.team_id = min(teams) if teams else None
    session.add(conversation)
    await session.flush()
    record_opened(session, conversation)
    return conversation


def record_switch(
    session: AsyncSession, source: Conversation, to: Conversation, message: Message, *,
    from_channel: str, by: Agent | None,
) -> None:  # fmt: skip
    """The switch, as an event in both conversations (the desktop shows it on the message)."""
    payload = {
        "from_conversation_id": source.id,
        "to_conversation_id": to.id,
        "from_channel": from_channel,
        "to_channel": message.channel,
        "message_id": message.id,
        "by": by.id if by else None,
    }
    for conversation in (source, to):
        record(
            session,
            "conversation.switched",
            {"conversation_id": conversation.id, **payload},
            inbox_id=conversation.inbox_id,
            conversation_id=conversation.id,
            customer_id=conversation.customer_id,
        )


async def reachable(
    session: AsyncSession, conversation: Conversation, *, agent: Agent
) -> list[Reach]:
    """Every other active inbox the agent serves, with the customer's identity there and
    whether a reply would go now (window, opt-out) — what the desktop's "Reply on" lists."""
    visible = await visible_inbox_ids(session, agent)
    inboxes = await inboxes_repository.list_inboxes(
        session, only=visible, after=None, limit=MAX_INBOXES
    )
    identities = await customers_repository.identities_of(session, conversation.customer_id)
    candidates: list[tuple[Inbox, ChannelAdapter, Identity | None]] = []
    for inbox in inboxes:
        adapter = find_adapter(inbox.channel)
        if adapter is None or not inbox.active or inbox.id == conversation.inbox_id:
            continue
        candidates.append(
            (inbox, adapter, next((i for i in identities if usable(adapter, i)), None))
        )
    # The conversation each reachable inbox would answer in, for all of them at once.
    there = await _active_many(
        session,
        [(inbox, adapter) for inbox, adapter, identity in candidates if identity is not None],
        conversation.customer_id,
    )
    found: list[Reach] = []
    for inbox, adapter, identity in candidates:
        if identity is None:
            found.append(Reach(inbox, None, None, None, beyond_window=False))
            continue
        found.append(
            await _reach(session, inbox, adapter, conversation, identity, there.get(inbox.id))
        )
    return found


async def _reach(
    session: AsyncSession,
    inbox: Inbox,
    adapter: ChannelAdapter,
    conversation: Conversation,
    identity: Identity,
    there: Conversation | None,
) -> Reach:
    probe = there or _unsaved(inbox, adapter, conversation.customer_id)
    current = await window.reply_window(session, probe, inbox)
    beyond = getattr(adapter, "outside_window", None)
    elapsed = current.elapsed
    tagged = beyond is not None and elapsed is not None and beyond(inbox, elapsed) is not None
    refused = await _refusal(session, inbox, identity)
    return Reach(inbox, identity, current if current.applies else None, refused, tagged)


async def _inbox(session: AsyncSession, data: ReplyCreate, *, agent: Agent | None) -> Inbox:
    visible = await visible_inbox_ids(session, agent) if agent is not None else None
    if data.inbox_id is not None:
        inbox = await inboxes_repository.get_inbox(session, data.inbox_id)
        if inbox is None or (visible is not None and inbox.id not in visible):
            raise Invalid(f"inbox {data.inbox_id} not found", code="unknown_inbox")
        if data.channel is not None and data.channel != inbox.channel:
            raise Invalid(
                f"inbox {inbox.id} is on {inbox.channel!r}, not {data.channel!r}",
                code="channel_mismatch",
            )
        if not inbox.active or find_adapter(inbox.channel) is None:
            raise Invalid(f"inbox {inbox.id} cannot send now", code="inbox_inactive")
        return inbox
    candidates = [
        inbox
        for inbox in await inboxes_repository.list_inboxes(
            session, only=visible, after=None, limit=MAX_INBOXES
        )
        if inbox.channel == data.channel and inbox.active
    ]
    if not candidates:
        raise Invalid(f"no inbox of yours sends on {data.channel!r}", code="no_inbox")
    if len(candidates) > 1:
        raise Invalid(
            f"{len(candidates)} inboxes send on {data.channel!r}: say which by inbox_id",
            code="inbox_required",
        )
    return candidates[0]


async def _identity(
    session: AsyncSession, customer_id: int, adapter: ChannelAdapter, identity_id: int | None
) -> Identity:
    if identity_id is not None:
        chosen = await customers_repository.get_identity(session, identity_id)
        if chosen is None or chosen.customer_id != customer_id:
            raise Invalid("identity does not belong to this customer", code="invalid_identity")
        if not usable(adapter, chosen):
            raise Invalid(
                f"a {chosen.kind} address cannot be reached on {adapter.channel}",
                code="invalid_identity",
            )
        return chosen
    for identity in await customers_repository.identities_of(session, customer_id):
        if usable(adapter, identity):
            return identity
    raise Invalid(
        f"the customer has no address on {adapter.channel} (it needs a "
        f"{'phone number' if adapter.capabilities.phone_numbers else adapter.handle_kind + ' id'})",
        code="no_identity",
    )


async def _active(
    session: AsyncSession, inbox: Inbox, adapter: ChannelAdapter, customer_id: int
) -> Conversation | None:
    """The conversation the customer's next message on the inbox would join."""
    thread = getattr(adapter, "direct_thread", None)
    if thread is not None:
        return await repository.find_by_thread(
            session, inbox_id=inbox.id, customer_id=customer_id, thread_key=thread
        )
    return await repository.find_active(session, inbox_id=inbox.id, customer_id=customer_id)


async def _active_many(
    session: AsyncSession, inboxes: Sequence[tuple[Inbox, ChannelAdapter]], customer_id: int
) -> dict[int, Conversation]:
    """`_active` of several inboxes, by inbox id: one statement for those that thread by
    status, one per inbox that threads by a key (Meta's direct messages)."""
    keyed = [(inbox, adapter) for inbox, adapter in inboxes if _thread_of(adapter) is not None]
    plain = {(inbox.id, customer_id) for inbox, adapter in inboxes if _thread_of(adapter) is None}
    active = await repository.find_active_many(session, plain)
    found = {inbox_id: row for (inbox_id, _), row in active.items()}
    for inbox, adapter in keyed:
        there = await _active(session, inbox, adapter, customer_id)
        if there is not None:
            found[inbox.id] = there
    return found


def _thread_of(adapter: ChannelAdapter) -> str | None:
    thread: str | None = getattr(adapter, "direct_thread", None)
    return thread


def _unsaved(inbox: Inbox, adapter: ChannelAdapter, customer_id: int) -> Conversation:
    return Conversation(
        inbox_id=inbox.id, customer_id=customer_id, status="open", priority="normal",
        thread_key=getattr(adapter, "direct_thread", None),
    )  # fmt: skip


async def _refusal(session: AsyncSession, inbox: Inbox, identity: Identity) -> Refusal | None:
    hook = getattr(find_adapter(inbox.channel), "send_refusal", None)
    if hook is None:
        return None
    refused: Refusal | None = await hook(session, inbox, identity.address)
    return refused

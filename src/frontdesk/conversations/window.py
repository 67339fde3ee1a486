"""The reply window: channels whose `Capabilities.reply_window` is set (WhatsApp: 24 hours;
Messenger and Instagram too) take free-form replies only that long after the customer's last
message on the inbox. Past it the channel decides (`outside_window` on its adapter): a message
tag that extends it (Messenger's HUMAN_AGENT, 7 days), or a refusal the agent sees as a clear
409; an approved template (inboxes.templates) may always be sent where the channel has them.
A channel may exempt a conversation (`window_applies(thread_key)`: public comment threads)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.conversations import repository
from frontdesk.conversations.models import Conversation
from frontdesk.db import utcnow
from frontdesk.inboxes.models import Inbox
from frontdesk.inboxes.port import adapter_for
from frontdesk.kit.errors import Conflict


@dataclass(frozen=True)
class ReplyWindow:
    # None: the channel (or this conversation) has no window: free-form replies always go.
    length: timedelta | None
    # When the window closes (closed) — None with a length means the customer never wrote.
    closes_at: datetime | None
    now: datetime

    @property
    def applies(self) -> bool:
        return self.length is not None

    @property
    def open(self) -> bool:
        if self.length is None:
            return True
        return self.closes_at is not None and self.now < self.closes_at

    @property
    def seconds_left(self) -> int | None:
        if self.length is None:
            return None
        if self.closes_at is None:
            return 0
        return max(0, int((self.closes_at - self.now).total_seconds()))

    @property
    def elapsed(self) -> timedelta | None:
        """Time since the customer's last message (None: no window, or they never wrote)."""
        if self.length is None or self.closes_at is None:
            return None
        return self.now - (self.closes_at - self.length)


class ReplyWindowClosed(Conflict):
    code = "reply_window_closed"


async def reply_window(
    session: AsyncSession, conversation: Conversation, inbox: Inbox
) -> ReplyWindow:
    """The window of free-form replies in this conversation, now."""
    adapter = adapter_for(inbox.channel)
    length = adapter.capabilities.reply_window
    now = utcnow()
    applies = getattr(adapter, "window_applies", None)
    if length is None or (applies is not None and not applies(conversation.thread_key)):
        return ReplyWindow(None, None, now)
    last = await repository.last_inbound_from(session, inbox.id, conversation.customer_id)
    if last is None:
        return ReplyWindow(length, None, now)
    # The customer's own send time when the provider gave one (never later than its arrival):
    # the provider counts the window from there.
    wrote = min(last.sent_at or last.created_at, last.created_at)
    return ReplyWindow(length, wrote + length, now)


async def check(
    session: AsyncSession, inbox: Inbox, conversation: Conversation, *, template: bool = False
) -> dict[str, Any]:
    """The message meta a reply is sent with ({} inside the window, or for an approved
    template); raises ReplyWindowClosed when the channel refuses it, saying when it closed."""
    window = await reply_window(session, conversation, inbox)
    if window.open or template:
        return {}
    beyond = getattr(adapter_for(inbox.channel), "outside_window", None)
    elapsed = window.elapsed
    allowed: dict[str, Any] | None = (
        beyond(inbox, elapsed) if beyond is not None and elapsed is not None else None
    )
    if allowed is not None:
        return allowed
    assert window.length is not None
    hours = int(window.length.total_seconds() // 3600)
    since = (
        f"closed at {window.closes_at.isoformat()}"
        if window.closes_at is not None
        else "is not open (the customer has not written on this inbox)"
    )
    templates = (
        "only approved templates may be sent until the customer writes again"
        if adapter_for(inbox.channel).capabilities.templates
        else "no reply may be sent until the customer writes again"
    )
    raise ReplyWindowClosed(f"the {hours}-hour reply window {since}; {templates}")

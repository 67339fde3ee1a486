"""The reply window: channels whose `Capabilities.reply_window` is set (WhatsApp: 24 hours;
Messenger too) take free-form replies only that long after the customer's last message on
the inbox; after that only the inbox's approved templates may be sent (inboxes.templates)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.conversations import repository
from frontdesk.conversations.models import Conversation
from frontdesk.db import utcnow
from frontdesk.inboxes.models import Inbox
from frontdesk.inboxes.port import adapter_for
from frontdesk.kit.errors import Conflict


@dataclass(frozen=True)
class ReplyWindow:
    # None: the channel has no window (free-form replies are always allowed).
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


class ReplyWindowClosed(Conflict):
    code = "reply_window_closed"


async def reply_window(
    session: AsyncSession, conversation: Conversation, inbox: Inbox
) -> ReplyWindow:
    """The window of free-form replies in this conversation, now."""
    length = adapter_for(inbox.channel).capabilities.reply_window
    now = utcnow()
    if length is None:
        return ReplyWindow(None, None, now)
    last = await repository.last_inbound_from(session, inbox.id, conversation.customer_id)
    if last is None:
        return ReplyWindow(length, None, now)
    # The customer's own send time when the provider gave one (never later than its arrival):
    # the provider counts the window from there.
    wrote = min(last.sent_at or last.created_at, last.created_at)
    return ReplyWindow(length, wrote + length, now)


def check_open(window: ReplyWindow) -> None:
    """Refuse a free-form reply outside the window, saying when it closed."""
    if window.open:
        return
    assert window.length is not None
    hours = int(window.length.total_seconds() // 3600)
    since = (
        f"closed at {window.closes_at.isoformat()}"
        if window.closes_at is not None
        else "is not open (the customer has not written on this inbox)"
    )
    raise ReplyWindowClosed(
        f"the {hours}-hour reply window {since}; only approved templates may be sent until the "
        "customer writes again",
    )

"""The reply window: on channels whose `Capabilities.reply_window` is set (WhatsApp,
Messenger, Instagram), free-form replies are allowed only that long after the customer's
last message. Past it the channel decides (`outside_window`): a message tag that extends it
(Messenger's HUMAN_AGENT, 7 days), or a refusal that the agent sees as a clear 409."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.conversations import repository
from frontdesk.conversations.models import Conversation
from frontdesk.db import utcnow
from frontdesk.inboxes.models import Inbox
from frontdesk.inboxes.port import adapter_for
from frontdesk.kit.errors import Conflict


async def elapsed(session: AsyncSession, conversation: Conversation) -> timedelta | None:
    """Time since the customer's last message in the conversation (None: they never wrote)."""
    last = await repository.last_inbound(session, conversation.id)
    if last is None:
        return None
    return utcnow() - (last.sent_at or last.created_at)


async def check(session: AsyncSession, inbox: Inbox, conversation: Conversation) -> dict[str, Any]:
    """The message meta a reply is sent with ({} inside the window); raises Conflict
    `reply_window_closed` when the channel refuses it."""
    adapter = adapter_for(inbox.channel)
    window = adapter.capabilities.reply_window
    if window is None:
        return {}
    applies = getattr(adapter, "window_applies", None)
    if applies is not None and not applies(conversation.thread_key):
        return {}
    since = await elapsed(session, conversation)
    if since is not None and since <= window:
        return {}
    beyond = getattr(adapter, "outside_window", None)
    allowed: dict[str, Any] | None = (
        beyond(inbox, since) if beyond is not None and since is not None else None
    )
    if allowed is None:
        hours = int(window.total_seconds() // 3600)
        raise Conflict(
            f"the customer's last message is more than {hours} hours old (or there is none): "
            f"{inbox.channel} does not allow a reply now",
            code="reply_window_closed",
        )
    return allowed

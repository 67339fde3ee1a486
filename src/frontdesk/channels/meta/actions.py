"""What an agent does with a public comment (a conversation tagged `public`): reply in
public, hide or show the comment, or answer its author privately. The private reply opens
(or joins) the author's private conversation; the comment and that message name each other
in their meta (`public.private_thread` ↔ `private_reply`)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.auth.models import Agent
from frontdesk.channels.meta.adapter import CHANNELS, COMMENT_THREAD, DM_THREAD
from frontdesk.channels.meta.client import GraphApi, GraphError
from frontdesk.channels.meta.schemas import PublicAction, PublicActionRead
from frontdesk.config import Settings
from frontdesk.conversations import repository as conversations_repository
from frontdesk.conversations import service as conversations
from frontdesk.conversations.events import record_message
from frontdesk.conversations.models import Conversation, Message
from frontdesk.conversations.schemas import ReplyCreate
from frontdesk.db import utcnow
from frontdesk.inboxes import repository as inboxes_repository
from frontdesk.inboxes.models import Inbox
from frontdesk.inboxes.secrets import opened_inbox
from frontdesk.kit.errors import Conflict, FrontdeskError, Invalid, NotFound

# Meta allows one private reply per comment, within 7 days of it.
PRIVATE_REPLY_DAYS = 7


class ProviderRefused(FrontdeskError):
    status = 502
    code = "provider_refused"


async def act(
    session: AsyncSession, conversation_id: int, data: PublicAction, *, agent: Agent, app: Settings
) -> PublicActionRead:
    """Do one public action on the conversation's comment (the newest, or `comment_id`)."""
    conversation = await conversations.get_or_raise(session, conversation_id, agent=agent)
    inbox = await inboxes_repository.get_inbox(session, conversation.inbox_id)
    if (
        inbox is None
        or inbox.channel not in CHANNELS
        or not (conversation.thread_key or "").startswith(COMMENT_THREAD)
    ):
        raise Conflict("this is not a public comment conversation", code="not_public")
    comment = await _comment(session, conversation, data.comment_id)
    comment_id = str(comment.meta["public"]["comment_id"])
    if data.action in ("hide", "unhide"):
        return await _hide(session, inbox, conversation, comment, data.action == "hide", app)
    if not data.text.strip():
        raise Invalid("a reply needs text", code="empty_message")
    if data.action == "reply_publicly":
        message = await conversations.reply(
            session, conversation, author=agent, data=ReplyCreate(text=data.text),
            meta={"comment_id": comment_id},
        )  # fmt: skip
        return PublicActionRead(action=data.action, comment_id=comment_id, message_id=message.id)
    return await _reply_privately(session, conversation, comment, data.text, agent=agent)


async def _comment(
    session: AsyncSession, conversation: Conversation, comment_id: str | None
) -> Message:
    messages = await conversations_repository.inbound_of(session, conversation.id)
    comments = [m for m in messages if isinstance(m.meta.get("public"), dict)]
    if comment_id is not None:
        comments = [m for m in comments if m.meta["public"].get("comment_id") == comment_id]
    if not comments:
        raise NotFound("no such comment in this conversation", code="unknown_comment")
    return comments[-1]


async def _hide(
    session: AsyncSession,
    inbox: Inbox,
    conversation: Conversation,
    comment: Message,
    hidden: bool,
    app: Settings,
) -> PublicActionRead:
    comment_id = str(comment.meta["public"]["comment_id"])
    api = GraphApi(opened_inbox(inbox, app).settings, app)
    try:
        await api.post(comment_id, query={"is_hidden": _bool(hidden)})
    except GraphError as exc:
        raise ProviderRefused(f"Meta refused: {exc}") from exc
    _link(comment, hidden=hidden)
    record_message(session, comment, conversation, "message.updated")
    return PublicActionRead(
        action="hide" if hidden else "unhide", comment_id=comment_id, hidden=hidden
    )


async def _reply_privately(
    session: AsyncSession, public: Conversation, comment: Message, text: str, *, agent: Agent
) -> PublicActionRead:
    comment_id = str(comment.meta["public"]["comment_id"])
    if comment.meta["public"].get("private_thread"):
        raise Conflict("this comment was already answered privately", code="already_replied")
    written = comment.sent_at or comment.created_at
    if utcnow() - written > timedelta(days=PRIVATE_REPLY_DAYS):
        raise Conflict(
            f"a private reply is allowed only within {PRIVATE_REPLY_DAYS} days of the comment",
            code="reply_window_closed",
        )
    private = await conversations.open_thread(
        session, inbox_id=public.inbox_id, customer_id=public.customer_id, thread_key=DM_THREAD
    )
    message = await conversations.reply(
        session, private, author=agent,
        data=ReplyCreate(text=text, identity_id=comment.identity_id),
        meta={"private_reply": {"comment_id": comment_id, "conversation_id": public.id,
                                "message_id": comment.id}},
        check_window=False,
    )  # fmt: skip
    _link(comment, private_thread={"conversation_id": private.id, "message_id": message.id})
    record_message(session, comment, public, "message.updated")
    return PublicActionRead(
        action="reply_privately", comment_id=comment_id, message_id=message.id,
        conversation_id=private.id,
    )  # fmt: skip


def _link(comment: Message, **changes: Any) -> None:
    comment.meta = {**comment.meta, "public": {**comment.meta["public"], **changes}}


def _bool(value: bool) -> str:
    return "true" if value else "false"

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
    false,
)
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.orm import Mapped, mapped_column

from frontdesk.db import Base, UTCDateTime, utcnow
from frontdesk.kit.text import search_tokens

STATUSES = ("open", "pending", "snoozed", "resolved", "closed")
ACTIVE_STATUSES = ("open", "pending", "snoozed")
PRIORITIES = ("low", "normal", "high", "urgent")
DELIVERY_STATUSES = ("received", "queued", "sent", "delivered", "read", "failed")
# What a message is: an utterance ("message") or a phone call ("call", its state in meta["call"]).
MESSAGE_KINDS = ("message", "call")


class Conversation(Base):
    __tablename__ = "conversations"
    __table_args__ = (
        # Uses index: threading looks up a customer's active conversation on an inbox.
        Index("ix_conversations_customer_inbox", "customer_id", "inbox_id", "status"),
        # Uses index: the staffing planner counts new conversations in a window by start time.
        Index("ix_conversations_created_inbox", "created_at", "inbox_id"),
        # Uses index: the desktop's lists, newest activity first within a status.
        Index("ix_conversations_status_sort", "status", "sort_at", "id"),
        # Uses index: the four view counts, read from the index alone (desk/repository.py).
        Index("ix_conversations_status_views", "status", "inbox_id", "assignee_id", "team_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    inbox_id: Mapped[int] = mapped_column(ForeignKey("inboxes.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    status: Mapped[str] = mapped_column(String(20), default="open", index=True)
    priority: Mapped[str] = mapped_column(String(20), default="normal")
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    assignee_id: Mapped[int | None] = mapped_column(
        ForeignKey("agents.id", ondelete="SET NULL"), index=True
    )
    subject: Mapped[str | None] = mapped_column(String(500))
    language: Mapped[str | None] = mapped_column(String(10))
    thread_key: Mapped[str | None] = mapped_column(String(300), index=True)
    snoozed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_message_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Lifecycle, kept for metrics (stamped by sla.tasks from the event log; created_at above).
    # offered/accepted: the first offer and acceptance of its routing task; first_response:
    # the first agent reply; resolved/reopened: the latest.
    offered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reopened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # coalesce(last_message_at, created_at), stored so an index can serve the list's order;
    # kept in step by the attribute events below (and by the column default on inserts).
    sort_at: Mapped[datetime] = mapped_column(UTCDateTime, default=lambda ctx: _sort_default(ctx))
    # The customer's mood lately (sentiment/service.py): a recency-weighted mean of the
    # scores of their last inbound messages, -1 to +1; NULL until one was analysed.
    sentiment_trend: Mapped[float | None] = mapped_column(Float)
    frustrated: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


def _sort_default(context: DefaultExecutionContext) -> datetime:
    row = context.get_current_parameters()
    found = row.get("last_message_at") or row.get("created_at")
    return found if isinstance(found, datetime) else utcnow()


@event.listens_for(Conversation.last_message_at, "set")
def _last_message_set(target: Conversation, value: datetime | None, *_: object) -> None:
    # __dict__, not the attribute: an event must never trigger a load.
    target.sort_at = value or target.__dict__.get("created_at") or utcnow()


@event.listens_for(Conversation.created_at, "set")
def _created_set(target: Conversation, value: datetime | None, *_: object) -> None:
    if value is not None and target.__dict__.get("last_message_at") is None:
        target.sort_at = value


def message_search_key(text: str | None) -> str:
    """What the full-text index holds of a message: its words, folded (kit.text.search_key),
    one space apart, so both databases' tokenisers split them exactly as search_tokens does."""
    return " ".join(search_tokens(text or ""))


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        # The dedupe guarantee: one message per (inbox, external id), whatever the concurrency.
        UniqueConstraint("inbox_id", "external_id"),
        Index("ix_messages_conversation", "conversation_id", "id"),
        # Uses index: a provider's status or edit notice finds its message by this pair.
        Index("ix_messages_provider", "inbox_id", "provider_message_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    inbox_id: Mapped[int] = mapped_column(ForeignKey("inboxes.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    direction: Mapped[str] = mapped_column(String(10))  # inbound | outbound
    author_kind: Mapped[str] = mapped_column(String(10))  # customer | agent | bot | system
    kind: Mapped[str] = mapped_column(String(10), default="message", server_default="message")
    author_agent_id: Mapped[int | None] = mapped_column(
        ForeignKey("agents.id", ondelete="SET NULL")
    )
    identity_id: Mapped[int | None] = mapped_column(
        ForeignKey("identities.id", ondelete="SET NULL")
    )
    text: Mapped[str] = mapped_column(Text, default="")
    # message_search_key(text), under the full-text index (migration 0036); set with the text.
    search_key: Mapped[str | None] = mapped_column(
        Text, default=lambda ctx: message_search_key(ctx.get_current_parameters().get("text"))
    )
    html: Mapped[str | None] = mapped_column(Text)
    external_id: Mapped[str | None] = mapped_column(String(300))
    # The provider's id of the message, the one its status and edit notices name (outbound:
    # what its send call answered; inbound: what the channel parsed). Per inbox.
    provider_message_id: Mapped[str | None] = mapped_column(String(300))
    # Only forwards (conversations/delivery.py): queued < sent < delivered < read; failed.
    delivery_status: Mapped[str] = mapped_column(String(20))
    delivery_error: Mapped[str | None] = mapped_column(Text)
    # Inbound only: false until a reply reaches the customer after it.
    answered: Mapped[bool] = mapped_column(Boolean, default=False)
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Inbound from a customer, once the sentiment job ran: negative | neutral | positive, and
    # P(positive) - P(negative). NULL before, for other messages, and for text without words.
    sentiment: Mapped[str | None] = mapped_column(String(10))
    sentiment_score: Mapped[float | None] = mapped_column(Float)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


@event.listens_for(Message.text, "set")
def _text_set(target: Message, value: str | None, *_: object) -> None:
    # Every change of a message's text (an edit too) re-keys it in the same flush.
    target.search_key = message_search_key(value)


class Note(Base):
    __tablename__ = "notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Tag(Base):
    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)


class ConversationTag(Base):
    __tablename__ = "conversation_tags"

    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True
    )
    tag_id: Mapped[int] = mapped_column(ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True)


class Attachment(Base):
    """A file on a message or an internal note. An agent's upload waits with neither (bound
    to its conversation and uploader) until a reply or note takes it."""

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), index=True
    )
    note_id: Mapped[int | None] = mapped_column(
        ForeignKey("notes.id", ondelete="CASCADE"), index=True
    )
    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE")
    )
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    filename: Mapped[str] = mapped_column(String(300))
    content_type: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(Integer)
    # Content-addressed: several attachments may share one blob (blobgc asks by key).
    blob_key: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=utcnow)


class PendingProviderUpdate(Base):
    """A provider's notice (a delivery status, an edit) about a message we do not know by
    that provider id yet: the send has not returned, or the original has not arrived. It is
    applied, in arrival order, when a message gets that id (conversations/delivery.py)."""

    __tablename__ = "pending_provider_updates"
    __table_args__ = (Index("ix_pending_provider_updates_key", "inbox_id", "provider_message_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    inbox_id: Mapped[int] = mapped_column(ForeignKey("inboxes.id", ondelete="CASCADE"))
    provider_message_id: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(20))  # status | edit
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

"""The bot's tables: which inboxes it serves, and its dialogue with each conversation (the
hand-off context the agent reads is part of that dialogue)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from frontdesk.db import Base, UTCDateTime, utcnow

# active: the bot answers the customer; handed_off: it passed the conversation to a person
# (the context says why); stopped: an agent answered first. Only `active` answers.
BOT_STATUSES = ("active", "handed_off", "stopped")


class BotInbox(Base):
    """The bot on one inbox (no row: no bot)."""

    __tablename__ = "bot_inboxes"

    inbox_id: Mapped[int] = mapped_column(
        ForeignKey("inboxes.id", ondelete="CASCADE"), primary_key=True
    )
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # None: the knowledge base's own out-of-scope threshold (knowledge.search.default_threshold).
    threshold: Mapped[float | None] = mapped_column(Float)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class BotConversation(Base):
    """The bot's dialogue with one conversation."""

    __tablename__ = "bot_conversations"

    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True
    )
    status: Mapped[str] = mapped_column(String(20), default="active")
    language: Mapped[str] = mapped_column(String(35), default="en")
    failures: Mapped[int] = mapped_column(Integer, default=0)
    # The article whose "did that help?" is open (None: no question pending).
    awaiting_article_id: Mapped[int | None] = mapped_column(Integer)
    # The newest customer message the bot has dealt with: a job run again for it (or for an
    # older one) does nothing, so a retry never answers twice.
    last_message_id: Mapped[int] = mapped_column(Integer, default=0)
    # {"reason", "intents": [...], "articles": [...], "words": [...]} (schemas.HandoffRead).
    context: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    handed_off_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

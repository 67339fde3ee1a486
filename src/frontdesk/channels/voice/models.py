"""The voice channel's own tables: where each call is in the IVR and the queue (the call's
public state lives on its message, meta["call"]), and webhooks refused as malformed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from frontdesk.db import Base, UTCDateTime, utcnow

# ivr → queued ⇄ connecting → answered → ended; callback (hung up keeping the place),
# voicemail, missed are final for the caller.
STATES = (
    "ivr", "queued", "callback", "connecting", "answered", "voicemail", "missed", "ended",
    "dialing",
)  # fmt: skip
# States that hold a place in the queue (the callback keeps the caller's place).
IN_QUEUE = ("queued", "callback", "connecting")


class VoiceCall(Base):
    __tablename__ = "voice_calls"
    __table_args__ = (
        # The provider's CallSid names one call of the account: stored once per inbox.
        UniqueConstraint("inbox_id", "call_sid"),
        # Uses index: the queue position counts earlier places of the same queue.
        Index("ix_voice_calls_queue", "inbox_id", "queue_id", "state", "enqueued_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    inbox_id: Mapped[int] = mapped_column(ForeignKey("inboxes.id", ondelete="CASCADE"))
    call_sid: Mapped[str] = mapped_column(String(64))
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    conversation_id: Mapped[int] = mapped_column(Integer)
    direction: Mapped[str] = mapped_column(String(10))
    state: Mapped[str] = mapped_column(String(20), default="ivr")
    language: Mapped[str | None] = mapped_column(String(5))
    # The routing queue the caller chose (0: the inbox's one queue).
    queue_id: Mapped[int] = mapped_column(Integer, default=0)
    # The caller's place: set when they join the queue, kept when they ask for a callback.
    enqueued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    agent_id: Mapped[int | None] = mapped_column(Integer)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    recording_sid: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class VoiceQuarantine(Base):
    """A signed webhook we could not read (a field missing or out of range): kept for an
    operator, answered 422 so the provider does not retry it for ever."""

    __tablename__ = "voice_quarantine"

    id: Mapped[int] = mapped_column(primary_key=True)
    inbox_id: Mapped[int] = mapped_column(ForeignKey("inboxes.id", ondelete="CASCADE"), index=True)
    route: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(Text)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

"""Surveys: each inbox's survey settings, and one survey per conversation asked (its answer
on the same row: one response per survey)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from frontdesk.db import Base, UTCDateTime, utcnow

KINDS = ("csat", "ces", "nps")
# The answer scale of each kind, lowest first.
SCALES = {"csat": (1, 5), "ces": (1, 7), "nps": (0, 10)}
# Scores at or under these are "low" unless the inbox sets its own threshold: CSAT 1-2,
# CES 1-3 ("difficult"), NPS 0-6 (detractors).
LOW_SCORES = {"csat": 2, "ces": 3, "nps": 6}
TRIGGERS = ("resolve", "delay")
STATUSES = ("sent", "answered", "failed")


class SurveyConfig(Base):
    """How an inbox asks: the kind, when (on resolve or N hours after), to which share of its
    resolved conversations, and how often one customer may be asked."""

    __tablename__ = "survey_configs"

    inbox_id: Mapped[int] = mapped_column(
        ForeignKey("inboxes.id", ondelete="CASCADE"), primary_key=True
    )
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    kind: Mapped[str] = mapped_column(String(10), default="csat")
    trigger: Mapped[str] = mapped_column(String(10), default="resolve")
    delay_hours: Mapped[int] = mapped_column(Integer, default=0)
    sample_percent: Mapped[int] = mapped_column(Integer, default=100)
    dedupe_days: Mapped[int] = mapped_column(Integer, default=30)
    expiry_hours: Mapped[int] = mapped_column(Integer, default=168)
    # None: the kind's default (LOW_SCORES).
    low_threshold: Mapped[int | None] = mapped_column(Integer)
    # Who follows up a low score; None: the first active admin.
    alert_agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Survey(Base):
    __tablename__ = "surveys"
    __table_args__ = (
        # Uses index: the dedupe window asks for a customer's newest survey.
        Index("ix_surveys_customer_sent", "customer_id", "sent_at"),
        # Uses index: the API lists answers newest first, per inbox.
        Index("ix_surveys_inbox_answered", "inbox_id", "answered_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # One survey per conversation, whatever the retries and reopenings.
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), unique=True
    )
    inbox_id: Mapped[int] = mapped_column(ForeignKey("inboxes.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10))
    channel: Mapped[str] = mapped_column(String(20))
    language: Mapped[str] = mapped_column(String(10), default="en")
    status: Mapped[str] = mapped_column(String(10), default="sent", index=True)
    # The outbound message that asked (None when it could not be sent: see `error`).
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))
    error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    score: Mapped[int | None] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    # How it was answered: link | widget | digit | button.
    answered_via: Mapped[str | None] = mapped_column(String(10))
    low: Mapped[bool] = mapped_column(Boolean, default=False)

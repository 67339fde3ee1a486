from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, String
from sqlalchemy.orm import Mapped, mapped_column

from frontdesk.db import Base, UTCDateTime, utcnow

# A conversation is frustrated while its trend is at or below this (an admin may move it).
DEFAULT_FRUSTRATED_BELOW = -0.35


class SentimentRule(Base):
    """The organisation's one sentiment rule (row id 1, made on first save; defaults until
    then): when a conversation becomes frustrated, raise its priority to `raise_to`."""

    __tablename__ = "sentiment_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    raise_priority: Mapped[bool] = mapped_column(Boolean, default=True)
    raise_to: Mapped[str] = mapped_column(String(20), default="high")
    frustrated_below: Mapped[float] = mapped_column(Float, default=DEFAULT_FRUSTRATED_BELOW)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

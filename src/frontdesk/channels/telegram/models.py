"""The Telegram channel's table: where each polling bot's getUpdates stands, and who polls."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from frontdesk.db import Base, UTCDateTime


class TelegramPoll(Base):
    """One bot in polling mode. `next_offset` commits with the updates it confirms, so a
    restart asks again for exactly what was not stored."""

    __tablename__ = "telegram_polls"

    inbox_id: Mapped[int] = mapped_column(
        ForeignKey("inboxes.id", ondelete="CASCADE"), primary_key=True
    )
    # getUpdates' offset: the last stored update_id + 1 (0 = from the oldest Telegram keeps).
    next_offset: Mapped[int] = mapped_column(BigInteger, default=0)
    # The poll lease: only this process, until this time, calls getUpdates for the bot.
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    imported: Mapped[int] = mapped_column(Integer, default=0)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)

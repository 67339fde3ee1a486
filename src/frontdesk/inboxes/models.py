from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from frontdesk.db import Base, UTCDateTime, utcnow


class Inbox(Base):
    """An entry point: an API endpoint, a support address, a phone number, a widget."""

    __tablename__ = "inboxes"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(20), index=True)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Signs inbound webhooks and outbound deliveries; rotated by PATCH {"rotate_secret": true}.
    secret: Mapped[str] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class InboxTeam(Base):
    """Which teams serve an inbox: their agents see its conversations."""

    __tablename__ = "inbox_teams"

    inbox_id: Mapped[int] = mapped_column(
        ForeignKey("inboxes.id", ondelete="CASCADE"), primary_key=True
    )
    team_id: Mapped[int] = mapped_column(
        ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True, index=True
    )

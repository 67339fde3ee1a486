from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, String, Text, UniqueConstraint
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


class InboxTemplate(Base):
    """A message template the provider approved for an inbox (WhatsApp): the only thing such
    a channel may send outside its reply window. `body` holds the text with {{1}}, {{2}}...
    placeholders; `components` the provider's own components (header, buttons), as given."""

    __tablename__ = "inbox_templates"
    __table_args__ = (UniqueConstraint("inbox_id", "name", "language"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    inbox_id: Mapped[int] = mapped_column(ForeignKey("inboxes.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(512))
    language: Mapped[str] = mapped_column(String(20))
    # marketing | utility | authentication (the provider's categories).
    category: Mapped[str] = mapped_column(String(20))
    # approved | pending | rejected | paused: only approved ones may be sent.
    status: Mapped[str] = mapped_column(String(20), default="approved")
    body: Mapped[str] = mapped_column(Text, default="")
    components: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

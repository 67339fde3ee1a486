"""The CTI channel's table: who holds each PBX's AMI connection (one process at a time)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from frontdesk.db import Base, UTCDateTime


class AmiLease(Base):
    """One CTI inbox with an AMI connection. Only the lease holder, until `lease_until`,
    is connected: two connections would store every PBX event twice (harmless, the events
    are idempotent) and pop every call twice (not harmless)."""

    __tablename__ = "cti_ami_leases"

    inbox_id: Mapped[int] = mapped_column(
        ForeignKey("inboxes.id", ondelete="CASCADE"), primary_key=True
    )
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)

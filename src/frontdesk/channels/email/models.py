"""Tables of the e-mail channel: mailbox sync state (with its poll lease), the index of every
Message-ID ever taken in, the quarantine of mail that could not be read, and the addresses
that hard-bounced."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from frontdesk.db import Base, UTCDateTime, utcnow


class Mailbox(Base):
    """One IMAP folder of an inbox: where the incremental sync stands, and who polls it."""

    __tablename__ = "email_mailboxes"
    __table_args__ = (UniqueConstraint("inbox_id", "folder"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    inbox_id: Mapped[int] = mapped_column(ForeignKey("inboxes.id", ondelete="CASCADE"))
    folder: Mapped[str] = mapped_column(String(200))
    # The IMAP pair that makes the sync incremental: UIDs only mean something within one
    # UIDVALIDITY; when the server changes it, last_uid restarts at 0 (the seen-index dedupes).
    uidvalidity: Mapped[int | None] = mapped_column(Integer)
    last_uid: Mapped[int] = mapped_column(Integer, default=0)
    # The poll lease: only the process named here, until this time, talks to the mailbox.
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    # True once the failing alert was raised; cleared (with a recovery event) on the next success.
    alerting: Mapped[bool] = mapped_column(default=False)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    imported: Mapped[int] = mapped_column(Integer, default=0)


class SeenMail(Base):
    """Every mail ever taken in, by inbox and Message-ID: a mail is imported at most once,
    even after its conversation was deleted or the IMAP server changed its UIDVALIDITY."""

    __tablename__ = "email_seen"
    __table_args__ = (UniqueConstraint("inbox_id", "message_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    inbox_id: Mapped[int] = mapped_column(ForeignKey("inboxes.id", ondelete="CASCADE"))
    # sha256 of the normalised Message-ID (or of the raw bytes when there is none).
    message_key: Mapped[str] = mapped_column(String(64))
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("messages.id", ondelete="SET NULL"), index=True
    )
    quarantine_id: Mapped[int | None] = mapped_column(
        ForeignKey("email_quarantine.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Quarantined(Base):
    """A mail we could not read: its raw bytes are kept (blob store) for an admin to look at."""

    __tablename__ = "email_quarantine"

    id: Mapped[int] = mapped_column(primary_key=True)
    inbox_id: Mapped[int | None] = mapped_column(
        ForeignKey("inboxes.id", ondelete="SET NULL"), index=True
    )
    source: Mapped[str] = mapped_column(String(20))  # smtp | imap
    reason: Mapped[str] = mapped_column(String(300))
    blob_key: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Suppression(Base):
    """An address that hard-bounced (5.x.x) a mail we sent: no more mail goes to it, each
    attempt fails with this reason instead. An admin removes the row once it is fixed."""

    __tablename__ = "email_suppressions"

    id: Mapped[int] = mapped_column(primary_key=True)
    address: Mapped[str] = mapped_column(String(320), unique=True)
    status: Mapped[str] = mapped_column(String(20))  # the enhanced status code, e.g. 5.1.1
    reason: Mapped[str] = mapped_column(String(500))
    # The outbound message whose bounce put the address here.
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

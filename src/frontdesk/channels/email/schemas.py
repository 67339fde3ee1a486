"""Settings of an e-mail inbox (validated at the edge) and what the e-mail API returns."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from frontdesk.inboxes.schemas import Security


class SmtpServer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str = Field(min_length=1, max_length=255)
    port: int = Field(ge=1, le=65535)
    username: str | None = None
    password: str | None = None
    security: Security = "tls"
    # Off only for test relays with self-signed certificates.
    verify_tls: bool = True
    timeout_seconds: float = Field(default=30.0, gt=0, le=600)


class ImapServer(SmtpServer):
    folder: str = Field(default="INBOX", min_length=1, max_length=200)
    # Mail stays on the server unless this is set; then it is deleted only after commit.
    delete_after_import: bool = False
    # IDLE when the server offers it; otherwise (or when off) poll every poll_seconds.
    idle: bool = True
    poll_seconds: float = Field(default=60.0, ge=0.05, le=3600)


class EmailSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    address: str = Field(min_length=3, max_length=320)
    imap: ImapServer | None = None
    smtp: SmtpServer | None = None
    # Taking in a mailbox with history: mail is stored (flagged imported) but nothing answers
    # it automatically. Turn it off once the backlog is in.
    import_only: bool = False
    # The authserv-id of the receiving MTA whose Authentication-Results we believe
    # (e.g. "mx.example.com"); unset = no SPF/DKIM/DMARC verdict is trusted.
    trusted_authserv_id: str | None = Field(default=None, max_length=255)
    # Cap on mails sent through the relay per minute for this inbox (providers throttle).
    outbound_per_minute: int = Field(default=60, ge=1, le=100_000)
    # Sign the conversation into the Reply-To (support+c12.<sig>@…); needs plus-addressing.
    reply_token: bool = True


class AuthVerdicts(BaseModel):
    trusted: bool
    authserv_id: str | None = None
    spf: str | None = None
    dkim: str | None = None
    dmarc: str | None = None
    reason: str | None = None


class EmailMessageRead(BaseModel):
    """One stored mail as the agent inspects it: headers, verdicts, flags, the full text."""

    message_id: int
    rfc_message_id: str | None
    subject: str | None
    from_address: str | None
    to: list[str]
    cc: list[str]
    auth: AuthVerdicts
    flags: list[str]
    possible_spoof: bool
    text: str
    text_full: str
    html: str | None
    remote_images_blocked: int
    notes: list[str]


class QuarantineRead(BaseModel):
    id: int
    inbox_id: int | None
    source: str
    reason: str
    size: int
    created_at: datetime
    url: str


class SuppressionRead(BaseModel):
    address: str
    status: str
    reason: str
    message_id: int | None
    created_at: datetime


class MailboxRead(BaseModel):
    id: int
    inbox_id: int
    folder: str
    uidvalidity: int | None
    last_uid: int
    imported: int
    failures: int
    alerting: bool
    last_error: str | None
    last_success_at: datetime | None
    lease_owner: str | None


def settings_of(raw: dict[str, Any]) -> EmailSettings:
    return EmailSettings.model_validate(raw)

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from frontdesk.kit.text import OneLine

Security = Literal["none", "starttls", "tls"]


class MailServer(BaseModel):
    # Channels validate their own extra keys (e.g. the IMAP folder); they pass through here.
    model_config = ConfigDict(extra="allow")

    host: str
    port: int = Field(ge=1, le=65535)
    username: str | None = None
    password: str | None = None
    security: Security = "tls"


class InboxCreate(BaseModel):
    channel: str = Field(min_length=1, max_length=20)
    name: OneLine = Field(min_length=1, max_length=200)
    team_ids: list[int] = []
    webhook_url: str | None = None
    address: str | None = None
    imap: MailServer | None = None
    smtp: MailServer | None = None
    settings: dict[str, Any] = {}


class InboxUpdate(BaseModel):
    name: OneLine | None = Field(default=None, min_length=1, max_length=200)
    team_ids: list[int] | None = None
    webhook_url: str | None = None
    active: bool | None = None
    rotate_secret: bool = False
    settings: dict[str, Any] | None = None


class InboxRead(BaseModel):
    id: int
    name: str
    channel: str
    active: bool
    team_ids: list[int]
    settings: dict[str, Any]
    created_at: datetime
    # Only admins see the secret (it signs inbound webhooks and outbound deliveries).
    secret: str | None = None

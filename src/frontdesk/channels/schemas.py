from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from frontdesk.kit.schemas import Id, NotNull, RequestBody

Security = Literal["none", "starttls", "tls"]


class MailServer(BaseModel):
    # Channels validate their own extra keys (e.g. the IMAP folder); they pass through here.
    model_config = ConfigDict(extra="allow")

    host: str
    port: int = Field(ge=1, le=65535)
    username: str | None = None
    password: str | None = None
    security: Security = "tls"


class InboxCreate(RequestBody):
    channel: str = Field(min_length=1, max_length=20)
    name: str = Field(min_length=1, max_length=200)
    team_ids: list[Id] = []
    webhook_url: str | None = None
    address: str | None = None
    imap: MailServer | None = None
    smtp: MailServer | None = None
    settings: dict[str, Any] = {}


class InboxUpdate(RequestBody):
    name: NotNull[str] = Field(default=None, min_length=1, max_length=200)
    team_ids: NotNull[list[Id]] = None
    webhook_url: str | None = None
    active: NotNull[bool] = None
    rotate_secret: bool = False
    settings: NotNull[dict[str, Any]] = None


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

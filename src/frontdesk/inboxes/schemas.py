from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from frontdesk.kit.schemas import Id, NotNull, RequestBody
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


class InboxCreate(RequestBody):
    channel: str = Field(min_length=1, max_length=20)
    name: OneLine = Field(min_length=1, max_length=200)
    team_ids: list[Id] = []
    webhook_url: str | None = None
    address: str | None = None
    imap: MailServer | None = None
    smtp: MailServer | None = None
    settings: dict[str, Any] = {}


class InboxUpdate(RequestBody):
    name: NotNull[OneLine] = Field(default=None, min_length=1, max_length=200)
    team_ids: NotNull[list[Id]] = None
    webhook_url: str | None = None
    active: NotNull[bool] = None
    rotate_secret: bool = False
    settings: NotNull[dict[str, Any]] = None
    # The create route's top-level channel settings, accepted here too (an `email` inbox's
    # address and relay blocks); a channel that has no such setting refuses it by name.
    address: NotNull[str] = None
    imap: NotNull[MailServer] = None
    smtp: NotNull[MailServer] = None


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
    # The absolute URL the provider must call (paste it in its console); null = none.
    webhook_url: str | None = None


class ConnectionCheckRead(BaseModel):
    # True when the provider accepted the inbox's credentials.
    ok: bool
    # False when the channel has no credential to try (nothing was called; `ok` is false).
    checked: bool
    # A short summary in the provider's words (a bot's @username, a Page's name).
    detail: str | None
    # What the provider said about the account (display number, verified name, status...).
    facts: dict[str, str]
    # The absolute URL the provider must call (paste it in its console); null = none.
    webhook_url: str | None


class ChannelRead(BaseModel):
    name: str
    # reply_window is in seconds (null = replies are always allowed).
    capabilities: dict[str, Any]
    settings_schema: dict[str, Any] | None


TemplateCategory = Literal["marketing", "utility", "authentication"]
TemplateStatus = Literal["approved", "pending", "rejected", "paused"]
# The provider's rules: lower-case letters, digits and underscores; a locale like en_US or ar.
TEMPLATE_NAME = r"^[a-z0-9_]{1,512}$"
TEMPLATE_LANGUAGE = r"^[a-z]{2,3}(_[A-Za-z]{2,4})?$"


class TemplateCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=TEMPLATE_NAME)
    language: str = Field(pattern=TEMPLATE_LANGUAGE)
    category: TemplateCategory = "utility"
    status: TemplateStatus = "approved"
    # The body text with {{1}}, {{2}}... where the parameters go, in order.
    body: str = Field(default="", max_length=1024)
    components: list[dict[str, Any]] = Field(default_factory=list, max_length=10)


class TemplateUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    category: TemplateCategory | None = None
    status: TemplateStatus | None = None
    body: str | None = Field(default=None, max_length=1024)
    components: list[dict[str, Any]] | None = Field(default=None, max_length=10)


class TemplateRead(BaseModel):
    id: int
    inbox_id: int
    name: str
    language: str
    category: str
    status: str
    body: str
    # How many parameters the body takes ({{1}}..{{n}}).
    parameters: int
    components: list[dict[str, Any]]
    created_at: datetime

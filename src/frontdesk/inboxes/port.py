"""The channel port: wire data in as `Inbound`, `Outbound` back out as wire data, the
`ChannelAdapter` protocol with its capabilities, and the registry every channel plugs into.

An adapter knows its protocol and nothing else (no customers, conversations or routing).
This module sits below `conversations/` and imports no channel: channels register here
(`register_channel`) and the rest of the house finds them through `adapter_for` and
`channel_plugins` (ADR 0006)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel

from frontdesk.config import Settings
from frontdesk.inboxes.models import Inbox
from frontdesk.kit.errors import Invalid, TooLarge
from frontdesk.kit.security import safe_content_type, safe_filename

if TYPE_CHECKING:
    from fastapi import APIRouter
    from sqlalchemy.ext.asyncio import AsyncSession
    from starlette.types import Receive, Scope, Send

# Bus channels for live signals that are never stored: what the agent desktop shows (typing,
# presence of a visitor) and what reaches the channels' own sockets (typing, binding).
DESK_SIGNALS = "desk"
VISITOR_SIGNALS = "visitor"

# Files any channel takes from agents and visitors unless its inbox says otherwise.
SAFE_UPLOAD_TYPES = [
    "image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "text/plain",
]  # fmt: skip
DEFAULT_MAX_UPLOAD = 5 * 1024 * 1024


@dataclass
class InboundAttachment:
    filename: str
    content_type: str
    data: bytes


@dataclass
class Inbound:
    inbox_id: int
    external_id: str
    address: str
    text: str
    name: str | None = None
    html: str | None = None
    # True only when the adapter already cleaned `html` with kit.security's allow-lists (or
    # stricter): `receive` then stores it as it is instead of sanitising it a second time.
    html_sanitized: bool = False
    thread: str | None = None
    subject: str | None = None
    attachments: list[InboundAttachment] = field(default_factory=list)
    sent_at: datetime | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    # Threading hints from the channel, strongest first: conversation ids the adapter verified
    # (e.g. a signed reply token) and external ids of earlier messages this one answers.
    # `receive` joins such a conversation only when the sender is its customer.
    conversation_hints: list[int] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    # True when the channel's trusted verification says the sender address is forged (e-mail:
    # DMARC fail at the trusted hop): `receive` then threads it into no existing conversation
    # and opens a new one flagged possible-spoof, whatever it references.
    spoofed: bool = False
    # True when the sender cannot correct its address (mail): one that no rule normalises is
    # kept as a raw identity and the message stored, instead of the message being refused.
    raw_address_ok: bool = False
    # The id the provider's later status and edit notices name (Telegram: "chat:message").
    # Statuses or edits that arrived before this message are applied when it is stored.
    provider_message_id: str | None = None
    # "customer" for what the customer wrote; "agent" for what the business sent from the
    # provider's own tools (a Page inbox echo): stored once as an outbound agent message
    # with no agent id, already sent.
    author_kind: str = "customer"
    # Tags the conversation takes when this message is stored (e.g. "public" for a comment).
    tags: list[str] = field(default_factory=list)
    # "message", or "call" for a phone call (its state travels in meta["call"]).
    kind: str = "message"


@dataclass
class OutboundAttachment:
    filename: str
    content_type: str
    data: bytes


@dataclass
class Outbound:
    message_id: int
    conversation_id: int
    customer_id: int
    to_address: str
    text: str
    # Stable across retries: the receiver uses it to process each message once.
    idempotency_key: str
    html: str | None = None
    subject: str | None = None
    thread: str | None = None
    attachments: list[OutboundAttachment] = field(default_factory=list)
    to_name: str | None = None
    # External ids of the conversation's earlier messages, oldest first (e-mail References),
    # and of the customer message this one answers (In-Reply-To).
    references: list[str] = field(default_factory=list)
    in_reply_to: str | None = None
    # agent | bot | system: only an agent may answer mail that a machine sent.
    author_kind: str = "agent"
    # The customer message being answered was sent by a machine (auto-reply, bounce, bulk).
    answers_automated: bool = False
    # An earlier reply already answered `in_reply_to` (and so marked it read where the
    # channel has read receipts): no need to mark it again.
    answers_answered: bool = False
    # Structured content for channels that carry it (Capabilities.templates): an approved
    # template {"name", "language", "parameters", "components"?} sent instead of free text,
    # or buttons / a list {"buttons": [{"id", "title"}]} | {"button", "sections"} under `text`.
    template: dict[str, Any] | None = None
    interactive: dict[str, Any] | None = None
    # The message's meta: how `reply` decided it may be sent (a message tag outside the
    # reply window, a private reply to a public comment).
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class SendResult:
    status: str  # sent | delivered
    # The provider's id of the message: stored as the message's provider_message_id, the key
    # its status notices name.
    external_id: str | None = None


class PermanentSendError(Exception):
    """The remote side refused for good (4xx): retrying cannot help. `code` is the
    provider's own error code, kept with the reason on the message."""

    def __init__(self, reason: str, *, code: str | int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = None if code is None else str(code)


@dataclass(frozen=True)
class ConnectionCheck:
    """What a Test connection found. `checked` is False when the channel has no credential
    to try (nothing was called); `facts` are the provider's own words about the account
    (a bot's username, a number's display name), shown as they are."""

    ok: bool
    checked: bool = True
    detail: str | None = None
    facts: dict[str, str] = field(default_factory=dict)


def provider_refused(words: str) -> Invalid:
    """The provider turned a check or a registration down: a 422 that names its words."""
    return Invalid(f"the provider refused: {words}", code="provider_refused")


def provider_unreachable(reason: object) -> Invalid:
    return Invalid(f"the provider could not be reached: {reason}", code="provider_unreachable")


class RateLimited(Exception):
    """The provider asked us to slow down (HTTP 429, a throttling code): the delivery is tried
    again after `retry_after` seconds, without counting as a failed attempt."""

    def __init__(self, retry_after: float, reason: str = "rate limited by the provider") -> None:
        super().__init__(reason)
        self.retry_after = max(float(retry_after), 0.0)


@dataclass(frozen=True)
class Refusal:
    """Why a channel will not send to an address now (the customer opted out, a window
    closed). `code` is the API error code the agent's reply is refused with."""

    reason: str
    code: str


@dataclass(frozen=True)
class Capabilities:
    """What a channel can carry; the desktop and `reply` ask this instead of the channel name."""

    # Files travel both ways (attachments, MMS, photos).
    media: bool = False
    # Only pre-approved templates may be sent outside the reply window (WhatsApp).
    templates: bool = False
    # How long after the customer's last message free-form replies are allowed; None = always.
    reply_window: timedelta | None = None
    read_receipts: bool = False
    # The provider reports edits of earlier messages (Telegram).
    edits: bool = False
    # Text travels as SMS segments (GSM-7 or UCS-2): the desktop counts them as the agent types.
    sms_segments: bool = False
    # Addresses are phone numbers: a customer's `phone` identity (E.164) reaches them here, so
    # a number known from SMS can be answered on WhatsApp and back (ADR 0007).
    phone_numbers: bool = False
    # How many tappable choices one message can carry under its text (`Outbound.interactive`:
    # buttons, or a list's rows); 0 = none (the text goes alone). WhatsApp: a list of 10;
    # Telegram: an inline keyboard whose presses come back as callback queries.
    choices: int = 0


class ChannelAdapter(Protocol):
    """Optional hooks an adapter may also define (looked up with getattr): `webhook_path(inbox)`
    (the path under BASE_URL its provider calls), `upload_limits(inbox, app)`,
    `outbound_per_minute(inbox)`, `refusal(session, inbox, address) -> str | None` (asked by
    the delivery job only), `send_refusal(session, inbox, address) -> Refusal | None` (asked
    when the agent replies, refused with its code, and again by the delivery job),
    `mark_read(inbox, provider_message_id, app)` (tell the customer an agent read it), and for
    channels with a `reply_window`: `window_applies(thread)` (False: this conversation has no
    window) and `outside_window(inbox, elapsed)` (the message meta a reply past the window is
    sent with, e.g. a message tag, or None: refused) — see conversations/window.py. A channel
    whose direct messages carry a thread key names it as `direct_thread` (Meta: "dm"): a
    conversation the business opens there takes it, so the customer's answer joins it.
    `check_connection(inbox, app) -> ConnectionCheck` (Test connection: one harmless call
    with the inbox's credentials, the inbox handed with its secrets opened; a refusal raises
    `provider_refused(...)`) and `register_webhook(inbox, app) -> str | None` (tell a provider
    that is configured through its API, not a console, where to deliver; the URL set)."""

    channel: str
    # Identity kind for addresses that are neither e-mail nor phone (e.g. "api", "webchat").
    handle_kind: str
    capabilities: Capabilities

    def validate_settings(self, settings: dict[str, Any], app: Settings) -> dict[str, Any]: ...

    def verify(self, inbox: Inbox, headers: dict[str, str], body: bytes) -> bool: ...

    def parse_inbound(self, inbox: Inbox, body: bytes, app: Settings) -> Inbound: ...

    async def send(self, inbox: Inbox, outbound: Outbound, app: Settings) -> SendResult: ...


class Runner(Protocol):
    """A long-running part of a process that a channel brings (a listener, a poller)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


# Answers which of the given blob keys the channel's own tables name (see blobgc).
BlobHolder = Callable[["AsyncSession", Sequence[str]], Awaitable[set[str]]]
# A raw ASGI websocket endpoint that bypasses the middleware stack (one per hot path).
SocketEndpoint = Callable[["Scope", "Receive", "Send"], Awaitable[None]]


@dataclass(frozen=True)
class ChannelPlugin:
    """Everything one channel package brings; `register_channel` plugs it in."""

    adapter: ChannelAdapter
    # Routers mounted under /api/v1 (API routes) or at the root (public pages, widget files).
    api_routers: Sequence[APIRouter] = ()
    routers: Sequence[APIRouter] = ()
    # Called with the process Runtime when it is built; None = nothing to run in this process
    # (e.g. a poller where no jobs run).
    runners: Sequence[Callable[[Any], Runner | None]] = ()
    # The inbox settings the channel takes (documented in /api/v1/channels and the desktop).
    settings_schema: type[BaseModel] | None = None
    blob_holders: Sequence[BlobHolder] = ()
    sockets: Mapping[str, SocketEndpoint] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.adapter.channel


_PLUGINS: dict[str, ChannelPlugin] = {}


def register_channel(plugin: ChannelPlugin) -> ChannelPlugin:
    _PLUGINS[plugin.name] = plugin
    return plugin


def channel_plugins() -> list[ChannelPlugin]:
    """The installed channels, in the order they registered (frontdesk.channels.INSTALLED)."""
    return list(_PLUGINS.values())


def plugin_for(channel: str) -> ChannelPlugin | None:
    return _PLUGINS.get(channel)


def secret_settings(channel: str) -> frozenset[str]:
    """The settings a channel declares secret: write-only fields of its settings schema
    (pydantic `SecretStr`, or `Field(json_schema_extra={"writeOnly": True})`). They are sealed
    at rest and never read back through the API."""
    plugin = _PLUGINS.get(channel)
    if plugin is None or plugin.settings_schema is None:
        return frozenset()
    return _write_only(plugin.settings_schema)


@cache
def _write_only(schema: type[BaseModel]) -> frozenset[str]:
    properties = schema.model_json_schema().get("properties", {})
    return frozenset(
        name
        for name, spec in properties.items()
        if spec.get("writeOnly") or any(part.get("writeOnly") for part in spec.get("anyOf", []))
    )


def webhook_url(inbox: Inbox, app: Settings) -> str | None:
    """The absolute URL (under BASE_URL) the inbox's provider must call; None if it calls none."""
    hook = getattr(find_adapter(inbox.channel), "webhook_path", None)
    path: str | None = hook(inbox) if hook is not None else None
    return app.base_url.rstrip("/") + path if path else None


def can_check(channel: str) -> bool:
    """True when the channel has a credential Test connection can try."""
    return getattr(find_adapter(channel), "check_connection", None) is not None


def can_register_webhook(channel: str) -> bool:
    return getattr(find_adapter(channel), "register_webhook", None) is not None


async def check_connection(inbox: Inbox, app: Settings) -> ConnectionCheck:
    """Test connection through the inbox's channel (`inbox` with its secrets opened); an
    honest "nothing to check" where the channel has no credential to try."""
    hook = getattr(find_adapter(inbox.channel), "check_connection", None)
    if hook is None:
        return ConnectionCheck(ok=False, checked=False, detail="nothing to check")
    result: ConnectionCheck = await hook(inbox, app)
    return result


def find_adapter(channel: str) -> ChannelAdapter | None:
    plugin = _PLUGINS.get(channel)
    return plugin.adapter if plugin is not None else None


def adapter_for(channel: str) -> ChannelAdapter:
    try:
        return _PLUGINS[channel].adapter
    except KeyError:
        raise Invalid(
            f"channel {channel!r} is not available (have: {', '.join(sorted(_PLUGINS))})",
            code="unsupported_channel",
        ) from None


def upload_limits(inbox: Inbox, app: Settings) -> tuple[list[str], int]:
    """Accepted types and largest size of a file on this inbox: the channel's own rule if it
    has one (`upload_limits` on its adapter), else the safe defaults."""
    own = getattr(adapter_for(inbox.channel), "upload_limits", None)
    if own is not None:
        limits: tuple[list[str], int] = own(inbox, app)
        return limits
    return SAFE_UPLOAD_TYPES, min(DEFAULT_MAX_UPLOAD, app.max_attachment_bytes)


def check_file(
    *, types: list[str], max_bytes: int, filename: str, content_type: str, data: bytes
) -> InboundAttachment:
    """A file within the type and size limits, its name made safe to show and save."""
    kind = safe_content_type(content_type)
    if kind not in types:
        raise Invalid(f"files of type {kind!r} are not accepted here", code="upload_type")
    if len(data) > max_bytes:
        raise TooLarge(f"file is over {max_bytes} bytes", code="attachment_too_large")
    if not data:
        raise Invalid("the file is empty", code="empty_message")
    return InboundAttachment(safe_filename(filename, kind) or "upload", kind, data)

"""The channel plugin interface: wire data in as `Inbound`, `Outbound` back out as wire data.
An adapter knows its protocol and nothing else (no customers, conversations or routing)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from frontdesk.channels.models import Inbox
from frontdesk.config import Settings


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
    # True when the sender cannot correct its address (mail): one that no rule normalises is
    # kept as a raw identity and the message stored, instead of the message being refused.
    raw_address_ok: bool = False


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


@dataclass
class SendResult:
    status: str  # sent | delivered
    external_id: str | None = None


class PermanentSendError(Exception):
    """The remote side refused for good (4xx): retrying cannot help."""


class ChannelAdapter(Protocol):
    channel: str
    # Identity kind for addresses that are neither e-mail nor phone (e.g. "api", "webchat").
    handle_kind: str

    def validate_settings(self, settings: dict[str, Any], app: Settings) -> dict[str, Any]: ...

    def verify(self, inbox: Inbox, headers: dict[str, str], body: bytes) -> bool: ...

    def parse_inbound(self, inbox: Inbox, body: bytes, app: Settings) -> Inbound: ...

    async def send(self, inbox: Inbox, outbound: Outbound, app: Settings) -> SendResult: ...


ADAPTERS: dict[str, ChannelAdapter] = {}


def register(adapter: ChannelAdapter) -> ChannelAdapter:
    ADAPTERS[adapter.channel] = adapter
    return adapter


def adapter_for(channel: str) -> ChannelAdapter:
    from frontdesk.kit.errors import Invalid

    try:
        return ADAPTERS[channel]
    except KeyError:
        raise Invalid(
            f"channel {channel!r} is not available (have: {', '.join(sorted(ADAPTERS))})",
            code="unsupported_channel",
        ) from None

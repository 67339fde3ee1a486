"""The webchat channel: visitor frames in (over the widget's websocket or upload endpoint),
agent replies out through the event log (the visitor's socket pushes them) — or by e-mail
when the visitor left an address and is no longer in the chat."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from frontdesk.config import Settings
from frontdesk.inboxes.models import Inbox
from frontdesk.inboxes.port import (
    DEFAULT_MAX_UPLOAD,
    SAFE_UPLOAD_TYPES,
    Capabilities,
    Inbound,
    InboundAttachment,
    Outbound,
    PermanentSendError,
    SendResult,
    check_file,
    find_adapter,
)
from frontdesk.kit.errors import FrontdeskError, Invalid, invalid_input

HEX_COLOUR = r"^#[0-9a-fA-F]{6}$"
CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
MAX_TEXT = 10_000


class PrechatForm(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    # Which fields the form asks for, and which of those must be filled in.
    fields: list[Literal["name", "email"]] = ["name", "email"]
    required: list[Literal["name", "email"]] = ["email"]


class WebchatSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    color: str = Field(default="#1f4fd1", pattern=HEX_COLOUR)
    text_color: str = Field(default="#ffffff", pattern=HEX_COLOUR)
    title: str | None = Field(default=None, max_length=100)
    greeting: str | None = Field(default=None, max_length=500)
    language: Literal["en", "ar", "fa"] = "en"
    # None: right-to-left exactly when the language is Arabic or Persian.
    rtl: bool | None = None
    prechat: PrechatForm = PrechatForm()
    # True: only visitors the site vouches for (user id + HMAC with the inbox secret) may chat.
    identity_verification: bool = False
    # Sites allowed to open the widget's socket; empty = any site (the token is the key).
    allowed_origins: list[str] = []
    max_upload_bytes: int = Field(default=DEFAULT_MAX_UPLOAD, ge=1)
    upload_types: list[str] = SAFE_UPLOAD_TYPES
    # Browser calls: the visitor may start an audio or video call from the widget.
    calls: bool = True
    # Record browser calls (the agent's page records both sides). Both sides are shown a
    # notice before recording starts; off by default.
    record_calls: bool = False
    # The e-mail inbox settings (address, smtp) used when a visitor continues by e-mail or
    # asks for a transcript; handed to the e-mail channel adapter when it is installed.
    email: dict[str, Any] | None = None

    @field_validator("upload_types")
    @classmethod
    def _no_active_content(cls, value: list[str]) -> list[str]:
        # Never accept types a browser would execute when an agent opens the file.
        bad = [t for t in value if "html" in t or "svg" in t or "javascript" in t or "xml" in t]
        if bad:
            raise ValueError(f"upload types that can carry scripts are refused: {bad}")
        return value

    @property
    def is_rtl(self) -> bool:
        return self.rtl if self.rtl is not None else self.language in ("ar", "fa")


class _Frame(BaseModel):
    id: str
    text: str = Field(default="", max_length=MAX_TEXT)
    from_: str = Field(alias="from", min_length=1, max_length=320)
    name: str | None = Field(default=None, max_length=300)

    @field_validator("id")
    @classmethod
    def _client_id(cls, value: str) -> str:
        if not CLIENT_ID.match(value):
            raise ValueError("message id must be 8-64 characters of A-Z a-z 0-9 _ -")
        return value


def read_settings(inbox: Inbox) -> WebchatSettings:
    return WebchatSettings.model_validate(inbox.settings)


class WebchatChannel:
    channel = "webchat"
    handle_kind = "webchat"
    capabilities = Capabilities(media=True, read_receipts=True)

    def validate_settings(self, settings: dict[str, Any], app: Settings) -> dict[str, Any]:
        try:
            parsed = WebchatSettings.model_validate(settings)
        except ValidationError as exc:
            raise invalid_input(exc.errors()) from exc
        parsed.max_upload_bytes = min(parsed.max_upload_bytes, app.max_attachment_bytes)
        return parsed.model_dump()

    def verify(self, inbox: Inbox, headers: dict[str, str], body: bytes) -> bool:
        # Webchat has no signed HTTP inbound: visitors come in through /widget/ws with a token.
        return False

    def parse_inbound(self, inbox: Inbox, body: bytes, app: Settings) -> Inbound:
        """A visitor frame `{"id", "text", "from", "name"?}`; `from` is set by the server from
        the verified visitor token, never taken from the browser."""
        try:
            frame = _Frame.model_validate_json(body)
        except ValueError as exc:  # pydantic's ValidationError, also for bad JSON or UTF-8
            raise FrontdeskError(f"malformed message: {exc}", code="invalid_payload") from exc
        return Inbound(
            inbox_id=inbox.id,
            # Prefixed with the visitor's handle: one visitor can never collide with (or probe)
            # another's message ids, and a resend of the same id is stored once.
            external_id=f"{frame.from_}:{frame.id}",
            address=frame.from_,
            name=frame.name,
            text=frame.text,
            meta={"client_id": frame.id},
        )

    def upload_limits(self, inbox: Inbox, app: Settings) -> tuple[list[str], int]:
        """The inbox's own accepted types and largest size (agents' files included)."""
        settings = read_settings(inbox)
        return settings.upload_types, min(settings.max_upload_bytes, app.max_attachment_bytes)

    def attachment(
        self, inbox: Inbox, *, filename: str, content_type: str, data: bytes
    ) -> InboundAttachment:
        """Check an upload against the inbox's type and size limits."""
        settings = read_settings(inbox)
        return check_file(
            types=settings.upload_types,
            max_bytes=settings.max_upload_bytes,
            filename=filename,
            content_type=content_type,
            data=data,
        )

    async def send(self, inbox: Inbox, outbound: Outbound, app: Settings) -> SendResult:
        if "@" in outbound.to_address:
            return await self.send_email(inbox, outbound, app)
        # The message is committed and on the event log: the visitor's socket pushes it (and
        # replays it after a reconnect). "sent" here; the widget's read receipt makes it "read".
        return SendResult(status="sent")

    async def send_email(self, inbox: Inbox, outbound: Outbound, app: Settings) -> SendResult:
        """Hand an e-mail (a reply to a visitor who left, or a transcript) to the e-mail
        channel, configured by this inbox's `email` settings."""
        email = find_adapter("email")
        if email is None:
            raise PermanentSendError(
                "the e-mail channel is not installed: this message cannot go out by e-mail"
            )
        settings = read_settings(inbox)
        if not settings.email:
            raise PermanentSendError("this webchat inbox has no e-mail settings")
        try:  # checks the relay's host against the SSRF guard too
            checked = email.validate_settings(dict(settings.email), app)
        except Invalid as exc:
            raise PermanentSendError(f"the inbox's e-mail settings are refused: {exc}") from exc
        relay = Inbox(
            id=inbox.id,
            name=inbox.name,
            channel="email",
            settings=checked,
            secret=inbox.secret,
            active=True,
        )
        return await email.send(relay, outbound, app)


webchat_channel = WebchatChannel()

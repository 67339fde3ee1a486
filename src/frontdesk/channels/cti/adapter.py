"""The CTI adapter: a PBX's call events in our words. Events arrive on the inbox's own route
(`webhook_path`), signed with the inbox's write-only `signing_secret`; a PBX carries no text,
so nothing is sent through `send` (agents call through click-to-call, Action: Originate)."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from frontdesk.channels.cti.schemas import CtiSettings
from frontdesk.config import Settings
from frontdesk.inboxes.models import Inbox
from frontdesk.inboxes.port import (
    Capabilities,
    Inbound,
    Outbound,
    PermanentSendError,
    SendResult,
)
from frontdesk.kit.errors import Invalid
from frontdesk.kit.security import verify_signature
from frontdesk.kit.text import normalize_phone

SIGNATURE_HEADER = "x-frontdesk-signature"


def settings_of(inbox: Inbox) -> CtiSettings:
    return CtiSettings.model_validate(inbox.settings)


class CtiChannel:
    channel = "cti"
    handle_kind = "cti"
    capabilities = Capabilities(phone_numbers=True)

    def validate_settings(self, settings: dict[str, Any], app: Settings) -> dict[str, Any]:
        try:
            parsed = CtiSettings.model_validate(settings)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise Invalid(f"settings.{where}: {first['msg']}", code="invalid_settings") from exc
        if parsed.ami_host and not (parsed.ami_username and parsed.ami_secret):
            raise Invalid(
                "settings.ami_username and settings.ami_secret are needed with ami_host",
                code="invalid_settings",
            )
        return parsed.model_dump()

    def webhook_path(self, inbox: Inbox) -> str:
        return f"/webhooks/cti/{inbox.id}"

    def verify(self, inbox: Inbox, headers: dict[str, str], body: bytes) -> bool:
        # Call events have their own route (webhook_path); the shared inbound route takes none.
        return False

    def signed(self, inbox: Inbox, headers: dict[str, str], body: bytes) -> bool:
        secret = str(inbox.settings.get("signing_secret") or "")
        return bool(secret) and verify_signature(secret, body, headers.get(SIGNATURE_HEADER))

    def parse_inbound(self, inbox: Inbox, body: bytes, app: Settings) -> Inbound:
        raise Invalid("call events arrive on the inbox's webhook_url", code="invalid_payload")

    def caller_address(self, inbox: Inbox, raw: str) -> str:
        """The caller's number as E.164 (the same identity as their SMS or WhatsApp)."""
        try:
            return normalize_phone(raw.strip(), settings_of(inbox).default_region)
        except Invalid:
            raise Invalid(
                f"caller_id {raw!r} is not a phone number", code="invalid_payload"
            ) from None

    async def send(self, inbox: Inbox, outbound: Outbound, app: Settings) -> SendResult:
        raise PermanentSendError(
            "a CTI inbox carries calls: call the customer, or reply on another channel",
            code="voice_no_text",
        )


cti_channel = CtiChannel()

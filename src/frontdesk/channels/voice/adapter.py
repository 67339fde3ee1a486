"""The Twilio-compatible voice adapter: what a call's webhooks say, in our words. Signed
form-encoded webhooks in (the same X-Twilio-Signature as SMS, kit/twilio.py); calls carry
no text, so nothing is sent through `send` (agents call through click-to-call)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from pydantic import ValidationError

from frontdesk.channels.voice.schemas import VoiceSettings
from frontdesk.config import Settings
from frontdesk.inboxes.models import Inbox
from frontdesk.inboxes.port import (
    Capabilities,
    ConnectionCheck,
    Inbound,
    Outbound,
    PermanentSendError,
    SendResult,
    provider_refused,
    provider_unreachable,
)
from frontdesk.kit import http
from frontdesk.kit.errors import Invalid
from frontdesk.kit.security import check_outbound_url
from frontdesk.kit.sms import sender_address
from frontdesk.kit.twilio import signature_matches

# A call's final CallStatus values (the provider sends no more after one of these).
FINAL = ("completed", "busy", "no-answer", "failed", "canceled")


def settings_of(inbox: Inbox) -> VoiceSettings:
    return VoiceSettings.model_validate(inbox.settings)


def one(params: dict[str, str], name: str, *, limit: int = 200) -> str:
    value = params.get(name)
    if value is None or not value.strip():
        raise Invalid(f"{name} is missing", code="invalid_payload")
    if len(value) > limit:
        raise Invalid(f"{name} is too long", code="invalid_payload")
    return value.strip()


def seconds(params: dict[str, str], name: str) -> int | None:
    raw = (params.get(name) or "").strip()
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 7:
        raise Invalid(f"{name} is not a number of seconds", code="invalid_payload")
    return int(raw)


@dataclass
class IncomingCall:
    call_sid: str
    caller: str
    called: str


class VoiceChannel:
    channel = "voice"
    handle_kind = "voice"
    capabilities = Capabilities(phone_numbers=True)

    def validate_settings(self, settings: dict[str, Any], app: Settings) -> dict[str, Any]:
        try:
            parsed = VoiceSettings.model_validate(settings)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise Invalid(f"settings.{where}: {first['msg']}", code="invalid_settings") from exc
        check_outbound_url(parsed.api_base_url, allow_private=app.allow_private_webhooks)
        parsed.phone_number = sender_address(parsed.phone_number.strip(), parsed.default_region)
        return parsed.model_dump()

    def webhook_path(self, inbox: Inbox) -> str:
        return f"/webhooks/voice/{inbox.id}"

    def verify(self, inbox: Inbox, headers: dict[str, str], body: bytes) -> bool:
        # The signature covers the URL the provider called, which only our own routes know.
        return False

    def check_signature(
        self, inbox: Inbox, url: str, params: list[tuple[str, str]], given: str | None
    ) -> bool:
        return signature_matches(str(inbox.settings.get("auth_token") or ""), url, params, given)

    def parse_inbound(self, inbox: Inbox, body: bytes, app: Settings) -> Inbound:
        raise Invalid("calls arrive on the inbox's webhook_url", code="invalid_payload")

    def incoming_of(self, inbox: Inbox, params: dict[str, str]) -> IncomingCall:
        self.same_account(inbox, params)
        region = settings_of(inbox).default_region
        return IncomingCall(
            call_sid=one(params, "CallSid", limit=64),
            caller=sender_address(one(params, "From", limit=64), region),
            called=(params.get("To") or "")[:64],
        )

    def same_account(self, inbox: Inbox, params: dict[str, str]) -> None:
        account = params.get("AccountSid")
        if account is not None and account != inbox.settings.get("account_sid"):
            raise Invalid("AccountSid is not this inbox's account", code="invalid_payload")

    def provider_file_url(self, inbox: Inbox, url: str) -> str:
        """`url` if it is on the provider's own API host (the only place the account's
        credentials and our downloads may go: no SSRF through a forged RecordingUrl)."""
        base = urlsplit(settings_of(inbox).api_base_url)
        given = urlsplit(url)
        if (given.scheme, given.netloc) != (base.scheme, base.netloc):
            raise Invalid("RecordingUrl is not on the provider's API host", code="invalid_payload")
        return url

    def auth(self, inbox: Inbox) -> httpx.BasicAuth:
        return httpx.BasicAuth(
            str(inbox.settings["account_sid"]), str(inbox.settings.get("auth_token") or "")
        )

    def api(self, inbox: Inbox, resource: str) -> str:
        conf = settings_of(inbox)
        base = conf.api_base_url.rstrip("/")
        return f"{base}/2010-04-01/Accounts/{conf.account_sid}/{resource}"

    async def check_connection(self, inbox: Inbox, app: Settings) -> ConnectionCheck:
        conf = settings_of(inbox)
        check_outbound_url(conf.api_base_url, allow_private=app.allow_private_webhooks)
        url = f"{conf.api_base_url.rstrip('/')}/2010-04-01/Accounts/{conf.account_sid}.json"
        try:
            async with http.calls(app.webhook_timeout_seconds) as client:
                response = await client.get(url, auth=self.auth(inbox))
            body = response.json() if response.content else {}
        except (httpx.HTTPError, ValueError) as exc:
            raise provider_unreachable(exc) from exc
        if not response.is_success or not isinstance(body, dict):
            words = body.get("message") if isinstance(body, dict) else None
            raise provider_refused(f"{response.status_code}: {words or 'error'}")
        name = str(body.get("friendly_name") or "") or None
        return ConnectionCheck(ok=True, detail=name, facts={"account_name": name or ""})

    async def send(self, inbox: Inbox, outbound: Outbound, app: Settings) -> SendResult:
        raise PermanentSendError(
            "a voice inbox carries calls: call the customer, or reply on another channel",
            code="voice_no_text",
        )


voice_channel = VoiceChannel()

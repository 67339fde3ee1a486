"""The Twilio-compatible SMS adapter: signed form-encoded webhooks in (messages with MMS
media, delivery statuses), the Messages resource out."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.channels.sms.check import check_account
from frontdesk.channels.sms.schemas import SmsSettings
from frontdesk.config import Settings
from frontdesk.conversations.keywords import opt_out_refusal, opt_out_refusals
from frontdesk.inboxes.models import Inbox
from frontdesk.inboxes.port import (
    Capabilities,
    ConnectionCheck,
    Inbound,
    Outbound,
    PermanentSendError,
    RateLimited,
    Refusal,
    SendResult,
    webhook_url,
)
from frontdesk.kit import http
from frontdesk.kit.errors import Invalid
from frontdesk.kit.security import check_outbound_url
from frontdesk.kit.sms import sender_address
from frontdesk.kit.twilio import SIGNATURE_HEADER, signature, signature_matches

__all__ = ["SIGNATURE_HEADER", "signature", "sms_channel"]

# Opt-outs are per medium: a STOP by SMS stops SMS from every SMS inbox, not WhatsApp.
SCOPE = "sms"
# Twilio's error codes that mean "slow down" rather than "never".
THROTTLED = {20429, 14107, 30022}
MAX_MEDIA = 10  # Twilio carries at most 10 media per MMS

# Twilio's MessageStatus → our delivery status (only forward; see conversations.delivery).
STATUSES = {
    "accepted": "queued", "scheduled": "queued", "queued": "queued", "sending": "queued",
    "sent": "sent", "delivered": "delivered", "read": "read",
    "undelivered": "failed", "failed": "failed", "canceled": "failed",
}  # fmt: skip
# Texts for the error codes Twilio's status callbacks carry (they send only the number).
ERROR_TEXTS = {
    "21610": "Attempt to send to unsubscribed recipient",
    "21614": "'To' number is not a valid mobile number",
    "30003": "Unreachable destination handset",
    "30004": "Message blocked",
    "30005": "Unknown destination handset",
    "30006": "Landline or unreachable carrier",
    "30007": "Message filtered by the carrier",
    "30008": "Unknown error",
}


@dataclass
class MediaRef:
    url: str
    content_type: str
    index: int


@dataclass
class StatusNotice:
    provider_message_id: str
    status: str
    code: str | None
    text: str | None


def settings_of(inbox: Inbox) -> SmsSettings:
    return SmsSettings.model_validate(inbox.settings)


def _one(params: dict[str, str], name: str, *, limit: int = 2000) -> str:
    value = params.get(name)
    if value is None or not value.strip():
        raise Invalid(f"{name} is missing", code="invalid_payload")
    if len(value) > limit:
        raise Invalid(f"{name} is too long", code="invalid_payload")
    return value


class SmsChannel:
    channel = "sms"
    # Senders that are no phone number (short codes, alphanumeric ids) keep this kind.
    handle_kind = "sms"
    # Inbound MMS media are stored; outbound media need a public URL (not offered yet).
    capabilities = Capabilities(sms_segments=True, phone_numbers=True)

    def validate_settings(self, settings: dict[str, Any], app: Settings) -> dict[str, Any]:
        try:
            parsed = SmsSettings.model_validate(settings)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise Invalid(f"settings.{where}: {first['msg']}", code="invalid_settings") from exc
        check_outbound_url(parsed.api_base_url, allow_private=app.allow_private_webhooks)
        number = parsed.from_number.strip()
        # A +-number is tidied to E.164; short codes and Messaging Service SIDs stay as given.
        parsed.from_number = sender_address(number, None) if number[:1] == "+" else number
        return parsed.model_dump()

    def webhook_path(self, inbox: Inbox) -> str:
        return f"/webhooks/sms/{inbox.id}"

    async def check_connection(self, inbox: Inbox, app: Settings) -> ConnectionCheck:
        return await check_account(inbox, app)

    def status_path(self, inbox: Inbox) -> str:
        return f"/webhooks/sms/{inbox.id}/status"

    def verify(self, inbox: Inbox, headers: dict[str, str], body: bytes) -> bool:
        # Twilio's signature covers the URL it called, which only our own routes know: the
        # shared inbound route is refused (401) for SMS inboxes.
        return False

    def check_signature(
        self, inbox: Inbox, url: str, params: list[tuple[str, str]], given: str | None
    ) -> bool:
        return signature_matches(str(inbox.settings.get("auth_token") or ""), url, params, given)

    def parse_inbound(self, inbox: Inbox, body: bytes, app: Settings) -> Inbound:
        raise Invalid("SMS arrives on the inbox's webhook_url", code="invalid_payload")

    def inbound_of(self, inbox: Inbox, params: dict[str, str]) -> Inbound:
        """An incoming SMS/MMS (its media are fetched separately: `media_of`)."""
        self._same_account(inbox, params)
        sid = _one(params, "MessageSid", limit=64)
        sender = sender_address(_one(params, "From", limit=64), settings_of(inbox).default_region)
        text = params.get("Body") or ""
        if len(text) > 20_000:
            raise Invalid("Body is too long", code="invalid_payload")
        sms: dict[str, Any] = {"to": params.get("To"), "segments": params.get("NumSegments")}
        if params.get("FromCountry"):
            sms["from_country"] = params["FromCountry"]
        return Inbound(
            inbox_id=inbox.id,
            external_id=sid,
            provider_message_id=sid,
            address=sender,
            text=text,
            meta={"sms": {k: v for k, v in sms.items() if v}},
        )

    def media_of(self, inbox: Inbox, params: dict[str, str]) -> list[MediaRef]:
        try:
            count = int(params.get("NumMedia") or 0)
        except ValueError:
            raise Invalid("NumMedia is not a number", code="invalid_payload") from None
        if not 0 <= count <= MAX_MEDIA:
            raise Invalid("NumMedia is out of range", code="invalid_payload")
        base = settings_of(inbox).api_base_url.rstrip("/") + "/"
        refs = []
        for index in range(count):
            url = _one(params, f"MediaUrl{index}")
            # The account's credentials go only to the account's own API (never elsewhere).
            if not url.startswith(base):
                raise Invalid(f"MediaUrl{index} is not on {base}", code="invalid_payload")
            kind = params.get(f"MediaContentType{index}") or "application/octet-stream"
            refs.append(MediaRef(url, kind.split(";")[0].strip().lower(), index))
        return refs

    def status_of(self, inbox: Inbox, params: dict[str, str]) -> StatusNotice | None:
        """A status callback as a notice; None for statuses we do not track (receiving...)."""
        self._same_account(inbox, params)
        sid = _one(params, "MessageSid", limit=64)
        raw = (params.get("MessageStatus") or params.get("SmsStatus") or "").strip().lower()
        if not raw:
            raise Invalid("MessageStatus is missing", code="invalid_payload")
        status = STATUSES.get(raw)
        if status is None:
            return None
        code = (params.get("ErrorCode") or "").strip() or None
        text = params.get("ErrorMessage") or (ERROR_TEXTS.get(code) if code else None)
        if status == "failed" and code is None:
            text = text or raw
        return StatusNotice(sid, status, code, text)

    def _same_account(self, inbox: Inbox, params: dict[str, str]) -> None:
        account = params.get("AccountSid")
        if account is not None and account != inbox.settings.get("account_sid"):
            raise Invalid("AccountSid is not this inbox's account", code="invalid_payload")

    async def send_refusal(
        self, session: AsyncSession, inbox: Inbox, address: str
    ) -> Refusal | None:
        return await opt_out_refusal(session, address, scope=SCOPE)

    async def send_refusals(
        self, session: AsyncSession, inbox: Inbox, addresses: Collection[str]
    ) -> dict[str, Refusal]:
        """`send_refusal` for a batch of deliveries (one query)."""
        return await opt_out_refusals(session, addresses, scope=SCOPE)

    def auth(self, inbox: Inbox) -> httpx.BasicAuth:
        return httpx.BasicAuth(
            str(inbox.settings["account_sid"]), str(inbox.settings.get("auth_token") or "")
        )

    async def send(self, inbox: Inbox, outbound: Outbound, app: Settings) -> SendResult:
        conf = settings_of(inbox)
        if outbound.attachments:
            raise PermanentSendError("files cannot be sent by SMS here", code="mms_unsupported")
        text = outbound.text.strip()
        if not text:
            raise PermanentSendError("nothing to send", code="empty_message")
        check_outbound_url(conf.api_base_url, allow_private=app.allow_private_webhooks)
        form = {"To": outbound.to_address, "Body": text}
        form["MessagingServiceSid" if conf.from_number.startswith("MG") else "From"] = (
            conf.from_number
        )
        hook = webhook_url(inbox, app)
        if hook:
            form["StatusCallback"] = hook + "/status"
        base = conf.api_base_url.rstrip("/")
        url = f"{base}/2010-04-01/Accounts/{conf.account_sid}/Messages.json"
        async with http.calls(app.webhook_timeout_seconds) as client:
            response = await client.post(url, data=form, auth=self.auth(inbox))
        return _result(response)


def _result(response: httpx.Response) -> SendResult:
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    if response.is_success and isinstance(body.get("sid"), str):
        return SendResult(status="sent", external_id=body["sid"])
    code = body.get("code") or response.status_code
    message = str(body.get("message") or response.reason_phrase or "error")
    if response.status_code == 429 or code in THROTTLED:
        retry = response.headers.get("retry-after")
        raise RateLimited(float(retry) if retry and retry.isdigit() else 1.0, f"Twilio: {message}")
    if 400 <= response.status_code < 500:
        # 21610: the recipient replied STOP to this sender at the carrier; other 4xx: a bad
        # number, an unverified sender... retrying cannot help.
        raise PermanentSendError(message, code=code)
    raise RuntimeError(f"Twilio answered {response.status_code}: {message}")


sms_channel = SmsChannel()

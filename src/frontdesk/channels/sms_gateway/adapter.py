"""A generic HTTP SMS gateway: JSON in and out, named by the inbox's field mappings, every
body signed with an HMAC whose header, algorithm and encoding the inbox chooses."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.channels.sms_gateway.schemas import SmsGatewaySettings
from frontdesk.config import Settings
from frontdesk.conversations.keywords import opt_out_refusal, opt_out_refusals
from frontdesk.inboxes.models import Inbox
from frontdesk.inboxes.port import (
    Capabilities,
    Inbound,
    Outbound,
    PermanentSendError,
    RateLimited,
    Refusal,
    SendResult,
)
from frontdesk.kit import http
from frontdesk.kit.errors import FrontdeskError, Invalid
from frontdesk.kit.security import check_outbound_url
from frontdesk.kit.sms import sender_address

# The same medium as the Twilio-compatible channel: one STOP stops both.
SCOPE = "sms"
MAX_BODY = 256 * 1024


@dataclass
class StatusNotice:
    provider_message_id: str
    status: str
    code: str | None
    text: str | None


def settings_of(inbox: Inbox) -> SmsGatewaySettings:
    return SmsGatewaySettings.model_validate(inbox.settings)


def sign(conf: SmsGatewaySettings, secret: str, body: bytes) -> str:
    """The signature header's value for this body: prefix + hex/base64 HMAC digest."""
    digest = hmac.new(secret.encode(), body, getattr(hashlib, conf.signing.algorithm)).digest()
    encoded = digest.hex() if conf.signing.encoding == "hex" else base64.b64encode(digest).decode()
    return conf.signing.prefix + encoded


def pick(data: Any, path: str | None) -> Any:
    """The value at a dotted path ("data.sender") in a JSON object; None when absent."""
    if not path:
        return None
    for part in path.split("."):
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    return data


def place(data: dict[str, Any], path: str | None, value: Any) -> None:
    """Set the value at a dotted path, creating the objects on the way."""
    if not path:
        return
    *parents, last = path.split(".")
    for part in parents:
        data = data.setdefault(part, {})
    data[last] = value


def read_json(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise FrontdeskError(f"body is not valid JSON: {exc}", code="malformed_json") from exc
    if not isinstance(data, dict):
        raise Invalid("body must be a JSON object", code="invalid_payload")
    return data


def _text(
    data: dict[str, Any], path: str | None, *, required: bool, limit: int = 2000
) -> str | None:
    """The string at `path` (numbers read as text); a missing required one → 422."""
    value = pick(data, path)
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if value is not None and not isinstance(value, str):
        raise Invalid(f"{path} must be a string", code="invalid_payload")
    if value is not None and len(value) > limit:
        raise Invalid(f"{path} is too long", code="invalid_payload")
    if required and (value is None or not value.strip()):
        raise Invalid(f"{path} is missing", code="invalid_payload")
    return value


class SmsGatewayChannel:
    channel = "sms_gateway"
    handle_kind = "sms"
    capabilities = Capabilities(sms_segments=True, phone_numbers=True)

    def validate_settings(self, settings: dict[str, Any], app: Settings) -> dict[str, Any]:
        try:
            parsed = SmsGatewaySettings.model_validate(settings)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise Invalid(f"settings.{where}: {first['msg']}", code="invalid_settings") from exc
        check_outbound_url(parsed.outbound_url, allow_private=app.allow_private_webhooks)
        if parsed.secret is None:
            parsed.secret = secrets.token_urlsafe(32)
        if parsed.from_number:
            # As given: operators' line numbers are often service numbers a region would
            # misread ("30001234" is not +98 30001234); only a +-number is tidied.
            number = parsed.from_number.strip()
            parsed.from_number = sender_address(number, None) if number[:1] == "+" else number
        return parsed.model_dump(by_alias=True)

    def webhook_path(self, inbox: Inbox) -> str:
        return f"/webhooks/sms_gateway/{inbox.id}"

    def verify(self, inbox: Inbox, headers: dict[str, str], body: bytes) -> bool:
        # Only the channel's own route takes its webhooks (it applies STOP/START/HELP); the
        # shared inbound route is refused (401) for gateway inboxes.
        return False

    def check_signature(self, inbox: Inbox, headers: dict[str, str], body: bytes) -> bool:
        """The body's HMAC in the inbox's signature header (constant-time compare)."""
        conf = settings_of(inbox)
        secret = str(inbox.settings.get("secret") or "")
        given = headers.get(conf.signing.header.lower()) or headers.get(conf.signing.header)
        if not secret or not given:
            return False
        return hmac.compare_digest(sign(conf, secret, body).encode(), given.strip().encode())

    def parse_inbound(self, inbox: Inbox, body: bytes, app: Settings) -> Inbound:
        """The gateway's JSON, read through `inbound_fields`."""
        conf = settings_of(inbox)
        fields = conf.inbound_fields
        data = read_json(body)
        sender = _text(data, fields.from_, required=True, limit=64)
        message_id = _text(data, fields.id, required=True, limit=200)
        text = _text(data, fields.text, required=False, limit=20_000) or ""
        assert sender is not None and message_id is not None
        meta: dict[str, Any] = {}
        if to := _text(data, fields.to, required=False, limit=64):
            meta["to"] = to
        return Inbound(
            inbox_id=inbox.id,
            external_id=message_id,
            provider_message_id=message_id,
            address=sender_address(sender, conf.default_region),
            name=_text(data, fields.name, required=False, limit=300),
            text=text,
            meta={"sms": meta} if meta else {},
        )

    def status_of(self, inbox: Inbox, body: bytes) -> StatusNotice | None:
        """A delivery report through `status_fields` and `status_values`; None for a word
        the mapping does not know (kept out, not guessed)."""
        conf = settings_of(inbox)
        fields = conf.status_fields
        data = read_json(body)
        message_id = _text(data, fields.id, required=True, limit=200)
        raw = _text(data, fields.status, required=True, limit=100)
        assert message_id is not None and raw is not None
        values = {key.casefold(): value for key, value in conf.status_values.items()}
        status = values.get(raw.strip().casefold())
        if status is None:
            return None
        code = _text(data, fields.error_code, required=False, limit=100)
        text = _text(data, fields.error, required=False, limit=1000)
        return StatusNotice(message_id, status, code, text)

    async def send_refusal(
        self, session: AsyncSession, inbox: Inbox, address: str
    ) -> Refusal | None:
        return await opt_out_refusal(session, address, scope=SCOPE)

    async def send_refusals(
        self, session: AsyncSession, inbox: Inbox, addresses: Collection[str]
    ) -> dict[str, Refusal]:
        """`send_refusal` for a batch of deliveries (one query)."""
        return await opt_out_refusals(session, addresses, scope=SCOPE)

    async def send(self, inbox: Inbox, outbound: Outbound, app: Settings) -> SendResult:
        conf = settings_of(inbox)
        fields = conf.outbound_fields
        if outbound.attachments:
            raise PermanentSendError("files cannot be sent by SMS here", code="mms_unsupported")
        text = outbound.text.strip()
        if not text:
            raise PermanentSendError("nothing to send", code="empty_message")
        # At call time too: DNS may have changed since the inbox was saved (SSRF guard).
        check_outbound_url(conf.outbound_url, allow_private=app.allow_private_webhooks)
        payload: dict[str, Any] = {}
        place(payload, fields.to, outbound.to_address)
        place(payload, fields.text, text)
        if conf.from_number:
            place(payload, fields.from_, conf.from_number)
        place(payload, fields.reference, outbound.idempotency_key)
        body = json.dumps(payload, ensure_ascii=False).encode()
        headers = {
            "content-type": "application/json",
            "idempotency-key": outbound.idempotency_key,
            conf.signing.header: sign(conf, str(inbox.settings.get("secret") or ""), body),
        }
        async with http.calls(app.webhook_timeout_seconds) as client:
            response = await client.post(conf.outbound_url, content=body, headers=headers)
        return _result(conf, response)


def _result(conf: SmsGatewaySettings, response: httpx.Response) -> SendResult:
    try:
        data: Any = response.json()
    except ValueError:
        data = {}
    fields = conf.outbound_fields
    if response.is_success:
        found = pick(data, fields.response_id)
        return SendResult(status="sent", external_id=str(found) if found is not None else None)
    reason = pick(data, fields.response_error)
    message = str(reason) if reason else f"gateway answered {response.status_code}"
    if response.status_code == 429:
        retry = response.headers.get("retry-after")
        raise RateLimited(float(retry) if retry and retry.isdigit() else 1.0, message)
    if 400 <= response.status_code < 500:
        raise PermanentSendError(message, code=response.status_code)
    raise RuntimeError(message)


sms_gateway_channel = SmsGatewayChannel()

"""The API channel: signed JSON in, signed JSON webhooks out. The template for every channel."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from frontdesk.config import Settings
from frontdesk.inboxes.models import Inbox
from frontdesk.inboxes.port import (
    Capabilities,
    Inbound,
    InboundAttachment,
    Outbound,
    PermanentSendError,
    SendResult,
)
from frontdesk.kit import http
from frontdesk.kit.errors import Invalid, TooLarge, invalid_input
from frontdesk.kit.security import (
    check_outbound_url,
    loads,
    safe_content_type,
    safe_filename,
    sign,
    verify_signature,
)
from frontdesk.kit.text import OneLine

SIGNATURE_HEADER = "x-frontdesk-signature"


class _From(BaseModel):
    model_config = ConfigDict(extra="forbid")

    address: str = Field(min_length=1, max_length=320)
    name: OneLine | None = Field(default=None, max_length=300)


class _Attachment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    filename: str = Field(min_length=1, max_length=300)
    content_type: str = Field(default="application/octet-stream", max_length=200)
    data_base64: str


class ApiInbound(BaseModel):
    model_config = ConfigDict(extra="forbid")

    external_id: str = Field(min_length=1, max_length=300)
    from_: _From = Field(alias="from")
    text: str = Field(default="", max_length=1_000_000)
    html: str | None = Field(default=None, max_length=5_000_000)
    thread: str | None = Field(default=None, max_length=300)
    subject: OneLine | None = Field(default=None, max_length=500)
    attachments: list[_Attachment] = Field(default=[], max_length=50)
    sent_at: datetime | None = None


class ApiSettings(BaseModel):
    """Where replies are POSTed (signed with the inbox secret); unset = replies are not sent."""

    model_config = ConfigDict(extra="forbid")

    webhook_url: str | None = None


class ApiChannel:
    channel = "api"
    handle_kind = "api"
    capabilities = Capabilities(media=True)

    def validate_settings(self, settings: dict[str, Any], app: Settings) -> dict[str, Any]:
        unknown = sorted(str(key) for key in settings if key != "webhook_url")
        if unknown:
            raise invalid_input(
                [
                    {"loc": ("settings", key), "msg": "Extra inputs are not permitted"}
                    for key in unknown
                ]
            )
        url = settings.get("webhook_url")
        if url:
            check_outbound_url(str(url), allow_private=app.allow_private_webhooks)
        return {"webhook_url": url}

    def verify(self, inbox: Inbox, headers: dict[str, str], body: bytes) -> bool:
        return verify_signature(inbox.secret, body, headers.get(SIGNATURE_HEADER))

    def parse_inbound(self, inbox: Inbox, body: bytes, app: Settings) -> Inbound:
        try:
            raw = loads(body)
        except Invalid:
            raise
        except ValueError as exc:  # UnicodeDecodeError included
            raise Invalid(
                f"body is not valid JSON: {exc}", details=[{"loc": ["body"], "msg": "not JSON"}]
            ) from exc
        try:
            data = ApiInbound.model_validate(raw)
        except ValidationError as exc:
            raise invalid_input(exc.errors(), where=["body"]) from exc
        if not data.text.strip() and not data.html and not data.attachments:
            raise Invalid("a message needs text, html or an attachment", code="empty_message")
        return Inbound(
            inbox_id=inbox.id,
            external_id=data.external_id,
            address=data.from_.address,
            name=data.from_.name,
            text=data.text,
            html=data.html,
            thread=data.thread,
            subject=data.subject,
            attachments=[self._attachment(item, app) for item in data.attachments],
            sent_at=data.sent_at,
        )

    def _attachment(self, item: _Attachment, app: Settings) -> InboundAttachment:
        # base64 is 4/3 of the bytes: refuse before decoding anything oversized.
        if len(item.data_base64) * 3 // 4 > app.max_attachment_bytes + 3:
            raise TooLarge(
                f"attachment {item.filename!r} is over {app.max_attachment_bytes} bytes",
                code="attachment_too_large",
            )
        try:
            data = base64.b64decode(item.data_base64, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise Invalid(
                f"attachment {item.filename!r} is not valid base64", code="invalid_payload"
            ) from exc
        if len(data) > app.max_attachment_bytes:
            raise TooLarge(
                f"attachment {item.filename!r} is over {app.max_attachment_bytes} bytes",
                code="attachment_too_large",
            )
        # Names and types as e-mail and uploads have them: no paths, control or bidi
        # characters, no header tricks in the type.
        kind = safe_content_type(item.content_type)
        return InboundAttachment(safe_filename(item.filename, kind), kind, data)

    async def send(self, inbox: Inbox, outbound: Outbound, app: Settings) -> SendResult:
        url = inbox.settings.get("webhook_url")
        if not url:
            raise PermanentSendError("inbox has no webhook_url")
        # Checked at send time too: DNS may have changed since the inbox was saved.
        check_outbound_url(url, allow_private=app.allow_private_webhooks)
        body = json.dumps(
            {
                "message_id": outbound.message_id,
                "conversation_id": outbound.conversation_id,
                "customer_id": outbound.customer_id,
                "to": {"address": outbound.to_address},
                "text": outbound.text,
                "html": outbound.html,
                "thread": outbound.thread,
                "attachments": [
                    {
                        "filename": item.filename,
                        "content_type": item.content_type,
                        "data_base64": base64.b64encode(item.data).decode(),
                    }
                    for item in outbound.attachments
                ],
            }
        ).encode()
        headers = {
            "content-type": "application/json",
            "x-frontdesk-signature": sign(inbox.secret, body),
            "idempotency-key": outbound.idempotency_key,
            "user-agent": "Frontdesk-Webhook/1",
        }
        async with http.calls(app.webhook_timeout_seconds) as client:
            response = await client.post(url, content=body, headers=headers)
        if 200 <= response.status_code < 300:
            return SendResult(status="delivered", external_id=response.headers.get("x-message-id"))
        if 400 <= response.status_code < 500 and response.status_code not in (408, 409, 425, 429):
            raise PermanentSendError(f"webhook answered {response.status_code}")
        raise RuntimeError(f"webhook answered {response.status_code}")


api_channel = ApiChannel()

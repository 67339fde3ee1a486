"""The WhatsApp channel's adapter: Meta's X-Hub-Signature-256 in, each message of a
notification → one `Inbound`, each status → a delivery notice; replies out through the Cloud
API's /messages (text, media, buttons and lists, templates)."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pydantic import ValidationError

from frontdesk.channels.whatsapp.client import GraphApi, GraphError
from frontdesk.channels.whatsapp.schemas import Message as WaMessage
from frontdesk.channels.whatsapp.schemas import Notification, WhatsAppSettings
from frontdesk.config import Settings
from frontdesk.inboxes.models import Inbox
from frontdesk.inboxes.port import (
    Capabilities,
    ConnectionCheck,
    Inbound,
    Outbound,
    OutboundAttachment,
    PermanentSendError,
    RateLimited,
    SendResult,
    provider_refused,
    provider_unreachable,
)
from frontdesk.kit.errors import FrontdeskError, Invalid
from frontdesk.kit.security import check_outbound_url
from frontdesk.kit.text import normalize_phone

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "x-hub-signature-256"
# A text message carries at most 4096 characters; longer replies go as several messages.
TEXT_LIMIT = 4096
MEDIA_KINDS = ("image", "audio", "video", "document", "sticker")


@dataclass
class MediaRef:
    """A file a message names; fetched through its media id before the message is stored."""

    media_id: str
    filename: str
    content_type: str


@dataclass
class StatusNotice:
    provider_message_id: str
    status: str  # sent | delivered | read | failed
    at: datetime
    code: str | None = None
    text: str | None = None


@dataclass
class Item:
    """One message of a notification: what to store, and the files to fetch first."""

    inbound: Inbound
    media: list[MediaRef]


def read_notification(body: bytes) -> Notification:
    """The notification in a webhook body; malformed → 400/422."""
    try:
        raw = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise FrontdeskError(f"body is not valid JSON: {exc}", code="malformed_json") from exc
    try:
        notification = Notification.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise Invalid(f"{where}: {first['msg']}", code="invalid_payload") from exc
    if notification.object != "whatsapp_business_account":
        raise Invalid(f"object {notification.object!r} is not WhatsApp's", code="invalid_payload")
    return notification


def _clean(value: Any) -> Any:
    """Strings without NUL (PostgreSQL stores none in text or JSON; the body is untrusted)."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, list | tuple):
        return type(value)(_clean(item) for item in value)
    if isinstance(value, dict):
        return {_clean(key): _clean(item) for key, item in value.items()}
    return value


def e164(raw: str, region: str | None) -> str:
    """A WhatsApp id or phone as E.164 (wa_id has its country code, without the +), so the
    same number on SMS is the same identity."""
    digits = raw.strip()
    try:
        return normalize_phone(digits if digits.startswith("+") else "+" + digits)
    except Invalid:
        if region is None:
            raise
        return normalize_phone(digits, region)


def _when(timestamp: str) -> datetime:
    return datetime.fromtimestamp(int(timestamp), UTC)


class WhatsAppChannel:
    channel = "whatsapp"
    handle_kind = "whatsapp"
    capabilities = Capabilities(
        media=True,
        templates=True,
        reply_window=timedelta(hours=24),
        read_receipts=True,
        phone_numbers=True,
        choices=10,
    )

    def validate_settings(self, settings: dict[str, Any], app: Settings) -> dict[str, Any]:
        try:
            parsed = WhatsAppSettings.model_validate(settings)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise Invalid(f"settings.{where}: {first['msg']}", code="invalid_settings") from exc
        check_outbound_url(parsed.api_base_url, allow_private=app.allow_private_webhooks)
        if parsed.verify_token is None:
            parsed.verify_token = secrets.token_urlsafe(24)
        return parsed.model_dump()

    def webhook_path(self, inbox: Inbox) -> str:
        return f"/webhooks/whatsapp/{inbox.id}"

    async def check_connection(self, inbox: Inbox, app: Settings) -> ConnectionCheck:
        """Test connection: the number as the Graph API shows it to the inbox's token."""
        try:
            number = await GraphApi(inbox.settings, app).phone_number()
        except GraphError as exc:
            raise provider_refused(str(exc)) from exc
        except httpx.HTTPError as exc:
            raise provider_unreachable(exc) from exc
        facts = {
            key: str(number[key])
            for key in ("display_phone_number", "verified_name", "quality_rating")
            if number.get(key)
        }
        return ConnectionCheck(ok=True, detail=facts.get("verified_name"), facts=facts)

    def verify(self, inbox: Inbox, headers: dict[str, str], body: bytes) -> bool:
        """X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret, raw body)>."""
        secret = str(inbox.settings.get("app_secret") or "")
        given = headers.get(SIGNATURE_HEADER) or ""
        if not secret or not given.startswith("sha256="):
            return False
        expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(given[len("sha256=") :].strip().lower(), expected)

    def verify_subscription(self, inbox: Inbox, params: dict[str, str]) -> str | None:
        """Meta's GET handshake: the challenge to echo, or None (403)."""
        expected = str(inbox.settings.get("verify_token") or "")
        given = params.get("hub.verify_token") or ""
        if params.get("hub.mode") != "subscribe" or not expected or not given:
            return None
        if not hmac.compare_digest(given.encode(), expected.encode()):
            return None
        return params.get("hub.challenge") or ""

    def parse_inbound(self, inbox: Inbox, body: bytes, app: Settings) -> Inbound:
        """The first message a notification carries (without its files: see `items_of`)."""
        items = self.items_of(inbox, read_notification(body))
        if not items:
            raise Invalid("this notification carries no message", code="invalid_payload")
        return items[0].inbound

    def items_of(
        self,
        inbox: Inbox,
        notification: Notification,
        refused: list[tuple[str, FrontdeskError]] | None = None,
    ) -> list[Item]:
        """Each message of the notification as an Item. With `refused`, a message that cannot
        be read (a sender no rule makes a phone number) is listed there by its wamid and the
        others still come out; without it, it fails the whole notification."""
        region = inbox.settings.get("default_region")
        items: list[Item] = []
        for entry in notification.entry:
            for change in entry.changes:
                names = {
                    c.wa_id: c.profile.name if c.profile else None for c in change.value.contacts
                }
                for message in change.value.messages:
                    try:
                        items.append(self._item(inbox, message, names, region))
                    except FrontdeskError as exc:
                        if refused is None:
                            raise
                        refused.append((_clean(message.id), exc))
        return items

    def statuses_of(self, notification: Notification) -> list[StatusNotice]:
        notices: list[StatusNotice] = []
        for entry in notification.entry:
            for change in entry.changes:
                for status in change.value.statuses:
                    if status.status not in ("sent", "delivered", "read", "failed"):
                        continue  # e.g. "deleted", "warning": nothing for delivery truth
                    first = status.errors[0] if status.errors else None
                    notices.append(
                        StatusNotice(
                            _clean(status.id),
                            status.status,
                            _when(status.timestamp),
                            code=str(first.code) if first and first.code is not None else None,
                            text=_clean(first.title or first.message) if first else None,
                        )
                    )
        return notices

    def _item(
        self, inbox: Inbox, message: WaMessage, names: dict[str, str | None], region: Any
    ) -> Item:
        text, meta, media = _clean(_content(message))
        references = [message.context.id] if message.context and message.context.id else []
        if message.reaction is not None:
            references = [message.reaction.message_id]
        references = _clean(references)
        wamid = _clean(message.id)
        inbound = Inbound(
            inbox_id=inbox.id,
            external_id=wamid,
            provider_message_id=wamid,
            address=e164(message.sender, region),
            name=_clean(names.get(message.sender)),
            text=text,
            sent_at=_when(message.timestamp),
            references=references,
            meta={"whatsapp": {"type": message.type, **meta}},
        )
        return Item(inbound, media)

    async def send(self, inbox: Inbox, outbound: Outbound, app: Settings) -> SendResult:
        api = GraphApi(inbox.settings, app)
        to = outbound.to_address.lstrip("+")
        ids: list[str] = []
        try:
            for payload in await _payloads(api, to, outbound):
                answer = await api.send(payload)
                ids.extend(str(m.get("id")) for m in answer.get("messages") or [] if m.get("id"))
        except GraphError as exc:
            if exc.throttled:
                raise RateLimited(exc.retry_after or 60.0, f"WhatsApp: {exc}") from exc
            if exc.permanent:
                raise PermanentSendError(exc.message, code=exc.code or exc.status) from exc
            raise
        # Blue ticks for the message answered, once: a later reply to it skips the call.
        if outbound.in_reply_to and not outbound.answers_answered:
            await self.mark_read(inbox, outbound.in_reply_to, app)
        return SendResult(status="sent", external_id=ids[0] if ids else None)

    async def mark_read(self, inbox: Inbox, provider_message_id: str, app: Settings) -> bool:
        """Tell the customer their message was read (blue ticks); a refusal is not an error."""
        try:
            await GraphApi(inbox.settings, app).send(
                {"status": "read", "message_id": provider_message_id}
            )
        except (GraphError, OSError) as exc:
            log.info("whatsapp mark-as-read of %s not taken: %s", provider_message_id, exc)
            return False
        return True


def _content(message: WaMessage) -> tuple[str, dict[str, Any], list[MediaRef]]:
    """(text, meta, files) of one message, whatever its type."""
    kind = message.type
    if message.text is not None:
        return message.text.body, {}, []
    if kind in MEDIA_KINDS and (media := getattr(message, kind)) is not None:
        extension = media.mime_type.split(";")[0].split("/")[-1]
        name = media.filename or f"{kind}-{media.id}.{extension}"
        ref = MediaRef(media.id, name, media.mime_type.split(";")[0].strip())
        return media.caption or "", {"media_id": media.id}, [ref]
    if message.location is not None:
        where = message.location
        label = " · ".join(part for part in (where.name, where.address) if part)
        link = f"https://maps.google.com/?q={where.latitude},{where.longitude}"
        return (
            (f"{label}\n{link}" if label else link),
            {"location": where.model_dump(include={"latitude", "longitude", "name", "address"})},
            [],
        )
    if message.contacts:
        return (
            "\n".join(_contact_line(c) for c in message.contacts),
            {"contacts": message.contacts},
            [],
        )
    if message.interactive is not None:
        choice = message.interactive.button_reply or message.interactive.list_reply
        if choice is not None:
            return choice.title, {"reply": {"kind": message.interactive.type, "id": choice.id}}, []
    if message.button is not None:
        return message.button.text, {"reply": {"kind": "button", "id": message.button.payload}}, []
    if message.reaction is not None:
        emoji = message.reaction.emoji or ""
        return emoji, {"reaction": {"message_id": message.reaction.message_id, "emoji": emoji}}, []
    return f"[{kind}]", {}, []


def _contact_line(card: dict[str, Any]) -> str:
    name = card.get("name") if isinstance(card.get("name"), dict) else {}
    label = str((name or {}).get("formatted_name") or "contact")
    phones = [str(p.get("phone")) for p in card.get("phones") or [] if isinstance(p, dict)]
    return " ".join([label, *phones])


def _media_kind(content_type: str) -> str:
    if content_type in ("image/jpeg", "image/png"):
        return "image"
    if content_type.startswith("audio/"):
        return "audio"
    if content_type in ("video/mp4", "video/3gpp"):
        return "video"
    return "document"


async def _payloads(api: GraphApi, to: str, outbound: Outbound) -> list[dict[str, Any]]:
    """The /messages bodies of one reply, in order (files are uploaded first)."""
    base = {"recipient_type": "individual", "to": to}
    if outbound.template is not None:
        return [{**base, "type": "template", "template": _template(outbound.template)}]
    text = outbound.text.strip()
    payloads: list[dict[str, Any]] = []
    if outbound.interactive and text:
        payloads.append({**base, "type": "interactive", "interactive": _interactive(outbound)})
    else:
        for start in range(0, len(text), TEXT_LIMIT):
            body = text[start : start + TEXT_LIMIT]
            payloads.append({**base, "type": "text", "text": {"preview_url": False, "body": body}})
    for item in outbound.attachments:
        payloads.append({**base, **await _media(api, item)})
    if not payloads:
        raise PermanentSendError("nothing to send")
    return payloads


async def _media(api: GraphApi, item: OutboundAttachment) -> dict[str, Any]:
    kind = _media_kind(item.content_type)
    media_id = await api.upload(item.filename, item.data, item.content_type)
    media: dict[str, Any] = {"id": media_id}
    if kind == "document":
        media["filename"] = item.filename
    return {"type": kind, kind: media}


def _template(template: dict[str, Any]) -> dict[str, Any]:
    components = [dict(c) for c in template.get("components") or [] if c.get("type") != "body"]
    parameters = template.get("parameters") or []
    if parameters:
        components.append(
            {"type": "body", "parameters": [{"type": "text", "text": p} for p in parameters]}
        )
    body: dict[str, Any] = {"name": template["name"], "language": {"code": template["language"]}}
    if components:
        body["components"] = components
    return body


def _interactive(outbound: Outbound) -> dict[str, Any]:
    spec = outbound.interactive or {}
    body = {"text": outbound.text.strip()[:1024]}
    if spec.get("buttons"):
        buttons = [{"type": "reply", "reply": {"id": b["id"], "title": b["title"]}}
                   for b in spec["buttons"]]  # fmt: skip
        return {"type": "button", "body": body, "action": {"buttons": buttons}}
    return {
        "type": "list",
        "body": body,
        "action": {"button": spec.get("button") or "Choose", "sections": spec.get("sections", [])},
    }


whatsapp_channel = WhatsAppChannel()

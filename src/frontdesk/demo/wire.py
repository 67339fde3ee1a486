"""The demo providers' side of each webhook, written from the providers' public docs: the
payload a provider posts (Twilio's form fields, the Cloud API's and Graph's notification
JSON, Telegram's Update) and how it signs it (X-Twilio-Signature, X-Hub-Signature-256, the
bot's secret token, a gateway HMAC). Built here, not borrowed from the channels, so the demo
checks our adapters against the wire format instead of against themselves.

Deliveries go into the app in process (an ASGI call through the whole middleware stack and
the channel's own route), so they pass the very verification a provider's request passes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx

from frontdesk.config import Settings


@dataclass
class Delivery:
    path: str
    body: bytes
    headers: dict[str, str]


def twilio_signature(auth_token: str, url: str, params: dict[str, str]) -> str:
    """Base64 HMAC-SHA1 (auth token) over the full URL plus each POST field's name and value,
    sorted by name (twilio.com/docs/usage/security#validating-requests)."""
    payload = url + "".join(name + params[name] for name in sorted(params))
    return base64.b64encode(
        hmac.new(auth_token.encode(), payload.encode(), "sha1").digest()
    ).decode()


def hub_signature(app_secret: str, body: bytes) -> str:
    """Meta's X-Hub-Signature-256: "sha256=" + hex HMAC-SHA256 of the raw body."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def twilio(settings: Settings, path: str, auth_token: str, params: dict[str, str]) -> Delivery:
    url = settings.base_url.rstrip("/") + path
    return Delivery(
        path,
        urlencode(params).encode(),
        {
            "content-type": "application/x-www-form-urlencoded",
            "x-twilio-signature": twilio_signature(auth_token, url, params),
            "i-twilio-idempotency-token": secrets.token_hex(16),
        },
    )


def sms_message(
    conf: dict[str, Any], *, sid: str, sender: str, text: str, media_urls: list[tuple[str, str]]
) -> dict[str, str]:
    """An incoming SMS/MMS as Twilio posts it (media: (url, content type) pairs)."""
    params = {
        "MessageSid": sid,
        "AccountSid": str(conf["account_sid"]),
        "From": sender,
        "To": str(conf["from_number"]),
        "Body": text,
        "NumMedia": str(len(media_urls)),
        "NumSegments": "1",
        "SmsStatus": "received",
        "ApiVersion": "2010-04-01",
    }
    for index, (url, content_type) in enumerate(media_urls):
        params[f"MediaUrl{index}"] = url
        params[f"MediaContentType{index}"] = content_type
    return params


def sms_status(conf: dict[str, Any], sid: str, to: str, status: str) -> dict[str, str]:
    return {
        "MessageSid": sid,
        "SmsSid": sid,
        "AccountSid": str(conf["account_sid"]),
        "From": str(conf["from_number"]),
        "To": to,
        "MessageStatus": status,
        "SmsStatus": status,
        "ApiVersion": "2010-04-01",
    }


def hub(path: str, app_secret: str, payload: dict[str, Any]) -> Delivery:
    body = json.dumps(payload, ensure_ascii=False).encode()
    return Delivery(
        path,
        body,
        {
            "content-type": "application/json",
            "x-hub-signature-256": hub_signature(app_secret, body),
        },
    )


def whatsapp_value(conf: dict[str, Any], **value: Any) -> dict[str, Any]:
    """A Cloud API `messages` notification around one change value."""
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "102290129340398",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": "15550783881",
                                "phone_number_id": str(conf["phone_number_id"]),
                            },
                            **value,
                        },
                    }
                ],
            }
        ],
    }


def whatsapp_message(
    conf: dict[str, Any], *, phone: str, name: str, text: str, media: tuple[str, str] | None
) -> tuple[str, dict[str, Any]]:
    """(wamid, notification) of a customer's text, or image (media id, type) with caption."""
    wa_id = phone.lstrip("+")
    wamid = "wamid." + base64.b64encode(secrets.token_bytes(24)).decode()
    message: dict[str, Any] = {"from": wa_id, "id": wamid, "timestamp": str(int(time.time()))}
    if media is not None:
        media_id, content_type = media
        message.update(type="image", image={"id": media_id, "mime_type": content_type})
        if text:
            message["image"]["caption"] = text
    else:
        message.update(type="text", text={"body": text})
    contacts = [{"profile": {"name": name}, "wa_id": wa_id}]
    return wamid, whatsapp_value(conf, contacts=contacts, messages=[message])


def whatsapp_status(conf: dict[str, Any], wamid: str, to: str, status: str) -> dict[str, Any]:
    entry = {
        "id": wamid,
        "status": status,
        "timestamp": str(int(time.time())),
        "recipient_id": to.lstrip("+"),
    }
    return whatsapp_value(conf, statuses=[entry])


def telegram(path: str, secret_token: str, update: dict[str, Any]) -> Delivery:
    return Delivery(
        path,
        json.dumps(update, ensure_ascii=False).encode(),
        {"content-type": "application/json", "x-telegram-bot-api-secret-token": secret_token},
    )


def telegram_update(
    *, update_id: int, message_id: int, user_id: int, name: str, language: str, text: str,
    photo: tuple[str, int] | None,
) -> dict[str, Any]:  # fmt: skip
    """A private chat's new message: text, or a photo (file id, size) with its caption."""
    first, _, last = name.partition(" ")
    user = {"id": user_id, "is_bot": False, "first_name": first, "language_code": language}
    if last:
        user["last_name"] = last
    chat = {key: user[key] for key in ("id", "first_name")} | {"type": "private"}
    message: dict[str, Any] = {
        "message_id": message_id, "from": user, "chat": chat, "date": int(time.time()),
    }  # fmt: skip
    if photo is not None:
        file_id, size = photo
        message["photo"] = [
            {"file_id": file_id, "file_unique_id": file_id[-12:], "width": 800, "height": 600,
             "file_size": size}
        ]  # fmt: skip
        if text:
            message["caption"] = text
    else:
        message["text"] = text
    return {"update_id": update_id, "message": message}


def meta_event(platform: str, page_id: str, psid: str, **event: Any) -> dict[str, Any]:
    """A Messenger Platform notification (`object` page or instagram) with one event."""
    ms = int(time.time() * 1000)
    return {
        "object": platform,
        "entry": [
            {
                "id": page_id,
                "time": ms,
                "messaging": [
                    {"sender": {"id": psid}, "recipient": {"id": page_id}, "timestamp": ms,
                     **event}
                ],
            }
        ],
    }  # fmt: skip


def gateway(path: str, secret: str, payload: dict[str, Any]) -> Delivery:
    """The demo gateway signs with the inbox's default signing: X-Signature, hex SHA-256."""
    body = json.dumps(payload, ensure_ascii=False).encode()
    signature = gateway_digest(secret, body)
    return Delivery(path, body, {"content-type": "application/json", "x-signature": signature})


def gateway_digest(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


async def deliver(app: Any, settings: Settings, delivery: Delivery) -> httpx.Response:
    """POST the delivery to our own webhook route, in process (no port, same checks)."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url=settings.base_url.rstrip("/"), timeout=30
    ) as client:
        return await client.post(delivery.path, content=delivery.body, headers=delivery.headers)

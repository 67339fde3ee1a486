"""The Telegram channel's adapter: the bot's secret header in, one `Update` → one `Inbound`,
replies out through sendMessage / sendPhoto / sendDocument."""

from __future__ import annotations

import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from frontdesk.channels.telegram.check import get_me, register
from frontdesk.channels.telegram.client import BotApi, TelegramError
from frontdesk.channels.telegram.schemas import Message as TgMessage
from frontdesk.channels.telegram.schemas import TelegramSettings, Update
from frontdesk.config import Settings
from frontdesk.inboxes.models import Inbox
from frontdesk.inboxes.port import (
    Capabilities,
    ConnectionCheck,
    Inbound,
    Outbound,
    PermanentSendError,
    RateLimited,
    SendResult,
)
from frontdesk.kit.errors import FrontdeskError, Invalid
from frontdesk.kit.security import check_outbound_url

SECRET_HEADER = "x-telegram-bot-api-secret-token"
# An inline keyboard: its buttons, and how many share one row on a phone's screen.
INLINE_KEYBOARD_CHOICES = 100
INLINE_ROW = 6
# sendMessage takes at most 4096 characters; longer replies go as several messages.
TEXT_LIMIT = 4096


@dataclass
class MediaRef:
    """A file the update names; fetched through getFile before the message is stored."""

    file_id: str
    filename: str
    content_type: str
    size: int | None


@dataclass
class Edit:
    provider_message_id: str
    text: str
    at: datetime


def provider_id(chat_id: int | str, message_id: int | str) -> str:
    # Telegram's message ids count per chat: the chat makes them unique per bot.
    return f"{chat_id}:{message_id}"


def read_update(body: bytes) -> Update:
    """The update in a webhook body or a getUpdates item; malformed → 400/422."""
    try:
        raw = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise FrontdeskError(f"body is not valid JSON: {exc}", code="malformed_json") from exc
    return update_of(raw)


def update_of(raw: Any) -> Update:
    try:
        return Update.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise Invalid(f"{where}: {first['msg']}", code="invalid_payload") from exc


class TelegramChannel:
    channel = "telegram"
    handle_kind = "telegram"
    capabilities = Capabilities(media=True, edits=True, choices=INLINE_KEYBOARD_CHOICES)

    def validate_settings(self, settings: dict[str, Any], app: Settings) -> dict[str, Any]:
        try:
            parsed = TelegramSettings.model_validate(settings)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise Invalid(f"settings.{where}: {first['msg']}", code="invalid_settings") from exc
        check_outbound_url(parsed.api_base_url, allow_private=app.allow_private_webhooks)
        if parsed.secret_token is None:
            parsed.secret_token = secrets.token_urlsafe(32)
        return parsed.model_dump()

    def webhook_path(self, inbox: Inbox) -> str | None:
        if inbox.settings.get("mode") == "polling":
            return None
        return f"/webhooks/telegram/{inbox.id}"

    async def check_connection(self, inbox: Inbox, app: Settings) -> ConnectionCheck:
        return await get_me(inbox, app)

    async def register_webhook(self, inbox: Inbox, app: Settings) -> str | None:
        return await register(inbox, app)

    def verify(self, inbox: Inbox, headers: dict[str, str], body: bytes) -> bool:
        expected = str(inbox.settings.get("secret_token") or "")
        given = headers.get(SECRET_HEADER) or ""
        if not expected or not given:
            return False
        return hmac.compare_digest(given.encode(), expected.encode())

    def parse_inbound(self, inbox: Inbox, body: bytes, app: Settings) -> Inbound:
        """The message an update carries (without its files: see `media_of`)."""
        inbound = self.inbound_of(inbox, read_update(body))
        if inbound is None:
            raise Invalid("this update carries no new message", code="invalid_payload")
        return inbound

    def inbound_of(self, inbox: Inbox, update: Update) -> Inbound | None:
        """A new message or a button press as an `Inbound`; None for anything else."""
        if update.message is not None:
            return self._message(inbox, update.message)
        query = update.callback_query
        if query is not None:
            chat_id = query.message.chat.id if query.message is not None else query.sender.id
            return Inbound(
                inbox_id=inbox.id,
                external_id=f"callback:{query.id}",
                address=str(chat_id),
                name=query.sender.display_name,
                text=query.data or "",
                meta={"telegram": {"update_id": update.update_id, "callback_query": query.id}},
            )
        return None

    def edit_of(self, update: Update) -> Edit | None:
        message = update.edited_message
        if message is None:
            return None
        at = message.edit_date or message.date
        return Edit(
            provider_id(message.chat.id, message.message_id),
            message.text if message.text is not None else (message.caption or ""),
            datetime.fromtimestamp(at, UTC),
        )

    def media_of(self, update: Update) -> list[MediaRef]:
        message = update.message
        if message is None:
            return []
        refs: list[MediaRef] = []
        if message.photo:
            largest = message.photo[-1]  # Telegram lists sizes smallest first
            name = f"photo-{message.message_id}.jpg"
            refs.append(MediaRef(largest.file_id, name, "image/jpeg", largest.file_size))
        if message.document is not None:
            doc = message.document
            refs.append(
                MediaRef(
                    doc.file_id,
                    doc.file_name or f"document-{message.message_id}",
                    doc.mime_type or "application/octet-stream",
                    doc.file_size,
                )
            )
        return refs

    def _message(self, inbox: Inbox, message: TgMessage) -> Inbound:
        sender = message.sender
        chat = message.chat
        name = sender.display_name if sender is not None else (chat.title or chat.username)
        text = message.text if message.text is not None else (message.caption or "")
        other = message.other_kind()
        if not text and not message.photo and message.document is None and other:
            text = f"[{other}]"
        pid = provider_id(chat.id, message.message_id)
        return Inbound(
            inbox_id=inbox.id,
            external_id=pid,
            provider_message_id=pid,
            address=str(chat.id),
            name=name,
            text=text,
            sent_at=datetime.fromtimestamp(message.date, UTC),
            meta={"telegram": {"chat_type": chat.type, **({"kind": other} if other else {})}},
        )

    async def send(self, inbox: Inbox, outbound: Outbound, app: Settings) -> SendResult:
        api = BotApi(inbox.settings, app)
        chat_id = outbound.to_address
        sent: list[Any] = []
        try:
            text = outbound.text.strip()
            chunks = [text[start : start + TEXT_LIMIT] for start in range(0, len(text), TEXT_LIMIT)]
            for index, chunk in enumerate(chunks):
                body: dict[str, Any] = {"chat_id": chat_id, "text": chunk}
                if outbound.interactive and index == len(chunks) - 1:
                    body["reply_markup"] = inline_keyboard(outbound.interactive)
                sent.append(await api.call("sendMessage", body))
            for item in outbound.attachments:
                method, field = (
                    ("sendPhoto", "photo")
                    if item.content_type in ("image/jpeg", "image/png", "image/webp")
                    else ("sendDocument", "document")
                )
                sent.append(
                    await api.call(
                        method,
                        {"chat_id": chat_id},
                        files={field: (item.filename, item.data, item.content_type)},
                    )
                )
        except TelegramError as exc:
            if exc.code == 429:
                raise RateLimited(exc.retry_after or 1.0, f"Telegram: {exc}") from exc
            if exc.permanent:
                raise PermanentSendError(exc.description, code=exc.code) from exc
            raise
        if not sent:
            raise PermanentSendError("nothing to send")
        first = sent[0] if isinstance(sent[0], dict) else {}
        message_id = first.get("message_id")
        return SendResult(
            status="sent",
            external_id=provider_id(chat_id, message_id) if message_id is not None else None,
        )


def inline_keyboard(spec: dict[str, Any]) -> dict[str, Any]:
    """`Outbound.interactive` (buttons, or a list's rows) as an inline keyboard: one row per
    button or list section, at most INLINE_ROW buttons a row; a press comes back as a
    callback_query whose data is the choice's id (64 bytes at most, Telegram's limit)."""
    if spec.get("buttons"):
        groups = [list(spec["buttons"])]
    else:
        groups = [list(section.get("rows") or []) for section in spec.get("sections") or []]
    rows = []
    for group in groups:
        for start in range(0, len(group), INLINE_ROW):
            rows.append(
                [
                    {"text": str(choice["title"]), "callback_data": str(choice["id"])[:64]}
                    for choice in group[start : start + INLINE_ROW]
                ]
            )
    return {"inline_keyboard": rows}


telegram_channel = TelegramChannel()

"""Test connection for a bot (`getMe`) and its webhook registration (`setWebhook` with the
inbox's secret token, or `deleteWebhook` in polling mode), both with the bot token."""

from __future__ import annotations

import httpx

from frontdesk.channels.telegram.client import BotApi, TelegramError
from frontdesk.config import Settings
from frontdesk.inboxes.models import Inbox
from frontdesk.inboxes.port import (
    ConnectionCheck,
    provider_refused,
    provider_unreachable,
    webhook_url,
)

# The update kinds we ask Telegram for (webhook and getUpdates alike).
ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]


async def get_me(inbox: Inbox, app: Settings) -> ConnectionCheck:
    """`inbox` with its secrets opened; a refusal raises provider_refused with Telegram's
    error code and description (a wrong token: "401: Unauthorized")."""
    try:
        me = await BotApi(inbox.settings, app).call("getMe")
    except TelegramError as exc:
        raise provider_refused(str(exc)) from exc
    except httpx.HTTPError as exc:
        raise provider_unreachable(exc) from exc
    me = me if isinstance(me, dict) else {}
    facts = {key: str(me[key]) for key in ("username", "first_name", "id") if me.get(key)}
    username = facts.get("username")
    return ConnectionCheck(ok=True, detail=f"@{username}" if username else None, facts=facts)


async def register(inbox: Inbox, app: Settings) -> str | None:
    """Tell Telegram where to deliver: the webhook URL (None in polling mode, where the
    webhook is removed so getUpdates works). `inbox` with its secrets opened."""
    api = BotApi(inbox.settings, app)
    url = webhook_url(inbox, app)
    try:
        if url is None:
            await api.call("deleteWebhook", {"drop_pending_updates": False})
        else:
            await api.call(
                "setWebhook",
                {
                    "url": url,
                    "secret_token": inbox.settings["secret_token"],
                    "allowed_updates": ALLOWED_UPDATES,
                },
            )
    except TelegramError as exc:
        raise provider_refused(str(exc)) from exc
    except httpx.HTTPError as exc:
        raise provider_unreachable(exc) from exc
    return url

"""Telegram's webhook: POST /webhooks/telegram/{inbox_id} (the inbox's `webhook_url`)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from frontdesk.analytics.metrics import MESSAGES
from frontdesk.channels.telegram import service
from frontdesk.channels.telegram.adapter import telegram_channel
from frontdesk.inboxes.secrets import opened_inbox
from frontdesk.kit.errors import NotFound, Unauthorized
from frontdesk.runtime import Runtime

router = APIRouter(tags=["telegram"])


@router.post(
    "/webhooks/telegram/{inbox_id}", responses={400: {}, 401: {}, 404: {}, 422: {}, 502: {}}
)
async def webhook(inbox_id: int, request: Request) -> JSONResponse:
    """One Update from Telegram, checked by X-Telegram-Bot-Api-Secret-Token. Answers 200 only
    once it is committed; a repeat (Telegram retries) answers 200 again and stores nothing."""
    runtime: Runtime = request.app.state.runtime
    inbox = await runtime.inboxes.get(inbox_id)
    if inbox is None or not inbox.active or inbox.channel != telegram_channel.channel:
        raise NotFound("inbox not found", code="unknown_inbox")
    inbox = opened_inbox(inbox, runtime.settings)
    body = await request.body()
    if not telegram_channel.verify(inbox, dict(request.headers), body):
        raise Unauthorized("secret token missing or wrong", code="bad_signature")
    taken = await service.take_update(runtime, inbox, body)
    if taken.status in ("stored", "duplicate"):
        MESSAGES.labels(direction="inbound", outcome=taken.status).inc()
    return JSONResponse({"ok": True, "update_id": taken.update_id, "outcome": taken.status})

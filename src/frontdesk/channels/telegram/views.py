"""Telegram's webhook: POST /webhooks/telegram/{inbox_id} (the inbox's `webhook_url`), and
the admin's call that registers it with Telegram."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from frontdesk.analytics.metrics import MESSAGES
from frontdesk.channels.telegram import service
from frontdesk.channels.telegram.adapter import telegram_channel
from frontdesk.deps import AdminAgent, RuntimeDep, SessionDep
from frontdesk.inboxes import service as inboxes
from frontdesk.inboxes.secrets import opened_cached, opened_inbox
from frontdesk.kit.errors import NotFound, Unauthorized
from frontdesk.kit.schemas import Id
from frontdesk.runtime import Runtime

router = APIRouter(tags=["telegram"])
api_router = APIRouter(tags=["telegram"])


class WebhookRegistered(BaseModel):
    mode: str
    # Where Telegram now delivers updates (null in polling mode: the webhook was removed).
    webhook_url: str | None


@router.post(
    "/webhooks/telegram/{inbox_id}", responses={400: {}, 401: {}, 404: {}, 422: {}, 502: {}}
)
async def webhook(inbox_id: Id, request: Request) -> JSONResponse:
    """One Update from Telegram, checked by X-Telegram-Bot-Api-Secret-Token. Answers 200 only
    once it is committed; a repeat (Telegram retries) answers 200 again and stores nothing."""
    runtime: Runtime = request.app.state.runtime
    inbox = await runtime.inboxes.get(inbox_id)
    if inbox is None or not inbox.active or inbox.channel != telegram_channel.channel:
        raise NotFound("inbox not found", code="unknown_inbox")
    inbox = opened_cached(inbox, runtime.settings)
    body = await request.body()
    if not telegram_channel.verify(inbox, dict(request.headers), body):
        raise Unauthorized("secret token missing or wrong", code="bad_signature")
    taken = await service.take_update(runtime, inbox, body)
    if taken.status in ("stored", "duplicate"):
        MESSAGES.labels(direction="inbound", outcome=taken.status).inc()
    return JSONResponse({"ok": True, "update_id": taken.update_id, "outcome": taken.status})


@api_router.post(
    "/inboxes/{inbox_id}/telegram/webhook",
    response_model=WebhookRegistered,
    responses={403: {}, 404: {}, 422: {}},
)
async def register_webhook(
    inbox_id: Id, session: SessionDep, admin: AdminAgent, runtime: RuntimeDep
) -> WebhookRegistered:
    """Tell Telegram where to deliver (setWebhook with the inbox's secret token), or, in
    polling mode, remove the webhook so getUpdates works. Doubles as a check of the token."""
    inbox = await inboxes.get_inbox_or_raise(session, inbox_id, agent=admin)
    if inbox.channel != telegram_channel.channel:
        raise NotFound("inbox not found")
    url = await telegram_channel.register_webhook(
        opened_inbox(inbox, runtime.settings), runtime.settings
    )
    return WebhookRegistered(mode=str(inbox.settings.get("mode")), webhook_url=url)

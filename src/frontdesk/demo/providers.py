"""The demo's built-in providers (demo only): the few send-API routes our adapters call on
Twilio, the WhatsApp Cloud API, the Telegram Bot API, the Messenger Platform and a generic
SMS gateway, answering as those providers answer. Each checks the caller's credentials,
records what the agent sent on the customer's phone (`world`), and afterwards reports
delivery (sent → delivered; WhatsApp's read comes when the phone shows it) through the inbox's
real, signed webhook route."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import secrets
import time
from base64 import b64decode
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.background import BackgroundTask

from frontdesk.demo import wire
from frontdesk.demo.access import demo_inboxes, demo_only
from frontdesk.demo.world import Entry, World, now, world_of
from frontdesk.inboxes.models import Inbox
from frontdesk.inboxes.port import webhook_url
from frontdesk.runtime import Runtime

log = logging.getLogger(__name__)
router = APIRouter(prefix="/demo/provider", dependencies=[demo_only], include_in_schema=False)
# Between a provider's "sent" and "delivered": long enough to see the ticks change.
STEP_SECONDS = 0.4


def _context(request: Request) -> tuple[Runtime, World]:
    runtime: Runtime = request.app.state.runtime
    return runtime, world_of(request.app.state, runtime.settings)


def _later(request: Request, *steps: Callable[[], Awaitable[None]]) -> BackgroundTask:
    """Run the status reports after the response has gone out, as a provider does."""

    async def run() -> None:
        for index, step in enumerate(steps):
            if index:
                await asyncio.sleep(STEP_SECONDS)
            try:
                await step()
            except Exception:  # a demo report that fails must not break anything else
                log.exception("demo provider status report failed")

    return BackgroundTask(run)


async def _report(request: Request, delivery: wire.Delivery) -> None:
    runtime: Runtime = request.app.state.runtime
    answer = await wire.deliver(request.app, runtime.settings, delivery)
    if answer.status_code >= 300:
        log.warning("demo status report to %s: %s", delivery.path, answer.status_code)


def _basic(request: Request) -> tuple[str, str]:
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("basic "):
        return "", ""
    try:
        user, _, password = b64decode(header[6:]).decode().partition(":")
    except ValueError:
        return "", ""
    return user, password


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    return header[7:].strip() if header.lower().startswith("bearer ") else ""


def _same(a: str, b: str) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(a.encode(), b.encode())


# --- Twilio ---------------------------------------------------------------------------------

TWILIO_AUTH_ERROR = {"code": 20003, "message": "Authenticate", "status": 401}


async def _twilio_inbox(request: Request, sid: str, *, channel: str = "sms") -> Inbox | None:
    runtime, _ = _context(request)
    user, password = _basic(request)
    for inbox in await demo_inboxes(runtime, channel):
        conf = inbox.settings
        if user == sid == conf.get("account_sid") and _same(password, str(conf["auth_token"])):
            return inbox
    return None


@router.get("/sms/2010-04-01/Accounts/{sid}.json")
async def twilio_account(sid: str, request: Request) -> JSONResponse:
    if await _twilio_inbox(request, sid) is None:
        return JSONResponse(TWILIO_AUTH_ERROR, status_code=401)
    return JSONResponse({"sid": sid, "friendly_name": "Frontdesk demo", "status": "active"})


@router.get("/voice/2010-04-01/Accounts/{sid}.json")
async def voice_account(sid: str, request: Request) -> JSONResponse:
    if await _twilio_inbox(request, sid, channel="voice") is None:
        return JSONResponse(TWILIO_AUTH_ERROR, status_code=401)
    return JSONResponse({"sid": sid, "friendly_name": "Frontdesk demo", "status": "active"})


@router.post("/voice/2010-04-01/Accounts/{sid}/Calls.json")
async def voice_call(sid: str, request: Request) -> JSONResponse:
    """Click-to-call in the demo: the call is accepted (no phone network rings)."""
    if await _twilio_inbox(request, sid, channel="voice") is None:
        return JSONResponse(TWILIO_AUTH_ERROR, status_code=401)
    form = await request.form()
    return JSONResponse(
        {"sid": "CA" + secrets.token_hex(16), "status": "queued", "to": str(form.get("To"))},
        status_code=201,
    )


@router.post("/sms/2010-04-01/Accounts/{sid}/Messages.json")
async def twilio_send(sid: str, request: Request) -> JSONResponse:
    inbox = await _twilio_inbox(request, sid)
    if inbox is None:
        return JSONResponse(TWILIO_AUTH_ERROR, status_code=401)
    form = await request.form()
    to, body = str(form.get("To") or ""), str(form.get("Body") or "")
    if not to or not body:
        error = {"code": 21602, "message": "Message body is required.", "status": 400}
        return JSONResponse(error, status_code=400)
    runtime, world = _context(request)
    message_sid = "SM" + secrets.token_hex(16)
    world.add("sms", to, Entry(message_sid, False, body, now(), "queued", inbox_id=inbox.id))
    callback = str(form.get("StatusCallback") or "")
    conf = inbox.settings

    def status(value: str) -> Callable[[], Awaitable[None]]:
        async def step() -> None:
            world.advance(message_sid, value)
            if callback:
                params = wire.sms_status(conf, message_sid, to, value)
                path = wire.path_of(callback)
                await _report(
                    request, wire.twilio(runtime.settings, path, conf["auth_token"], params)
                )

        return step

    answer = {
        "sid": message_sid, "account_sid": sid, "to": to, "from": conf["from_number"],
        "body": body, "status": "queued", "num_segments": "1", "api_version": "2010-04-01",
        "direction": "outbound-api", "date_created": time.strftime("%a, %d %b %Y %H:%M:%S +0000"),
    }  # fmt: skip
    return JSONResponse(
        answer, status_code=201, background=_later(request, status("sent"), status("delivered"))
    )


@router.get("/sms/2010-04-01/Accounts/{sid}/Messages/{message_sid}/Media/{media_id}")
async def twilio_media(sid: str, message_sid: str, media_id: str, request: Request) -> Response:
    if await _twilio_inbox(request, sid) is None:
        return JSONResponse(TWILIO_AUTH_ERROR, status_code=401)
    return _media(request, media_id)


def _media(request: Request, media_id: str) -> Response:
    _, world = _context(request)
    media = world.media.get(media_id)
    if media is None:
        return JSONResponse({"error": {"message": "not found", "code": 404}}, status_code=404)
    return Response(media.data, media_type=media.content_type)


# --- WhatsApp Cloud API ---------------------------------------------------------------------


def _graph_error(message: str, code: int, status: int = 400) -> JSONResponse:
    body = {"error": {"message": message, "type": "OAuthException", "code": code}}
    return JSONResponse(body, status_code=status)


async def _whatsapp_inbox(request: Request, phone_number_id: str | None) -> Inbox | None:
    runtime, _ = _context(request)
    token = _bearer(request)
    for inbox in await demo_inboxes(runtime, "whatsapp"):
        if phone_number_id not in (None, inbox.settings.get("phone_number_id")):
            continue
        if _same(token, str(inbox.settings["access_token"])):
            return inbox
    return None


@router.get("/whatsapp/media/{media_id}")
async def whatsapp_media_file(media_id: str, request: Request) -> Response:
    if await _whatsapp_inbox(request, None) is None:
        return _graph_error("Invalid OAuth access token.", 190, 401)
    return _media(request, media_id)


@router.get("/whatsapp/{media_id}")
async def whatsapp_media_info(media_id: str, request: Request) -> JSONResponse:
    inbox = await _whatsapp_inbox(request, None)
    if inbox is None:
        return _graph_error("Invalid OAuth access token.", 190, 401)
    if media_id == str(inbox.settings.get("phone_number_id")):
        # GET /{phone_number_id}: the business number itself (Test connection).
        return JSONResponse(
            {
                "id": media_id, "display_phone_number": "+1 555-010-0200",
                "verified_name": "Acme Outfitters", "quality_rating": "GREEN",
            }
        )  # fmt: skip
    _, world = _context(request)
    media = world.media.get(media_id)
    if media is None:
        return _graph_error("Unsupported get request.", 100)
    base = str(inbox.settings["api_base_url"]).rstrip("/")
    return JSONResponse(
        {
            "messaging_product": "whatsapp", "id": media_id, "url": f"{base}/media/{media_id}",
            "mime_type": media.content_type, "file_size": len(media.data),
        }
    )  # fmt: skip


@router.post("/whatsapp/{phone_number_id}/media")
async def whatsapp_upload(phone_number_id: str, request: Request) -> JSONResponse:
    if await _whatsapp_inbox(request, phone_number_id) is None:
        return _graph_error("Invalid OAuth access token.", 190, 401)
    form = await request.form()
    upload = form.get("file")
    if upload is None or isinstance(upload, str):
        return _graph_error("(#100) The parameter file is required.", 100)
    _, world = _context(request)
    data = await upload.read()
    kind = upload.content_type or "application/octet-stream"
    return JSONResponse({"id": world.keep_media(kind, data, upload.filename or "file")})


@router.post("/whatsapp/{phone_number_id}/messages")
async def whatsapp_send(phone_number_id: str, request: Request) -> JSONResponse:
    inbox = await _whatsapp_inbox(request, phone_number_id)
    if inbox is None:
        return _graph_error("Invalid OAuth access token.", 190, 401)
    payload = await _json(request)
    runtime, world = _context(request)
    if payload.get("status") == "read":  # mark-as-read: the customer's ticks turn blue
        world.advance(str(payload.get("message_id") or ""), "read")
        return JSONResponse({"success": True})
    to = str(payload.get("to") or "")
    if not to or payload.get("messaging_product") != "whatsapp":
        return _graph_error("(#100) Invalid parameter", 100)
    wamid = "wamid." + secrets.token_urlsafe(24)
    phone = "+" + to.lstrip("+")
    entry = Entry(wamid, False, _wa_text(payload), now(), "sent", media_id=_wa_media(payload))
    entry.inbox_id = inbox.id
    world.add("whatsapp", phone, entry)
    conf = inbox.settings
    hook = webhook_url(inbox, runtime.settings) or ""

    def status(value: str) -> Callable[[], Awaitable[None]]:
        async def step() -> None:
            world.advance(wamid, value)
            note = wire.whatsapp_status(conf, wamid, to, value)
            await _report(request, wire.hub(wire.path_of(hook), str(conf["app_secret"]), note))

        return step

    answer = {
        "messaging_product": "whatsapp", "contacts": [{"input": to, "wa_id": to.lstrip("+")}],
        "messages": [{"id": wamid}],
    }  # fmt: skip
    return JSONResponse(answer, background=_later(request, status("sent"), status("delivered")))


def _wa_text(payload: dict[str, Any]) -> str:
    kind = str(payload.get("type") or "text")
    found = payload.get(kind)
    part: dict[str, Any] = found if isinstance(found, dict) else {}
    if kind == "text":
        return str(part.get("body") or "")
    if kind == "template":
        params = [
            str(p.get("text"))
            for c in part.get("components") or []
            for p in c.get("parameters") or []
            if isinstance(p, dict) and p.get("text")
        ]
        return f"[{part.get('name')}] " + " · ".join(params)
    if kind == "interactive":
        return str((part.get("body") or {}).get("text") or "")
    return str(part.get("caption") or f"[{kind}]")


def _wa_media(payload: dict[str, Any]) -> str | None:
    part = payload.get(str(payload.get("type") or ""))
    return str(part["id"]) if isinstance(part, dict) and part.get("id") else None


async def _json(request: Request) -> dict[str, Any]:
    try:
        payload = json.loads(await request.body())
    except ValueError:
        return {}
    return payload if isinstance(payload, dict) else {}


# --- Telegram Bot API -----------------------------------------------------------------------


def _tg(result: Any) -> JSONResponse:
    return JSONResponse({"ok": True, "result": result})


def _tg_error(code: int, description: str) -> JSONResponse:
    return JSONResponse(
        {"ok": False, "error_code": code, "description": description}, status_code=code
    )


async def _telegram_inbox(request: Request, token: str) -> Inbox | None:
    runtime, _ = _context(request)
    for inbox in await demo_inboxes(runtime, "telegram"):
        if _same(token, str(inbox.settings["bot_token"])):
            return inbox
    return None


@router.get("/telegram/file/bot{token}/{file_path:path}")
async def telegram_file(token: str, file_path: str, request: Request) -> Response:
    if await _telegram_inbox(request, token) is None:
        return _tg_error(401, "Unauthorized")
    return _media(request, file_path.rsplit("/", 1)[-1].split(".")[0])


@router.post("/telegram/bot{token}/{method}")
async def telegram_method(token: str, method: str, request: Request) -> JSONResponse:
    inbox = await _telegram_inbox(request, token)
    if inbox is None:
        return _tg_error(401, "Unauthorized")
    _, world = _context(request)
    bot = {"id": int(token.split(":")[0]), "is_bot": True, "first_name": "Acme Outfitters",
           "username": "AcmeOutfittersBot"}  # fmt: skip
    if method in ("setWebhook", "deleteWebhook"):
        return _tg(True)
    if method == "getMe":
        return _tg(bot)
    if method == "getFile":
        file_id = str((await _params(request)).get("file_id") or "")
        media = world.media.get(file_id)
        if media is None:
            return _tg_error(400, "Bad Request: invalid file_id")
        return _tg({"file_id": file_id, "file_size": len(media.data),
                    "file_path": f"photos/{file_id}.jpg"})  # fmt: skip
    if method not in ("sendMessage", "sendPhoto", "sendDocument"):
        return _tg_error(404, "Not Found")
    params = await _params(request)
    chat_id = str(params.get("chat_id") or "")
    if not chat_id:
        return _tg_error(400, "Bad Request: chat_id is empty")
    text, media_id = str(params.get("text") or ""), None
    if method != "sendMessage":
        upload = params.get("photo") or params.get("document")
        if upload is not None and not isinstance(upload, str):
            kind = upload.content_type or "application/octet-stream"
            media_id = world.keep_media(kind, await upload.read(), upload.filename or "file")
        text = str(params.get("caption") or f"[{method.removeprefix('send').lower()}]")
    message_id = secrets.randbelow(2**31)
    # The Bot API reports no delivery to bots: what it accepted is on the phone.
    entry = Entry(f"tg:{chat_id}:{message_id}", False, text, now(), "delivered", media_id)
    entry.inbox_id = inbox.id
    world.add("telegram", chat_id, entry)
    chat = {"id": int(chat_id) if chat_id.lstrip("-").isdigit() else chat_id, "type": "private"}
    return _tg({"message_id": message_id, "from": bot, "chat": chat, "date": int(time.time()),
                "text": text})  # fmt: skip


async def _params(request: Request) -> dict[str, Any]:
    if request.headers.get("content-type", "").startswith("multipart/"):
        return dict(await request.form())
    return await _json(request)


# --- Messenger and Instagram (Graph API Send API) ------------------------------------------


async def _page_inbox(request: Request, platform: str) -> Inbox | None:
    runtime, _ = _context(request)
    token = _bearer(request)
    for inbox in await demo_inboxes(runtime, platform):
        if _same(token, str(inbox.settings["page_access_token"])):
            return inbox
    return None


@router.get("/{platform}/{object_id}")
async def page_object(platform: str, object_id: str, request: Request) -> JSONResponse:
    if platform not in ("messenger", "instagram") or await _page_inbox(request, platform) is None:
        return _graph_error("Invalid OAuth access token.", 190, 401)
    return JSONResponse({"id": object_id, "name": "Acme Outfitters"})


@router.post("/{platform}/{object_id}/{edge}")
async def page_send(platform: str, object_id: str, edge: str, request: Request) -> JSONResponse:
    inbox = None
    if platform in ("messenger", "instagram"):
        inbox = await _page_inbox(request, platform)
    if inbox is None:
        return _graph_error("Invalid OAuth access token.", 190, 401)
    if edge in ("comments", "replies"):
        return JSONResponse({"id": f"{object_id}_{secrets.randbelow(10**12)}"})
    if edge != "messages" or object_id != inbox.settings.get("page_id"):
        return _graph_error("Unsupported post request.", 100)
    params = await _params(request)
    recipient = _field(params.get("recipient"))
    message = _field(params.get("message"))
    psid = str(recipient.get("id") or recipient.get("comment_id") or "")
    text = str(message.get("text") or "[attachment]")
    runtime, world = _context(request)
    mid = "m_" + secrets.token_urlsafe(24)
    world.add(platform, psid, Entry(mid, False, text, now(), "sent", inbox_id=inbox.id))
    conf = inbox.settings
    hook = wire.path_of(webhook_url(inbox, runtime.settings) or "")
    obj = "page" if platform == "messenger" else "instagram"
    # Messenger reports delivery; Instagram reports only that it was seen.
    event = {"delivery": {"mids": [mid], "watermark": int(time.time() * 1000)}}
    if platform == "instagram":
        event = {"read": {"mid": mid}}

    async def report() -> None:
        world.advance(mid, "delivered" if platform == "messenger" else "read")
        note = wire.meta_event(obj, str(conf["page_id"]), psid, **event)
        await _report(request, wire.hub(hook, str(conf["app_secret"]), note))

    answer = {"recipient_id": psid, "message_id": mid}
    return JSONResponse(answer, background=_later(request, report))


def _field(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return value if isinstance(value, dict) else {}


# --- A local operator's SMS gateway ---------------------------------------------------------


@router.post("/sms_gateway/send")
async def gateway_send(request: Request) -> JSONResponse:
    runtime, world = _context(request)
    body = await request.body()
    given = request.headers.get("x-signature", "")
    inbox = next(
        (
            row
            for row in await demo_inboxes(runtime, "sms_gateway")
            if _same(given, wire.gateway_digest(str(row.settings["secret"]), body))
        ),
        None,
    )
    if inbox is None:
        return JSONResponse({"error": "bad signature"}, status_code=401)
    payload = _field(body.decode("utf-8", "replace"))
    to, text = str(payload.get("to") or ""), str(payload.get("text") or "")
    if not to or not text:
        return JSONResponse({"error": "to and text are required"}, status_code=400)
    gateway_id = "gw-" + secrets.token_hex(10)
    world.add("sms_gateway", to, Entry(gateway_id, False, text, now(), "sent", inbox_id=inbox.id))
    hook = wire.path_of((webhook_url(inbox, runtime.settings) or "") + "/status")
    secret = str(inbox.settings["secret"])

    async def report() -> None:
        world.advance(gateway_id, "delivered")
        note = {"id": gateway_id, "status": "DELIVRD"}
        await _report(request, wire.gateway(hook, secret, note))

    return JSONResponse(
        {"id": gateway_id, "status": "accepted"}, background=_later(request, report)
    )

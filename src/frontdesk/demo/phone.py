"""/demo/phone (demo only): a newcomer plays a customer on SMS, WhatsApp, Telegram, Messenger,
Instagram or a local operator's SMS gateway. A send
is turned into the provider's webhook, signed as the provider signs it, and posted through
the inbox's real webhook route; the feed shows the customer's messages and the replies the
demo provider took from our adapters, with their ticks."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.background import BackgroundTask

from frontdesk.config import Settings
from frontdesk.demo import wire
from frontdesk.demo.access import demo_inboxes, demo_only
from frontdesk.demo.cast import PERSONAS, PHONE_CHANNELS, Persona, persona
from frontdesk.demo.world import Entry, World, now, world_of
from frontdesk.inboxes.models import Inbox
from frontdesk.inboxes.port import webhook_url
from frontdesk.kit.errors import Invalid, NotFound
from frontdesk.kit.i18n import language, localise_digits
from frontdesk.runtime import Runtime
from frontdesk.web.rendering import check_csrf, render

router = APIRouter(prefix="/demo", dependencies=[demo_only], include_in_schema=False)
STATIC = Path(__file__).parent / "static"
MAX_IMAGE = 5 * 1024 * 1024
SAFE_IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
CHANNEL_NAMES = {
    "sms": "SMS", "whatsapp": "WhatsApp", "telegram": "Telegram", "messenger": "Messenger",
    "instagram": "Instagram", "sms_gateway": "SMS gateway",
}  # fmt: skip
# The channels whose demo provider keeps a customer's image for the adapter to fetch.
IMAGE_CHANNELS = frozenset({"sms", "whatsapp", "telegram"})


def _choice(channel: str | None, key: str | None) -> tuple[str, Persona]:
    chosen = channel if channel in PHONE_CHANNELS else PHONE_CHANNELS[1]
    who = persona(key or "") or PERSONAS[0]
    return chosen, who


def _world(request: Request) -> tuple[Runtime, World]:
    runtime: Runtime = request.app.state.runtime
    return runtime, world_of(request.app.state, runtime.settings)


async def _inbox(runtime: Runtime, channel: str) -> Inbox:
    found = await demo_inboxes(runtime, channel)
    if not found:
        raise NotFound(f"the demo has no {channel} inbox", code="no_demo_inbox")
    return found[0]


@router.get("/phone", response_class=HTMLResponse)
async def phone_page(
    request: Request, channel: str | None = None, persona: str | None = None
) -> HTMLResponse:
    chosen, who = _choice(channel, persona)
    _, world = _world(request)
    entries = world.feed(chosen, who.address(chosen))
    return _feed(
        request, chosen, entries, template="demo_phone.html", persona=who, personas=PERSONAS,
        channels=PHONE_CHANNELS, channel_names=CHANNEL_NAMES, image_channels=IMAGE_CHANNELS,
    )  # fmt: skip


@router.get("/phone/feed", response_class=HTMLResponse)
async def phone_feed(request: Request, channel: str, persona: str) -> HTMLResponse:
    chosen, who = _choice(channel, persona)
    _, world = _world(request)
    entries = world.feed(chosen, who.address(chosen))
    page = _feed(request, chosen, entries)
    page.background = _seen(request, chosen, who, entries)
    return page


@router.get("/phone/feed.json")
async def phone_feed_json(request: Request, channel: str, persona: str) -> JSONResponse:
    chosen, who = _choice(channel, persona)
    _, world = _world(request)
    entries = world.feed(chosen, who.address(chosen))
    return JSONResponse(
        {
            "channel": chosen,
            "address": who.address(chosen),
            "items": [
                {"id": e.id, "mine": e.mine, "text": e.text, "status": e.status, "at": e.at,
                 "media": bool(e.media_id), "error": e.error}
                for e in entries
            ],
        }
    )  # fmt: skip


def _seen(request: Request, channel: str, who: Persona, entries: list[Entry]) -> BackgroundTask:
    """The phone shows the replies: on WhatsApp the customer's app then reports them read."""
    unread = [e for e in entries if not e.mine and e.status == "delivered"]

    async def report() -> None:
        if channel != "whatsapp" or not unread:
            return
        runtime, world = _world(request)
        inbox = await _inbox(runtime, "whatsapp")
        hook = wire.path_of(webhook_url(inbox, runtime.settings) or "")
        for entry in unread:
            if world.advance(entry.id, "read"):
                note = wire.whatsapp_status(inbox.settings, entry.id, who.phone, "read")
                await wire.deliver(
                    request.app,
                    runtime.settings,
                    wire.hub(hook, str(inbox.settings["app_secret"]), note),
                )

    return BackgroundTask(report)


@router.post("/phone/send", response_class=HTMLResponse, response_model=None)
async def phone_send(
    request: Request,
    channel: Annotated[str, Form(max_length=20)],
    persona: Annotated[str, Form(max_length=40)],
    csrf: Annotated[str, Form(max_length=200)],
    text: Annotated[str, Form(max_length=4000)] = "",
    image: Annotated[UploadFile | None, File()] = None,
) -> Response:
    check_csrf(request, csrf)
    chosen, who = _choice(channel, persona)
    picture = await _picture(image)
    if picture is not None and chosen not in IMAGE_CHANNELS:
        raise Invalid(
            f"the demo phone sends images on SMS, WhatsApp and Telegram, not on {chosen}",
            code="image_unsupported",
        )
    if not text.strip() and picture is None:
        raise Invalid("write a message or attach an image", code="empty_message")
    runtime, world = _world(request)
    inbox = await _inbox(runtime, chosen)
    media_id = world.keep_media(*picture) if picture else None
    kept = (media_id, picture[0], len(picture[1])) if media_id and picture else None
    entry_id, delivery = _delivery(runtime, inbox, Said(who, text.strip(), kept))
    entry = Entry(entry_id, True, text.strip(), now(), "sent", media_id=media_id)
    world.add(chosen, who.address(chosen), entry)
    answer = await wire.deliver(request.app, runtime.settings, delivery)
    if answer.is_success:
        world.advance(entry.id, "delivered")
    else:
        world.advance(entry.id, "failed", error=f"{answer.status_code}: {answer.text[:200]}")
    if "hx-request" not in request.headers:  # a plain form post (no script): back to the phone
        lang = language(request.query_params.get("lang"))
        where = f"/demo/phone?channel={chosen}&persona={who.key}&lang={lang}"
        return RedirectResponse(where, status_code=303)
    return _feed(request, chosen, world.feed(chosen, who.address(chosen)))


async def _picture(image: UploadFile | None) -> tuple[str, bytes, str] | None:
    if image is None or not image.filename:
        return None
    data = await image.read(MAX_IMAGE + 1)
    if not data:
        return None
    kind = (image.content_type or "").split(";")[0].strip().lower()
    if kind not in SAFE_IMAGE_TYPES or len(data) > MAX_IMAGE:
        raise Invalid("attach a PNG, JPEG, GIF or WebP image of at most 5 MB", code="bad_image")
    return kind, data, image.filename


@dataclass
class Said:
    """What the customer typed on the phone, and the image they attached (kept by the demo
    provider: its media id, content type and size)."""

    who: Persona
    text: str
    image: tuple[str, str, int] | None


def _delivery(runtime: Runtime, inbox: Inbox, said: Said) -> tuple[str, wire.Delivery]:
    """The customer's message as the provider would post it: (its id, the signed request)."""
    path = wire.path_of(webhook_url(inbox, runtime.settings) or "")
    if inbox.channel in ("messenger", "instagram"):
        return _as_page_message(inbox.channel, inbox.settings, path, said)
    build = {
        "sms": _as_sms, "whatsapp": _as_whatsapp, "telegram": _as_telegram,
        "sms_gateway": _as_gateway,
    }[inbox.channel]  # fmt: skip
    return build(runtime.settings, inbox.settings, path, said)


def _as_page_message(
    channel: str, conf: dict[str, Any], path: str, said: Said
) -> tuple[str, wire.Delivery]:
    """A Messenger Platform `messages` event (Messenger: object `page`; Instagram:
    `instagram`) from the persona's Page-scoped id, signed with X-Hub-Signature-256."""
    mid = "m_" + secrets.token_urlsafe(24)
    note = wire.meta_event(
        "page" if channel == "messenger" else "instagram",
        str(conf["page_id"]),
        said.who.address(channel),
        message={"mid": mid, "text": said.text},
    )
    return mid, wire.hub(path, str(conf["app_secret"]), note)


def _as_gateway(
    app: Settings, conf: dict[str, Any], path: str, said: Said
) -> tuple[str, wire.Delivery]:
    """The gateway's JSON under the inbox's default field names, signed with its HMAC."""
    gateway_id = "gw-in-" + secrets.token_hex(10)
    payload = {
        "id": gateway_id, "from": said.who.phone, "to": str(conf.get("from_number") or ""),
        "text": said.text,
    }  # fmt: skip
    return gateway_id, wire.gateway(path, str(conf["secret"]), payload)


def _as_sms(
    app: Settings, conf: dict[str, Any], path: str, said: Said
) -> tuple[str, wire.Delivery]:
    sid = "SM" + secrets.token_hex(16)
    media = []
    if said.image is not None:
        base = f"{str(conf['api_base_url']).rstrip('/')}/2010-04-01/Accounts/{conf['account_sid']}"
        media.append((f"{base}/Messages/{sid}/Media/{said.image[0]}", said.image[1]))
    params = wire.sms_message(
        conf, sid=sid, sender=said.who.phone, text=said.text, media_urls=media
    )
    return sid, wire.twilio(app, path, str(conf["auth_token"]), params)


def _as_whatsapp(
    app: Settings, conf: dict[str, Any], path: str, said: Said
) -> tuple[str, wire.Delivery]:
    image = said.image[:2] if said.image is not None else None
    wamid, note = wire.whatsapp_message(
        conf, phone=said.who.phone, name=said.who.name, text=said.text, media=image
    )
    return wamid, wire.hub(path, str(conf["app_secret"]), note)


def _as_telegram(
    app: Settings, conf: dict[str, Any], path: str, said: Said
) -> tuple[str, wire.Delivery]:
    who, message_id = said.who, secrets.randbelow(2**31)
    update = wire.telegram_update(
        update_id=secrets.randbelow(2**31), message_id=message_id, user_id=who.telegram_id,
        name=who.name, language=who.language, text=said.text,
        photo=(said.image[0], said.image[2]) if said.image is not None else None,
    )  # fmt: skip
    return f"tg:{who.telegram_id}:{message_id}:in", wire.telegram(
        path, str(conf["secret_token"]), update
    )


@router.get("/phone/media/{media_id}")
async def phone_media(media_id: str, request: Request) -> Response:
    _, world = _world(request)
    media = world.media.get(media_id)
    if media is None or media.content_type not in SAFE_IMAGE_TYPES:
        raise NotFound("not found")
    return Response(
        media.data,
        media_type=media.content_type,
        headers={"x-content-type-options": "nosniff", "cache-control": "private, max-age=3600"},
    )


STATIC_FILES = {"demo.css": "text/css", "demo.js": "application/javascript"}


@router.get("/demo.css")
async def demo_css() -> Response:
    return _static("demo.css")


@router.get("/demo.js")
async def demo_js() -> Response:
    return _static("demo.js")


def _static(name: str) -> Response:
    media_type = STATIC_FILES[name]
    return Response(
        (STATIC / name).read_bytes(),
        media_type=media_type,
        headers={"cache-control": "max-age=300", "x-content-type-options": "nosniff"},
    )


def clock(at: str, lang: str) -> str:
    """HH:MM of an entry in the page's digits."""
    try:
        value = datetime.fromisoformat(at).strftime("%H:%M")
    except ValueError:
        return ""
    return localise_digits(value, lang)


def _feed(request: Request, channel: str, entries: list[Entry], **extra: Any) -> HTMLResponse:
    lang = language(request.query_params.get("lang"))
    template = extra.pop("template", "_demo_phone_feed.html")
    context = {"entries": entries, "channel": channel, "clock": lambda at: clock(at, lang), **extra}
    return render(request, template, context)

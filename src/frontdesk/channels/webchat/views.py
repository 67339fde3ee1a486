"""The widget's HTTP side: the script, its config, visitor sessions, uploads, e-mail
continuation, transcripts, the visitor's own attachments, and the demo site.

The widget runs on other sites: answers carry `Access-Control-Allow-Origin: *` and requests
stay "simple" (JSON sent as text/plain, the token in the body), so no credentials or cookies
are involved — the signed visitor token is the only key."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, ValidationError

from frontdesk.channels.webchat import service
from frontdesk.channels.webchat.adapter import read_settings, webchat_channel
from frontdesk.channels.webchat.calls import REASON_TEXTS as CALL_REASONS
from frontdesk.channels.webchat.schemas import EmailContinue, SessionStart, TranscriptRequest
from frontdesk.conversations import repository as conversations_repository
from frontdesk.conversations.views import attachment_response
from frontdesk.deps import RuntimeDep, SessionDep
from frontdesk.inboxes import repository as inboxes_repository
from frontdesk.kit import uow
from frontdesk.kit.errors import FrontdeskError, Invalid, NotFound, error_body, invalid_input
from frontdesk.kit.i18n import direction, translator
from frontdesk.kit.schemas import Id
from frontdesk.kit.security import loads
from frontdesk.routing import service as routing

router = APIRouter(include_in_schema=False)
STATIC = Path(__file__).parent / "static"
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
CORS = {"access-control-allow-origin": "*", "x-content-type-options": "nosniff"}
# Never SVG or HTML (they script).
WIDGET_STRINGS = (
    "Chat with us", "Type a message…", "Send", "Open chat", "Close chat", "Attach a file",
    "No agent is online right now. Leave your e-mail and we will answer by e-mail.",
    "Your e-mail", "Continue by e-mail", "E-mail me the transcript",
    "Transcript on its way to {email}.",
    "Start chat", "Your name", "Agent is typing…", "Seen", "Sending…",
    "Offline: your messages will be sent when the connection is back.",
    "We will reply to {email}.", "Messages", "Hello! How can we help?", "Agents online",
    "Your chat session expired. A new chat has started; messages not yet sent will be sent in it.",
    "{name}: files of this type are not accepted.",
    "{name}: the file is too large (at most {size}).",
    "Too many requests: try again in a minute.",
    "This message could not be stored. Please write it differently and send it again.",
    "You are number {position} in the queue.",
    "You are number {position} in the queue — expected wait about a minute.",
    "You are number {position} in the queue — expected wait about {minutes} minutes.",
    # Browser calls (widget-call.js).
    "Call us", "Audio call", "Video call", "Calling…", "Ringing…", "Connecting…",
    "Connected with {name}", "Connected", "Hang up", "Share screen", "Stop sharing",
    "The agent is sharing their screen.", "The agent's video", "Your video",
    "This call is recorded. Staying on the call means you agree to the recording.",
    "Ringing", "Answered", "Missed", "Ended", "Accept call", "Decline",
    "{name} is calling you (video).", "{name} is calling you (audio).",
    *CALL_REASONS.values(),
)  # fmt: skip


BaseModelT = TypeVar("BaseModelT", bound=BaseModel)


@router.get("/widget-rtc.js")
async def widget_rtc_js() -> Response:
    return _static("rtc.js", "application/javascript")


@router.get("/widget-call.js")
async def widget_call_js() -> Response:
    return _static("widget-call.js", "application/javascript")


def _cors(data: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(data, status_code=status, headers=CORS)


async def _answer(work: Callable[[], Awaitable[Any]]) -> JSONResponse:
    try:
        return _cors(await work())
    except FrontdeskError as exc:
        return _cors(error_body(exc.code, exc.message, exc.details), exc.status)


async def _body(request: Request, model: type[BaseModelT]) -> BaseModelT:
    """The JSON body as `model`; anything else (not JSON, not an object, wrong fields) is
    the one validation error (422 "invalid"), never a 500."""
    try:
        raw = loads(await request.body())
    except Invalid:
        raise
    except ValueError as exc:
        raise Invalid(
            "the body is not JSON", details=[{"loc": ["body"], "msg": "not JSON"}]
        ) from exc
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise invalid_input(exc.errors(), where=["body"]) from exc


def _static(name: str, media_type: str) -> Response:
    return Response(
        (STATIC / name).read_bytes(),
        media_type=media_type,
        headers={**CORS, "cache-control": "public, max-age=300"},
    )


@router.get("/widget.js")
async def widget_js() -> Response:
    return _static("widget.js", "application/javascript")


@router.get("/widget.css")
async def widget_css() -> Response:
    return _static("widget.css", "text/css")


@router.get("/demo/site.css")
async def demo_css() -> Response:
    return _static("demo_site.css", "text/css")


@router.get("/widget/api/config")
async def widget_config(session: SessionDep, runtime: RuntimeDep, inbox: Id) -> JSONResponse:
    async def work() -> dict[str, Any]:
        found = await service.get_webchat_inbox(session, inbox)
        settings = read_settings(found)
        _ = translator(settings.language)
        return {
            "inbox_id": found.id,
            "title": settings.title or _("Chat with us"),
            "greeting": settings.greeting or _("Hello! How can we help?"),
            "color": settings.color,
            "text_color": settings.text_color,
            "language": settings.language,
            "dir": "rtl" if settings.is_rtl else direction("en"),
            "prechat": settings.prechat.model_dump(),
            "identity_verification": settings.identity_verification,
            "upload": {"types": settings.upload_types, "max_bytes": settings.max_upload_bytes},
            "online": await routing.inbox_has_agent_online(session, found.id),
            "strings": {text: _(text) for text in WIDGET_STRINGS},
            "calls": {
                "enabled": settings.calls,
                "recorded": settings.calls and settings.record_calls,
                "ice_servers": runtime.settings.ice_servers,
            },
        }

    return await _answer(work)


@router.post("/widget/api/session")
async def start_session(request: Request, session: SessionDep, runtime: RuntimeDep) -> JSONResponse:
    async def work() -> dict[str, Any]:
        data = await _body(request, SessionStart)
        inbox = await service.get_webchat_inbox(session, data.inbox_id)
        started = await service.start_session(session, inbox, data, runtime.settings)
        await uow.commit(session)
        return started.model_dump()

    return await _answer(work)


@router.post("/widget/api/upload")
async def upload(request: Request, session: SessionDep, runtime: RuntimeDep) -> JSONResponse:
    async def work() -> dict[str, Any]:
        form = await request.form()
        token, client_id, upload = form.get("token"), form.get("id"), form.get("file")
        claims = service.read_token(runtime.settings, str(token or ""))
        if upload is None or isinstance(upload, str):
            raise Invalid("a file is needed", code="empty_message")
        inbox = await service.get_webchat_inbox(session, claims.inbox_id)
        attachment = webchat_channel.attachment(
            inbox,
            filename=upload.filename or "upload",
            content_type=upload.content_type or "application/octet-stream",
            data=await upload.read(runtime.settings.max_attachment_bytes + 1),
        )
        await session.commit()  # end the read; `retrying` writes in its own transaction
        received = await uow.retrying(
            session,
            lambda: service.receive_message(
                session,
                inbox,
                claims,
                client_id=str(client_id or ""),
                text=str(form.get("text") or ""),
                attachments=[attachment],
                blobs=runtime.blobs,
                app=runtime.settings,
            ),
        )
        shown = await service.widget_messages(session, [received.message], token=str(token))
        return {"message": shown[0].model_dump(), "duplicate": received.duplicate}

    return await _answer(work)


@router.post("/widget/api/email")
async def continue_by_email(
    request: Request, session: SessionDep, runtime: RuntimeDep
) -> JSONResponse:
    async def work() -> dict[str, Any]:
        data = await _body(request, EmailContinue)
        claims = service.read_token(runtime.settings, data.token)
        inbox = await service.get_webchat_inbox(session, claims.inbox_id)
        await session.commit()
        received = await uow.retrying(
            session,
            lambda: service.continue_by_email(
                session,
                inbox,
                claims,
                email=data.email,
                text=data.text,
                client_id=data.id,
                blobs=runtime.blobs,
                app=runtime.settings,
            ),
        )
        shown = await service.widget_messages(session, [received.message], token=data.token or "")
        return {"message": shown[0].model_dump(), "email": data.email.strip().lower()}

    return await _answer(work)


@router.post("/widget/api/transcript")
async def transcript(request: Request, session: SessionDep, runtime: RuntimeDep) -> JSONResponse:
    async def work() -> dict[str, Any]:
        data = await _body(request, TranscriptRequest)
        claims = service.read_token(runtime.settings, data.token)
        inbox = await service.get_webchat_inbox(session, claims.inbox_id)
        address = await service.request_transcript(
            session, inbox, claims, email=data.email, request_id=data.id
        )
        await uow.commit(session)
        return {"queued": True, "email": address}

    return await _answer(work)


@router.get("/widget/api/attachments/{attachment_id}")
async def visitor_attachment(
    attachment_id: Id, token: str, session: SessionDep, runtime: RuntimeDep
) -> Response:
    """A visitor's own file (or one an agent sent them); anything else is not found."""
    claims = service.read_token(runtime.settings, token)
    attachment = await conversations_repository.get_attachment(session, attachment_id)
    # Files of internal notes and agents' pending uploads have no message: never the visitor's.
    message = (
        await conversations_repository.get_message(session, attachment.message_id)
        if attachment is not None and attachment.message_id is not None
        else None
    )
    customer_id = await service.customer_id_of(session, claims)
    if (
        attachment is None
        or message is None
        or customer_id is None
        or message.customer_id != customer_id
        or message.inbox_id != claims.inbox_id
    ):
        raise NotFound("attachment not found")
    # Safe raster images show inline (previews in the widget); everything else downloads.
    return attachment_response(
        runtime.blobs.get(attachment.blob_key), attachment, preview=True, headers=CORS
    )


@router.get("/demo/site", response_class=HTMLResponse)
async def demo_site(
    request: Request, session: SessionDep, runtime: RuntimeDep, inbox: Id | None = None
) -> HTMLResponse:
    """A sample customer website with the demo webchat inbox's widget (development only)."""
    if runtime.settings.env != "development":
        raise NotFound("not found")
    rows = await inboxes_repository.list_inboxes(session, only=None, after=None, limit=200)
    chats = [row for row in rows if row.channel == "webchat" and row.active]
    chosen = next((row for row in chats if inbox is None or row.id == inbox), None)
    if chosen is None:
        raise NotFound("no webchat inbox to show")
    response = templates.TemplateResponse(
        request, "demo_site.html", {"inbox": chosen, "lang": read_settings(chosen).language}
    )
    response.headers["content-security-policy"] = (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    )
    return response

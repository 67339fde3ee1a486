"""The agent desktop: log in and out, language, presence, static files. The inbox, the
conversation, customers, canned responses and the supervisor page live in their own modules
and are mounted here."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from frontdesk.auth import service as auth_service
from frontdesk.auth.schemas import AgentUpdate
from frontdesk.deps import SESSION_COOKIE, RuntimeDep, SessionDep
from frontdesk.inboxes import repository as inboxes_repository
from frontdesk.kit import uow
from frontdesk.kit.errors import NotFound, TooManyRequests, error_body
from frontdesk.kit.i18n import LANGUAGES, translator
from frontdesk.kit.security import verify_signature
from frontdesk.routing import service as routing
from frontdesk.web import (
    bot_views,
    canned_views,
    conversation_views,
    customer_views,
    delivery_views,
    help_views,
    inbox_views,
    kb_settings_views,
    mention_views,
    people_views,
    phone_settings_views,
    reports_views,
    routing_settings_views,
    sentiment_settings_views,
    settings_views,
    sla_views,
    socket,
    staffing_views,
    supervisor_views,
    survey_views,
    work_views,
    workspace_views,
)
from frontdesk.web.rendering import (
    LoginRequired,
    PageAgent,
    check_csrf,
    render,
    session_cookie,
)

__all__ = ["LoginRequired", "router"]

router = APIRouter(include_in_schema=False)
for module in (
    inbox_views,
    workspace_views,
    conversation_views,
    delivery_views,
    canned_views,
    help_views,
    kb_settings_views,
    supervisor_views,
    mention_views,
    settings_views,
    routing_settings_views,
    staffing_views,
    sla_views,
    survey_views,
    reports_views,
    sentiment_settings_views,
    phone_settings_views,
    work_views,
    bot_views,
    people_views,
    customer_views,
    socket,
):
    router.include_router(module.router)

STATIC = Path(__file__).parent / "static"
STATIC_FILES = {
    "app.css": "text/css",
    "desk.js": "application/javascript",
    "sla.js": "application/javascript",
    "call.js": "application/javascript",
    "htmx.min.js": "application/javascript",
    "help.js": "application/javascript",
    "help.css": "text/css",
    "kb-edit.js": "application/javascript",
    "survey.js": "application/javascript",
    # Swagger UI for /docs, vendored (Apache-2.0, see static/swagger-ui/README.md).
    "swagger-ui/swagger-ui-bundle.js": "application/javascript",
    "swagger-ui/swagger-ui.css": "text/css",
    "swagger-ui/LICENSE": "text/plain",
    "swagger-ui/NOTICE": "text/plain",
    "swagger-ui/swagger-ui-bundle.js.LICENSE.txt": "text/plain",
}
SWAGGER_UI = "5.35.0"  # the vendored swagger-ui-dist version (cache-busts its URLs)


# The login page's messages (translated in locale/*/messages.po).
LOGIN_ERRORS = {
    "bad_credentials": "Wrong e-mail or password.",
    "too_many": "Too many login attempts. Try again in {minutes} minutes.",
}


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request) -> HTMLResponse:
    return render(request, "login.html", {"error": None})


@router.post("/login")
async def login(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    email: Annotated[str, Form()],
    password: Annotated[str, Form()],
    csrf: Annotated[str, Form()],
) -> Response:
    check_csrf(request, csrf)
    ip = request.client.host if request.client else "unknown"
    try:
        attempt = await auth_service.start_login(session, email, ip=ip, limits=runtime.settings)
        await uow.commit(session)  # no transaction stays open while argon2 runs
        agent = await auth_service.finish_login(session, attempt, password, limits=runtime.settings)
    except (auth_service.BadCredentials, TooManyRequests) as exc:
        await uow.commit(session)  # the attempt is counted (and a failure audited)
        return await _refused(request, exc)
    agent_id = agent.id

    async def sign_in() -> str:
        # Retried: two first logins of one agent at once race to create its presence row.
        who = await auth_service.get_agent_or_raise(session, agent_id)
        token = await auth_service.issue_token(session, who, kind="session", name="browser")
        await routing.set_status(session, who, "available")
        return token

    token = await uow.retrying(session, sign_in)
    response = RedirectResponse("/", status_code=303)
    session_cookie(response, runtime.settings, token)
    return response


async def _refused(
    request: Request, exc: auth_service.BadCredentials | TooManyRequests
) -> HTMLResponse:
    """The login page again, with why; a wrong password answers after its delay."""
    _ = translator(request.query_params.get("lang", "en"))
    if isinstance(exc, auth_service.BadCredentials):
        await asyncio.sleep(exc.delay)
        return render(
            request, "login.html", {"error": _(LOGIN_ERRORS["bad_credentials"])}, status=401
        )
    minutes = max(1, math.ceil(exc.retry_after / 60))
    page = render(
        request, "login.html", {"error": _(LOGIN_ERRORS["too_many"], minutes=minutes)}, status=429
    )
    page.headers["retry-after"] = str(math.ceil(exc.retry_after))
    return page


@router.post("/logout")
async def logout(request: Request, session: SessionDep, csrf: Annotated[str, Form()]) -> Response:
    check_csrf(request, csrf)
    if token := request.cookies.get(SESSION_COOKIE):
        agent = await auth_service.agent_for_token(session, token, kind="session")
        if agent is not None:
            await routing.set_status(session, agent, "offline")
        await auth_service.revoke_token(session, token)
        await uow.commit(session)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


def _back(request: Request) -> str:
    # Only ever back to a page of ours (a path), never to another site.
    parts = urlsplit(request.headers.get("referer", "/"))
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return path if path.startswith("/") and not path.startswith("//") else "/"


@router.post("/me/language")
async def set_language(
    request: Request,
    session: SessionDep,
    agent: PageAgent,
    language: Annotated[str, Form()],
    csrf: Annotated[str, Form()],
) -> Response:
    check_csrf(request, csrf)
    if language in LANGUAGES:
        await auth_service.update_agent(
            session, agent, AgentUpdate.model_validate({"language": language})
        )
        await uow.commit(session)
    return RedirectResponse(_back(request), status_code=303)


@router.post("/me/presence")
async def set_presence(
    request: Request,
    session: SessionDep,
    agent: PageAgent,
    status: Annotated[str, Form()],
    csrf: Annotated[str, Form()],
) -> Response:
    check_csrf(request, csrf)
    await routing.set_status(session, agent, status)
    await uow.commit(session)
    return RedirectResponse(_back(request), status_code=303)


# The reference in parts: Swagger UI 5.35 stops drawing after about 130 operations (the
# first tag section only, no error; tests/web/browser/test_offline_pages.py), and the API has
# more. Each part is one page over the operations of its tags; `/openapi.json` stays whole.
DOC_PARTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "core": ("Agents, inboxes, customers, conversations",
             ("agents", "inboxes", "customers", "conversations", "mentions", "workspace",
              "operations")),
    "channels": ("Channels", ("email", "telegram", "whatsapp", "meta", "sms", "sms_gateway",
                              "voice", "cti")),
    "knowledge": ("Knowledge and bot", ("knowledge", "knowledge (public)", "bot")),
    "routing": ("Routing and SLAs", ("routing", "sla")),
    "insights": ("Reports, surveys, sentiment", ("reports", "surveys", "sentiment")),
}  # fmt: skip
_NAMED_TAGS = {tag for _, tags in DOC_PARTS.values() for tag in tags}


def _in_part(part: str, tags: list[str]) -> bool:
    # A tag no part names goes with the channels, so no operation is ever left out.
    wanted = DOC_PARTS[part][1]
    return any(t in wanted or (part == "channels" and t not in _NAMED_TAGS) for t in tags)


@router.get("/openapi/{part}.json", include_in_schema=False)
async def openapi_part(request: Request, part: str) -> JSONResponse:
    """The OpenAPI document with only the operations of one part of the reference."""
    if part not in DOC_PARTS:
        raise NotFound("no such part of the API reference")
    spec = request.app.openapi()
    paths = {}
    for path, operations in spec.get("paths", {}).items():
        kept = {m: op for m, op in operations.items() if _in_part(part, op.get("tags") or [""])}
        if kept:
            paths[path] = kept
    return JSONResponse({**spec, "paths": paths})


@router.get("/docs", include_in_schema=False)
async def api_docs(part: str = "core") -> HTMLResponse:
    """Swagger UI over one part of the API, from the package's own files: it works offline."""
    if part not in DOC_PARTS:
        raise NotFound("no such part of the API reference")
    page = get_swagger_ui_html(
        openapi_url=f"/openapi/{part}.json",
        title=f"Frontdesk API · {DOC_PARTS[part][0]}",
        swagger_js_url=f"/static/swagger-ui/swagger-ui-bundle.js?v={SWAGGER_UI}",
        swagger_css_url=f"/static/swagger-ui/swagger-ui.css?v={SWAGGER_UI}",
        swagger_favicon_url="data:,",
        # Swagger UI would otherwise send the document to validator.swagger.io for a badge.
        swagger_ui_parameters={"validatorUrl": None},
    )
    current = ' aria-current="page"'
    links = " · ".join(
        f'<a href="/docs?part={name}"{current if name == part else ""}'
        f' data-testid="fd-docs-part">{label}</a>'
        for name, (label, _) in DOC_PARTS.items()
    )
    nav = (
        '<nav aria-label="API reference" style="font:14px sans-serif;padding:8px 20px">'
        f'{links} · <a href="/openapi.json">openapi.json</a></nav>'
    )
    body = bytes(page.body).decode().replace("<body>", f"<body>\n{nav}", 1)
    return HTMLResponse(body)


@router.get("/static/{name:path}")
async def static_file(name: str) -> Response:
    # Only the names listed are served: the path never reaches the file system unchecked.
    media_type = STATIC_FILES.get(name)
    if media_type is None:
        raise NotFound("not found")
    return Response(
        (STATIC / name).read_bytes(),
        media_type=media_type,
        headers={"cache-control": "max-age=300", "x-content-type-options": "nosniff"},
    )


@router.post("/demo/sink")
async def demo_sink(request: Request, runtime: RuntimeDep, session: SessionDep) -> JSONResponse:
    """The demo inboxes' webhook target: accepts correctly signed deliveries (demo only)."""
    if runtime.settings.env != "development":
        raise NotFound("not found")
    body = await request.body()
    for inbox in await inboxes_repository.list_inboxes(session, only=None, after=None, limit=200):
        if verify_signature(inbox.secret, body, request.headers.get("x-frontdesk-signature")):
            return JSONResponse({"ok": True})
    return JSONResponse(error_body("bad_signature", "signature missing or wrong"), status_code=401)

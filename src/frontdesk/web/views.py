"""Server-rendered pages: log in, the conversation list, a conversation, a customer timeline.
(The full agent desktop is its own piece of work; these pages use the same services.)"""

from __future__ import annotations

import hmac
import secrets
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from frontdesk.auth import service as auth_service
from frontdesk.auth.models import Agent
from frontdesk.channels import repository as channels_repository
from frontdesk.channels.service import visible_inbox_ids
from frontdesk.conversations import repository as conversations_repository
from frontdesk.conversations import service as conversations
from frontdesk.conversations.schemas import ReplyCreate
from frontdesk.customers import service as customers
from frontdesk.deps import SESSION_COOKIE, RuntimeDep, SessionDep
from frontdesk.kit import uow
from frontdesk.kit.errors import NotFound, Unauthorized, error_body
from frontdesk.kit.security import verify_signature

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))

CSRF_COOKIE = "fd_csrf"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
RTL_LANGUAGES = {"ar", "fa"}


class LoginRequired(Exception):
    pass


async def page_agent(request: Request, session: SessionDep) -> Agent:
    token = request.cookies.get(SESSION_COOKIE)
    agent = await auth_service.agent_for_token(session, token) if token else None
    if agent is None:
        raise LoginRequired
    return agent


PageAgent = Annotated[Agent, Depends(page_agent)]


def render(
    request: Request,
    name: str,
    context: dict[str, Any],
    *,
    agent: Agent | None = None,
    status: int = 200,
) -> HTMLResponse:
    csrf = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)
    language = agent.language if agent else "en"
    response = templates.TemplateResponse(
        request,
        name,
        {
            **context,
            "agent": agent,
            "csrf": csrf,
            "lang": language,
            "dir": "rtl" if language in RTL_LANGUAGES else "ltr",
        },
        status_code=status,
    )
    response.set_cookie(CSRF_COOKIE, csrf, httponly=True, samesite="strict")
    response.headers["content-security-policy"] = CSP
    response.headers["x-frame-options"] = "DENY"
    response.headers["referrer-policy"] = "same-origin"
    return response


def check_csrf(request: Request, submitted: str) -> None:
    expected = request.cookies.get(CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(expected, submitted):
        raise Unauthorized("form expired, reload the page", code="csrf")


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request) -> HTMLResponse:
    return render(request, "login.html", {"error": None})


@router.post("/login")
async def login(
    request: Request,
    session: SessionDep,
    email: Annotated[str, Form()],
    password: Annotated[str, Form()],
    csrf: Annotated[str, Form()],
) -> Response:
    check_csrf(request, csrf)
    try:
        agent = await auth_service.authenticate(session, email, password)
    except Unauthorized:
        return render(request, "login.html", {"error": "Wrong e-mail or password."}, status=401)
    token = await auth_service.issue_token(session, agent, kind="session", name="browser")
    await uow.commit(session)
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="lax", max_age=14 * 86400)
    return response


@router.post("/logout")
async def logout(request: Request, session: SessionDep, csrf: Annotated[str, Form()]) -> Response:
    check_csrf(request, csrf)
    if token := request.cookies.get(SESSION_COOKIE):
        await auth_service.revoke_token(session, token)
        await uow.commit(session)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/", response_class=HTMLResponse)
async def inbox_page(
    request: Request, session: SessionDep, agent: PageAgent, status: str | None = "open"
) -> HTMLResponse:
    rows = await conversations_repository.list_conversations(
        session,
        inbox_ids=await visible_inbox_ids(session, agent),
        status=status or None,
        inbox_id=None,
        assignee_id=None,
        customer_id=None,
        before=None,
        limit=100,
    )
    items = []
    for row in rows:
        customer = await customers.get_or_raise(session, row.customer_id, agent=agent)
        inbox = await channels_repository.get_inbox(session, row.inbox_id)
        items.append({"conversation": row, "customer": customer, "inbox": inbox})
    return render(request, "inbox.html", {"items": items, "status": status}, agent=agent)


@router.get("/conversations/{conversation_id}", response_class=HTMLResponse)
async def conversation_page(
    request: Request, conversation_id: int, session: SessionDep, agent: PageAgent
) -> HTMLResponse:
    conversation = await conversations.get_or_raise(session, conversation_id, agent=agent)
    customer = await customers.get_or_raise(session, conversation.customer_id, agent=agent)
    messages = await conversations_repository.list_messages(
        session, conversation.id, after=None, limit=500
    )
    return render(
        request,
        "conversation.html",
        {"conversation": conversation, "customer": customer, "messages": messages},
        agent=agent,
    )


@router.post("/conversations/{conversation_id}/reply")
async def reply_form(
    request: Request,
    conversation_id: int,
    session: SessionDep,
    agent: PageAgent,
    text: Annotated[str, Form()],
    csrf: Annotated[str, Form()],
) -> Response:
    check_csrf(request, csrf)
    conversation = await conversations.get_or_raise(session, conversation_id, agent=agent)
    await conversations.reply(session, conversation, author=agent, data=ReplyCreate(text=text))
    await uow.commit(session)
    return RedirectResponse(f"/conversations/{conversation_id}", status_code=303)


@router.get("/customers/{customer_id}", response_class=HTMLResponse)
async def customer_page(
    request: Request, customer_id: int, session: SessionDep, agent: PageAgent
) -> HTMLResponse:
    customer = await customers.get_or_raise(session, customer_id, agent=agent)
    timeline = await customers.timeline(session, customer, agent=agent, after=None, limit=500)
    profile = await customers.read(session, customer)
    return render(
        request, "customer.html", {"customer": profile, "timeline": timeline}, agent=agent
    )


@router.get("/static/app.css")
async def stylesheet() -> Response:
    css = (Path(__file__).parent / "static" / "app.css").read_text()
    return Response(css, media_type="text/css", headers={"cache-control": "max-age=300"})


@router.post("/demo/sink")
async def demo_sink(request: Request, runtime: RuntimeDep, session: SessionDep) -> JSONResponse:
    """The demo inboxes' webhook target: accepts correctly signed deliveries (demo only)."""
    if runtime.settings.env != "development":
        raise NotFound("not found")
    body = await request.body()
    for inbox in await channels_repository.list_inboxes(session, only=None, after=None, limit=200):
        if verify_signature(inbox.secret, body, request.headers.get("x-frontdesk-signature")):
            return JSONResponse({"ok": True})
    return JSONResponse(error_body("bad_signature", "signature missing or wrong"), status_code=401)

"""Settings (admins only): the inboxes of every installed channel — list, create (pick a
channel, then its form), edit, disable and enable, Test connection, and what to paste where
in the provider's console. Everything goes through the inbox service and the channel port,
as the API does; the form is generated from the channel's settings schema (settings_form)."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData

from frontdesk.auth import repository as auth_repository
from frontdesk.auth.models import Agent
from frontdesk.deps import RuntimeDep, SessionDep
from frontdesk.inboxes import repository, service
from frontdesk.inboxes import secrets as sealed
from frontdesk.inboxes.models import Inbox
from frontdesk.inboxes.port import (
    can_check,
    can_register_webhook,
    channel_plugins,
    find_adapter,
    plugin_for,
    webhook_url,
)
from frontdesk.inboxes.schemas import InboxCreate, InboxUpdate
from frontdesk.kit import uow
from frontdesk.kit.errors import Forbidden, FrontdeskError, NotFound, invalid_input
from frontdesk.kit.schemas import Id
from frontdesk.web import settings_text as text
from frontdesk.web.rendering import PageAgent, check_csrf, render
from frontdesk.web.settings_form import Field, form_fields, settings_from_form

router = APIRouter(include_in_schema=False)
# Channels whose provider console takes a verify token next to the webhook URL.
VERIFY_TOKEN_CHANNELS = frozenset({"whatsapp", "messenger", "instagram"})
_WHERE = re.compile(r"^(?:settings\.)?([A-Za-z0-9_.]+): ")


async def admin_page(agent: PageAgent) -> Agent:
    if agent.role != "admin":
        raise Forbidden("only admins may do this", code="admin_only")
    return agent


AdminPage = Annotated[Agent, Depends(admin_page)]


@router.get("/settings", response_class=HTMLResponse)
async def settings_page(request: Request, admin: AdminPage) -> HTMLResponse:
    return render(request, "settings.html", {}, agent=admin)


@router.get("/settings/inboxes", response_class=HTMLResponse)
async def inboxes_page(request: Request, session: SessionDep, admin: AdminPage) -> HTMLResponse:
    rows = await repository.list_inboxes(session, only=None, after=None, limit=1000)
    return render(request, "settings_inboxes.html", {"inboxes": rows, **_words()}, agent=admin)


@router.get("/settings/inboxes/new", response_class=HTMLResponse)
async def new_inbox_page(
    request: Request, session: SessionDep, admin: AdminPage, channel: str = ""
) -> HTMLResponse:
    plugin = plugin_for(channel)
    if plugin is None:
        names = [p.name for p in channel_plugins()]
        return render(request, "settings_new.html", {"channels": names, **_words()}, agent=admin)
    fields = form_fields(plugin.settings_schema, {})
    return await _form_page(request, session, admin, channel=channel, fields=fields)


@router.post("/settings/inboxes/new", response_class=HTMLResponse)
async def create_inbox(
    request: Request, session: SessionDep, admin: AdminPage, runtime: RuntimeDep
) -> Response:
    form = await request.form()
    check_csrf(request, str(form.get("csrf") or ""))
    channel = str(form.get("channel") or "")
    plugin = plugin_for(channel)
    if plugin is None:
        raise NotFound("channel not found")
    fields = form_fields(plugin.settings_schema, {})
    try:
        data = InboxCreate(
            channel=channel,
            name=str(form.get("name") or ""),
            team_ids=_team_ids(form),
            settings=settings_from_form(fields, form, editing=False),
        )
        inbox = await service.create_inbox(session, data, runtime.settings)
    except (ValidationError, FrontdeskError) as exc:
        # Nothing was written: the request's transaction is never committed.
        return await _form_page(
            request, session, admin, channel=channel, fields=_refill(fields, form),
            **_error(exc), form=form, status=422,
        )  # fmt: skip
    await uow.commit(session)
    if channel != "api":
        return RedirectResponse(f"/settings/inboxes/{inbox.id}?created=1", status_code=303)
    # The API inbox's signing secret is shown this once (as POST /api/v1/inboxes does).
    return await _inbox_page(request, session, admin, inbox, created_secret=inbox.secret)


@router.get("/settings/inboxes/{inbox_id}", response_class=HTMLResponse)
async def inbox_page(
    request: Request, inbox_id: Id, session: SessionDep, admin: AdminPage
) -> HTMLResponse:
    inbox = await service.get_inbox_or_raise(session, inbox_id, agent=admin)
    notice = "created" if request.query_params.get("created") else None
    notice = "saved" if request.query_params.get("saved") else notice
    return await _inbox_page(request, session, admin, inbox, notice=notice)


@router.post("/settings/inboxes/{inbox_id}", response_class=HTMLResponse)
async def update_inbox(
    request: Request, inbox_id: Id, session: SessionDep, admin: AdminPage, runtime: RuntimeDep
) -> Response:
    form = await request.form()
    check_csrf(request, str(form.get("csrf") or ""))
    inbox = await service.get_inbox_or_raise(session, inbox_id, agent=admin)
    plugin = plugin_for(inbox.channel)
    fields = form_fields(plugin.settings_schema if plugin else None, inbox.settings)
    try:
        data = InboxUpdate(
            name=str(form.get("name") or ""),
            team_ids=_team_ids(form),
            settings=settings_from_form(fields, form, editing=True),
        )
        await service.update_inbox(session, inbox, data, runtime.settings)
    except (ValidationError, FrontdeskError) as exc:
        # Nothing is kept: the request's transaction is never committed.
        return await _inbox_page(
            request, session, admin, inbox, **_error(exc), form=form,
            fields=_refill(form_fields(plugin.settings_schema if plugin else None,
                                       inbox.settings), form), status=422,
        )  # fmt: skip
    await uow.commit(session)
    runtime.inboxes.forget(inbox.id)
    return RedirectResponse(f"/settings/inboxes/{inbox.id}?saved=1", status_code=303)


@router.post("/settings/inboxes/{inbox_id}/active")
async def set_active(
    request: Request, inbox_id: Id, session: SessionDep, admin: AdminPage, runtime: RuntimeDep
) -> Response:
    form = await request.form()
    check_csrf(request, str(form.get("csrf") or ""))
    inbox = await service.get_inbox_or_raise(session, inbox_id, agent=admin)
    if form.get("active") == "true":
        await service.update_inbox(session, inbox, InboxUpdate(active=True), runtime.settings)
    else:
        await service.deactivate_inbox(session, inbox)
    await uow.commit(session)
    runtime.inboxes.forget(inbox_id)
    return RedirectResponse(f"/settings/inboxes/{inbox_id}", status_code=303)


@router.post("/settings/inboxes/{inbox_id}/check", response_class=HTMLResponse)
async def check_connection(
    request: Request, inbox_id: Id, session: SessionDep, admin: AdminPage, runtime: RuntimeDep
) -> HTMLResponse:
    """Test connection, answered as the inline result (htmx swaps it in)."""
    form = await request.form()
    check_csrf(request, str(form.get("csrf") or ""))
    inbox = await service.get_inbox_or_raise(session, inbox_id, agent=admin)
    await uow.end_read(session)
    try:
        found = await service.check_connection(inbox, runtime.settings)
        result: dict[str, Any] = {"outcome": "ok" if found.ok else "nothing", "check": found}
    except FrontdeskError as exc:
        result = {"outcome": "refused", **_error(exc)}
    return render(request, "_settings_check.html", {"result": result, **_words()}, agent=admin)


@router.post("/settings/inboxes/{inbox_id}/register", response_class=HTMLResponse)
async def register_webhook(
    request: Request, inbox_id: Id, session: SessionDep, admin: AdminPage, runtime: RuntimeDep
) -> HTMLResponse:
    """Tell a provider configured through its API (Telegram) where to deliver."""
    form = await request.form()
    check_csrf(request, str(form.get("csrf") or ""))
    inbox = await service.get_inbox_or_raise(session, inbox_id, agent=admin)
    hook = getattr(find_adapter(inbox.channel), "register_webhook", None)
    if hook is None:
        raise NotFound("nothing to register")
    await uow.end_read(session)
    try:
        url = await hook(sealed.opened_inbox(inbox, runtime.settings), runtime.settings)
        result: dict[str, Any] = {"outcome": "registered", "url": url}
    except FrontdeskError as exc:
        result = {"outcome": "refused", **_error(exc)}
    return render(request, "_settings_check.html", {"result": result, **_words()}, agent=admin)


async def _inbox_page(
    request: Request, session: AsyncSession, admin: Agent, inbox: Inbox, *,
    fields: list[Field] | None = None, status: int = 200, **extra: Any,
) -> HTMLResponse:  # fmt: skip
    app = request.app.state.runtime.settings
    plugin = plugin_for(inbox.channel)
    base = app.base_url.rstrip("/")
    context = {
        "inbox": inbox,
        "channel": inbox.channel,
        "fields": fields or form_fields(plugin.settings_schema if plugin else None, inbox.settings),
        "teams": await auth_repository.list_teams(session),
        "team_ids": set(await repository.inbox_team_ids(session, inbox.id)),
        "webhook_url": webhook_url(inbox, app),
        "verify_token": inbox.settings.get("verify_token")
        if inbox.channel in VERIFY_TOKEN_CHANNELS
        else None,
        "inbound_url": f"{base}/api/v1/inboxes/{inbox.id}/inbound"
        if inbox.channel == "api"
        else None,
        "embed": f'<script src="{base}/widget.js" data-inbox="{inbox.id}" async></script>'
        if inbox.channel == "webchat"
        else None,
        "can_check": can_check(inbox.channel),
        "can_register": can_register_webhook(inbox.channel),
        **_words(),
        **extra,
    }
    return render(request, "settings_inbox.html", context, agent=admin, status=status)


async def _form_page(
    request: Request, session: AsyncSession, admin: Agent, *, channel: str,
    fields: list[Field], status: int = 200, **extra: Any,
) -> HTMLResponse:  # fmt: skip
    context = {
        "channel": channel,
        "fields": fields,
        "teams": await auth_repository.list_teams(session),
        "team_ids": set(_team_ids(extra["form"])) if extra.get("form") else set(),
        **_words(),
        **extra,
    }
    return render(request, "settings_inbox_form.html", context, agent=admin, status=status)


def _words() -> dict[str, Any]:
    return {
        "channel_names": text.CHANNEL_NAMES,
        "channel_icons": text.CHANNEL_ICONS,
        "labels": text.FIELD_LABELS,
        "option_labels": text.OPTION_LABELS,
        "hints": text.CONSOLE_HINTS,
        "errors_text": text.SETTINGS_ERRORS,
        "field_errors_text": text.FIELD_ERRORS,
    }


def _team_ids(form: FormData) -> list[int]:
    return [int(str(v)) for v in form.getlist("team_ids") if str(v).isdigit()][:100]


def _refill(fields: list[Field], form: FormData) -> list[Field]:
    """The fields showing what the admin typed (so a refused form loses nothing; secrets
    are never sent back into the page)."""
    for item in fields:
        if item.kind == "block":
            _refill(item.children, form)
        elif item.kind == "checkbox":
            item.value = item.path in form
        elif item.kind == "choices":
            item.value = [str(v) for v in form.getlist(item.path)]
        elif item.kind != "secret" and item.path in form:
            item.value = str(form.get(item.path))
    return fields


def _error(exc: ValidationError | FrontdeskError) -> dict[str, Any]:
    """What the page says about a refusal: a message by code (translated in the template),
    the fields it names (by their form path), and the provider's own words when a provider
    refused (shown as quoted, left-to-right text)."""
    if isinstance(exc, ValidationError):
        exc = invalid_input(exc.errors(), where=())
    code = exc.code if exc.code in text.SETTINGS_ERRORS else "other"
    words = None
    if code in ("provider_refused", "provider_unreachable"):
        words = exc.message.split(": ", 1)[-1]
    return {"error_code": code, "provider_words": words, "field_errors": _field_errors(exc)}


def _field_errors(exc: FrontdeskError) -> dict[str, str]:
    found: dict[str, str] = {}
    details = exc.details or []
    if not details and (match := _WHERE.match(exc.message)):
        details = [{"loc": match[1].split("."), "msg": exc.message[match.end() :]}]
    for detail in details:
        loc = [str(part) for part in detail.get("loc", ()) if str(part) != "body"]
        if loc and loc[0] == "settings":
            loc = loc[1:]
        if not loc:
            continue
        path = loc[0] if loc[0] in ("name", "team_ids") else "s." + ".".join(loc)
        kind = "missing" if "required" in str(detail.get("msg", "")).lower() else "invalid"
        found.setdefault(path, kind)
    return found

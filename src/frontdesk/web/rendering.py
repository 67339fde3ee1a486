"""Page rendering for the agent desktop: templates in the agent's language, CSP, CSRF."""

from __future__ import annotations

import hmac
import secrets
from datetime import UTC, datetime
from pathlib import Path
from types import FunctionType
from typing import Annotated, Any
from urllib.parse import urlsplit
from zlib import crc32

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, Template, select_autoescape
from jinja2.runtime import Context
from markupsafe import Markup
from markupsafe import escape as markup_escape
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData

from frontdesk.auth.models import Agent
from frontdesk.auth.service import SESSION_LIFETIME
from frontdesk.config import Settings
from frontdesk.deps import SESSION_COOKIE, SessionDep
from frontdesk.desk import workspace
from frontdesk.kit import uow
from frontdesk.kit.errors import FrontdeskError, Unauthorized
from frontdesk.kit.i18n import (
    direction,
    format_number,
    format_relative,
    format_when,
    language,
    localise_digits,
    translator,
)
from frontdesk.kit.security import sanitize_html
from frontdesk.web.delivery_text import failure

try:  # MarkupSafe's C escaping of a str, without its Python wrappers (see _escape)
    from markupsafe import _escape_inner
except ImportError:  # pragma: no cover - another MarkupSafe: its public escape

    def _escape_inner(s: str, /) -> str:
        return str(markup_escape(s))


_new_str = str.__new__


def _escape(value: Any) -> Markup:
    """`{{ value }}`'s escaping, as `markupsafe.escape` does it (the same text), without its
    two Python calls per value: a page of 100 rows and a timeline escapes some 3,000 values,
    and `escape` with `Markup.__new__` were ~8% of the full conversation page's CPU."""
    kind = type(value)
    if kind is str:
        return _new_str(Markup, _escape_inner(value))
    if kind is Markup:  # already safe: escape would copy it
        return value
    return markup_escape(value)


class _Template(Template):
    """Templates whose `{{ … }}` escape with _escape (the compiled code looks `escape` up in
    its module's namespace, which Jinja fills from jinja2.runtime)."""

    @classmethod
    def _from_namespace(cls, environment: Environment, namespace: Any, globals: Any) -> Any:
        namespace["escape"] = _escape
        return super()._from_namespace(environment, namespace, globals)


class _Context(Context):
    """`context.call` (every function call in a template: each `_("…")`) skips Jinja's two
    `pass_context` probes — attribute lookups that raise and catch AttributeError — for
    plain functions without Jinja's marker; anything else goes Jinja's way."""

    def call(__self, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        if type(__obj) is not FunctionType or "jinja_pass_arg" in __obj.__dict__:
            return super().call(__obj, *args, **kwargs)
        if kwargs:
            kwargs.pop("_block_vars", None)
            kwargs.pop("_loop_vars", None)
        try:
            return __obj(*args, **kwargs)
        except StopIteration:
            return __self.environment.undefined(
                "value was undefined because a callable raised a StopIteration exception"
            )


class _Environment(Environment):
    template_class = _Template
    context_class = _Context


# auto_reload off: templates are package files, changed only by an upgrade (a restart); with
# it on, Jinja stat()s every template and include on every render. lstrip_blocks: the
# indentation before a line's {% … %} tag is not sent (in a list of 100 rows, ~10 KB of
# spaces; HTML collapses whitespace, so nothing renders differently — no tag stands at the
# start of a line inside a <pre> or <textarea>).
templates = Jinja2Templates(
    env=_Environment(
        loader=FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=select_autoescape(),
        auto_reload=False,
        lstrip_blocks=True,
    )
)

CSRF_COOKIE = "fd_csrf"
# No inline script or style anywhere: scripts and styles come from our own static files.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; "
    "object-src 'none'"
)
# Glyphs from DejaVu Sans (Debian's default font), so none renders as an empty box.
CHANNEL_ICONS = {
    "api": "⇄", "email": "✉", "webchat": "✍", "sms": "✆", "sms_gateway": "✆",
    "whatsapp": "☏", "telegram": "✈", "messenger": "◉", "instagram": "◎", "voice": "☎",
    "cti": "☎",
}  # fmt: skip


AVATAR_COLOURS = 8  # .av-0 … .av-7 in app.css, each with text at 4.5:1 or better


def ago(value: datetime | None, lang: str, *, now: datetime | None = None) -> str:
    """ "5 min. ago" / "in 2 days" in the language, its digits localised."""
    if value is None:
        return ""
    moment = value if value.tzinfo else value.replace(tzinfo=UTC)
    return format_relative(moment - (now or datetime.now(UTC)), lang)


def initials(name: str | None) -> str:
    """Up to two letters for an avatar: the first of the first and last words."""
    words = [w for w in (name or "").split() if w[:1].isalnum()]
    if not words:
        return "?"
    return (words[0][0] + (words[-1][0] if len(words) > 1 else "")).upper()


def avatar_class(key: object) -> str:
    """A stable colour class per person (the same customer always the same colour)."""
    return f"av-{crc32(str(key).encode()) % AVATAR_COLOURS}"


def channel_names() -> dict[str, str]:
    # Imported here: settings_text imports this module (for the icons).
    from frontdesk.web.settings_text import CHANNEL_NAMES

    return CHANNEL_NAMES


class LoginRequired(Exception):
    pass


async def page_agent(request: Request, session: SessionDep) -> Agent:
    token = request.cookies.get(SESSION_COOKIE)
    # One statement: the agent, their presence and their preferences.
    found = await workspace.desk_agent(session, token) if token else None
    if found is None:
        raise LoginRequired
    agent, presence = found
    request.state.presence = presence.status
    # Every page tells desk.js which browser notifications the agent wants (read with the
    # agent above).
    request.state.prefs = await workspace.preferences(session, agent)
    return agent


PageAgent = Annotated[Agent, Depends(page_agent)]


def safe_html(html: str | None) -> Markup:
    """Message HTML is sanitised when stored; sanitised again here, so a row written by an
    older version or by hand can never put script into an agent's page."""
    return Markup(sanitize_html(html) or "")


def render(
    request: Request,
    name: str,
    context: dict[str, Any],
    *,
    agent: Agent | None = None,
    status: int = 200,
    page_language: str | None = None,
) -> HTMLResponse:
    """A page in the agent's language, else `page_language` (public pages name theirs in
    the path), else the `lang` query parameter."""
    csrf = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)
    lang = language(agent.language if agent else page_language or request.query_params.get("lang"))

    def when(value: datetime | None) -> str:
        return format_when(value, lang)

    def number(value: int) -> str:
        return format_number(value, lang)

    def relative(value: datetime | None) -> str:
        return ago(value, lang)

    def timer(seconds: int, *, hours: bool = False, with_seconds: bool = True) -> str:
        """A duration or a timer as a clock in the language's own digits: "4:05" (minutes),
        with `hours` "1:04:05", and without `with_seconds` "1:04"."""
        parts = [seconds // 3600, seconds % 3600 // 60] if hours else [seconds // 60]
        if with_seconds:
            parts.append(seconds % 60)
        return localise_digits(f"{parts[0]}" + "".join(f":{p:02d}" for p in parts[1:]), lang)

    translate = translator(lang)

    def inbox_name(inbox: Any) -> str:
        """The inbox's name beside its channel's, or "" when it only repeats it ("Website
        chat", in English or in the agent's language)."""
        label = channel_names().get(inbox.channel, inbox.channel)
        same = {label.casefold(), translate(label).casefold()}
        return "" if inbox.name.casefold() in same else str(inbox.name)

    response = templates.TemplateResponse(
        request,
        name,
        {
            **context,
            "agent": agent,
            "csrf": csrf,
            "lang": lang,
            "dir": direction(lang),
            "_": translate,
            "when": when,
            "number": number,
            "timer": timer,
            "inbox_name": inbox_name,
            "failure": failure,
            "safe_html": safe_html,
            "icons": CHANNEL_ICONS,
            "channel_labels": channel_names(),
            "ago": relative,
            "initials": initials,
            "avatar_class": avatar_class,
            "presence": getattr(request.state, "presence", "offline"),
            "prefs": getattr(request.state, "prefs", None),
            # `frontdesk demo` (development): the desktop links the demo's phone and mailbox.
            "demo_mode": request.app.state.runtime.settings.env == "development",
        },
        status_code=status,
    )
    response.set_cookie(CSRF_COOKIE, csrf, httponly=True, samesite="strict", secure=_https(request))
    secure_headers(response)
    return response


def _https(request: Request) -> bool:
    return bool(request.app.state.runtime.settings.https)


def session_cookie(response: Any, settings: Settings, token: str) -> None:
    """The desktop's session cookie (Secure whenever BASE_URL is https)."""
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        max_age=int(SESSION_LIFETIME.total_seconds()),
        secure=settings.https,
    )


def secure_headers(response: Any) -> None:
    response.headers["content-security-policy"] = CSP
    response.headers["x-frame-options"] = "DENY"
    response.headers["referrer-policy"] = "same-origin"
    response.headers["x-content-type-options"] = "nosniff"


def check_csrf(request: Request, submitted: str) -> None:
    """The form's token must match its cookie, and a browser's Origin must be ours: this host
    or BASE_URL ("null" and other sites are refused; no Origin, as from old browsers and
    non-browser clients, leaves the token check alone)."""
    expected = request.cookies.get(CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(expected, submitted):
        raise Unauthorized("form expired, reload the page", code="csrf")
    origin = request.headers.get("origin")
    if origin is not None and not _own_origin(request, origin):
        raise Unauthorized("form sent from another site", code="csrf")


async def checked_form(request: Request) -> FormData:
    """A settings page's posted form, its CSRF token checked."""
    form = await request.form()
    check_csrf(request, str(form.get("csrf") or ""))
    return form


async def refused(session: AsyncSession, *kept: Any) -> None:
    """Undo a refused form's writes, keeping the page's agent (and `kept`) loaded for the
    page that explains the refusal (a rollback expires every loaded row)."""
    await uow.rollback(session)
    for row in kept:
        await session.refresh(row)


def form_problem(exc: Exception) -> dict[str, Any]:
    """What a settings page shows for a refused form: the error's code and message."""
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ()))
        return {"code": "invalid", "message": f"{where}: {first.get('msg', '')}"}
    if isinstance(exc, FrontdeskError):
        return {"code": exc.code, "message": exc.message}
    return {"code": "invalid", "message": str(exc)}


def _own_origin(request: Request, origin: str) -> bool:
    parts = urlsplit(origin)
    if not parts.scheme or not parts.netloc:
        return False
    base = urlsplit(request.app.state.runtime.settings.base_url)
    return parts.netloc == request.headers.get("host") or (
        parts.scheme,
        parts.netloc,
    ) == (base.scheme, base.netloc)

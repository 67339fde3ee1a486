"""Error pages for people: a browser that asks for a desktop page and meets a 403, 404 or 405
gets an HTML page in the agent's language; the API, the widget and htmx fragments keep the
JSON error body."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse

from frontdesk.auth import service as auth_service
from frontdesk.auth.models import Agent
from frontdesk.deps import SESSION_COOKIE
from frontdesk.runtime import Runtime
from frontdesk.web.rendering import render

# Machine surfaces: their callers read JSON whatever their Accept header says.
MACHINE_PREFIXES = ("/api/", "/widget", "/openapi.json", "/healthz", "/readyz", "/metrics")
# The page's heading and sentence per status (translated in locale/*/messages.po).
PAGES = {
    403: ("Not allowed", "You do not have access to this page."),
    404: ("Page not found", "This page does not exist, or it is not yours to see."),
    405: ("Page not found", "This page does not exist, or it is not yours to see."),
}


def wants_page(request: Request, status: int) -> bool:
    """A person's browser navigating to a desktop page (not a script, not a fragment)."""
    return (
        status in PAGES
        and request.method in ("GET", "HEAD")
        and "text/html" in request.headers.get("accept", "")
        and "hx-request" not in request.headers
        and not request.url.path.startswith(MACHINE_PREFIXES)
    )


async def error_page(request: Request, status: int) -> HTMLResponse:
    """The error page, in the signed-in agent's language (else `?lang=`, else English)."""
    heading, sentence = PAGES[status]
    return render(
        request,
        "error.html",
        {"status": status, "heading": heading, "sentence": sentence},
        agent=await _agent(request),
        status=status,
    )


async def _agent(request: Request) -> Agent | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    runtime: Runtime = request.app.state.runtime
    # Read only: the session is closed without a commit.
    async with runtime.db.session() as session:
        return await auth_service.agent_for_token(session, token, kind="session")

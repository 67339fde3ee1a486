"""Settings -> Sentiment (admins only): the frustration threshold and the priority rule.
Writes go through sentiment.service, as the API's do."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from frontdesk.auth.models import Agent
from frontdesk.conversations.models import PRIORITIES
from frontdesk.deps import SessionDep
from frontdesk.kit import uow
from frontdesk.sentiment import service
from frontdesk.sentiment.schemas import RuleRead, RuleUpdate
from frontdesk.web.rendering import check_csrf, render
from frontdesk.web.settings_views import AdminPage

router = APIRouter(include_in_schema=False)


@router.get("/settings/sentiment", response_class=HTMLResponse)
async def sentiment_page(request: Request, session: SessionDep, admin: AdminPage) -> HTMLResponse:
    rule = service.read_rule(await service.rule(session))
    saved = request.query_params.get("saved")
    return _page(request, admin, rule, saved=bool(saved))


@router.post("/settings/sentiment", response_class=HTMLResponse)
async def save_sentiment(request: Request, session: SessionDep, admin: AdminPage) -> Response:
    form = await request.form()
    check_csrf(request, str(form.get("csrf") or ""))
    below = str(form.get("frustrated_below") or "")
    try:
        threshold: object = float(below)  # the API's field is a strict number
    except ValueError:
        threshold = below  # refused below with the field's own message
    values = {
        "raise_priority": form.get("raise_priority") == "1",
        "raise_to": str(form.get("raise_to") or ""),
        "frustrated_below": threshold,
    }
    try:
        data = RuleUpdate.model_validate(values)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ()))
        current = service.read_rule(await service.rule(session))
        problem = f"{where}: {first.get('msg', '')}"
        return _page(request, admin, current, problem=problem, status=422)
    await service.update_rule(session, data, by=admin)
    await uow.commit(session)
    return RedirectResponse("/settings/sentiment?saved=1", status_code=303)


def _page(
    request: Request,
    admin: Agent,
    rule: RuleRead,
    *,
    saved: bool = False,
    problem: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    context = {"rule": rule, "priorities": PRIORITIES, "saved": saved, "problem": problem}
    return render(request, "settings_sentiment.html", context, agent=admin, status=status)

"""The customer's survey pages (no login; the signed token is the credential): a one-click
score link records the score and opens the comment page; the bare link shows the scale.
A forged, reused or expired link gets a page saying so, in the survey's language (the
visitor's when the token names no survey). And Settings → Surveys (admins): each inbox's
survey, through the same service as the API."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.auth import repository as auth_repository
from frontdesk.deps import RuntimeDep, SessionDep
from frontdesk.inboxes import repository as inboxes_repository
from frontdesk.kit import uow
from frontdesk.kit.errors import Invalid
from frontdesk.kit.i18n import localise_digits
from frontdesk.kit.schemas import Id
from frontdesk.surveys import questions, repository, service
from frontdesk.surveys.models import KINDS, SCALES, TRIGGERS, Survey
from frontdesk.surveys.schemas import SurveyConfigWrite
from frontdesk.surveys.service import SurveyRefused
from frontdesk.web.help_views import preferred_language
from frontdesk.web.rendering import check_csrf, render
from frontdesk.web.settings_views import AdminPage

router = APIRouter(include_in_schema=False)
# Status of each refusal's page: gone for good (expired), already used, or not ours.
REFUSED_STATUS = {"forged": 404, "answered": 409, "expired": 410}


def _page(request: Request, survey: Survey | None, name: str, context: dict[str, Any],
          status: int = 200) -> HTMLResponse:  # fmt: skip
    lang = survey.language if survey else preferred_language(request.headers.get("accept-language"))
    response = render(request, name, context, page_language=lang, status=status)
    response.headers["cache-control"] = "no-store"
    # The token is in the path: never hand it to another site in a Referer.
    # "same-origin", not "no-referrer": under no-referrer a browser posts the page's own
    # forms with `Origin: null`, which the CSRF check rightly refuses (the comment form
    # never worked in a browser that way).
    response.headers["referrer-policy"] = "same-origin"
    return response


def _refused(request: Request, exc: SurveyRefused, survey: Survey | None) -> HTMLResponse:
    return _page(request, survey, "survey_refused.html", {"reason": exc.code},
                 status=REFUSED_STATUS.get(exc.code, 409))  # fmt: skip


async def _found(session: AsyncSession, token: str, runtime: Any) -> Survey:
    return (await service.by_token(session, token, runtime.settings)).survey


@router.get("/surveys/r/{token}", response_class=HTMLResponse)
async def survey_link(
    request: Request, token: str, session: SessionDep, runtime: RuntimeDep, score: str = ""
) -> Response:
    """With `score`: the one-click link's page, which records nothing by itself. Mail
    scanners open every link of a message; had a GET recorded the score, the first link
    they opened would stand as the customer's answer. The page posts the score at once
    (static/survey.js; a button without JavaScript), and the post opens the comment page.
    Without `score`: the scale."""
    survey = None
    try:
        survey = await _found(session, token, runtime)
        if not score:
            if survey.status == "answered":
                return RedirectResponse(f"/surveys/r/{token}/comment", status_code=303)
            service.check_open(survey)
            return _page(request, survey, "survey.html", _scale(survey, token))
        value = _score(survey, score)
        service.check_open(survey)
    except SurveyRefused as exc:
        return _refused(request, exc, survey)
    label = localise_digits(str(value), survey.language)
    return _page(request, survey, "survey_confirm.html",
                 {"survey": survey, "token": token, "score": value, "label": label})  # fmt: skip


@router.post("/surveys/r/{token}", response_class=HTMLResponse)
async def post_score(
    request: Request,
    token: str,
    session: SessionDep,
    runtime: RuntimeDep,
    csrf: Annotated[str, Form()] = "",
    score: Annotated[str, Form(max_length=4)] = "",
) -> Response:
    """The score from the link's page: recorded once, then the comment page."""
    check_csrf(request, csrf)
    survey = None
    try:
        survey = await _found(session, token, runtime)
        value = _score(survey, score)
        await service.answer(session, survey, score=value, comment=None, via="link")
        await uow.commit(session)
    except SurveyRefused as exc:
        return _refused(request, exc, survey)
    return RedirectResponse(f"/surveys/r/{token}/comment", status_code=303)


def _score(survey: Survey, score: str) -> int:
    """A score the survey's scale offers; anything else means someone edited the link."""
    low, high = SCALES[survey.kind]
    if not score.isdigit() or len(score) > 2 or not low <= int(score) <= high:
        raise SurveyRefused("not a score", code="forged")
    return int(score)


@router.get("/surveys/r/{token}/comment", response_class=HTMLResponse)
async def comment_page(
    request: Request, token: str, session: SessionDep, runtime: RuntimeDep
) -> HTMLResponse:
    survey = None
    try:
        survey = await _found(session, token, runtime)
    except SurveyRefused as exc:
        return _refused(request, exc, survey)
    if survey.status != "answered":
        return _page(request, survey, "survey.html", _scale(survey, token))
    done = survey.comment is not None
    return _page(request, survey, "survey_thanks.html",
                 {"survey": survey, "token": token, "done": done})  # fmt: skip


@router.post("/surveys/r/{token}/comment", response_class=HTMLResponse)
async def post_comment(
    request: Request,
    token: str,
    session: SessionDep,
    runtime: RuntimeDep,
    csrf: Annotated[str, Form()] = "",
    comment: Annotated[str, Form(max_length=5_000)] = "",
) -> Response:
    check_csrf(request, csrf)
    survey = None
    try:
        survey = await _found(session, token, runtime)
        await service.answer(session, survey, score=None, comment=comment, via="link")
        await uow.commit(session)
    except SurveyRefused as exc:
        return _refused(request, exc, survey)
    except Invalid:
        return RedirectResponse(f"/surveys/r/{token}/comment", status_code=303)
    return RedirectResponse(f"/surveys/r/{token}/comment", status_code=303)


def _scale(survey: Survey, token: str) -> dict[str, Any]:
    lang = survey.language
    first, last = questions.ENDS[survey.kind]
    return {
        "survey": survey, "token": token, "question": questions.question(survey.kind, lang),
        "choices": [(n, localise_digits(str(n), lang)) for n in questions.scores(survey.kind)],
        "ends": (first, last),
    }  # fmt: skip


@router.get("/settings/surveys", response_class=HTMLResponse)
async def settings_page(request: Request, session: SessionDep, admin: AdminPage) -> HTMLResponse:
    saved = request.query_params.get("saved", "")
    return await _settings(request, session, admin, saved=int(saved) if saved.isdigit() else None)


async def _settings(
    request: Request, session: AsyncSession, admin: Any, *, errors: dict[int, str] | None = None,
    saved: int | None = None, status: int = 200,
) -> HTMLResponse:  # fmt: skip
    inboxes = await inboxes_repository.list_inboxes(session, only=None, after=None, limit=1000)
    configs = {c.inbox_id: c for c in await repository.list_configs(session)}
    agents = await auth_repository.list_agents(session, after=None, limit=1000)
    context = {
        "inboxes": inboxes, "configs": configs, "kinds": KINDS, "triggers": TRIGGERS,
        "supervisors": [a for a in agents if a.role in ("admin", "supervisor") and a.active],
        "errors": errors or {}, "saved": saved,
    }  # fmt: skip
    return render(request, "settings_surveys.html", context, agent=admin, status=status)


@router.post("/settings/surveys/{inbox_id}", response_class=HTMLResponse)
async def save_settings(
    request: Request, inbox_id: Id, session: SessionDep, admin: AdminPage
) -> Response:
    form = await request.form()
    check_csrf(request, str(form.get("csrf") or ""))
    values = {name: str(form.get(name) or "").strip() for name in SurveyConfigWrite.model_fields}
    try:
        data = SurveyConfigWrite.model_validate(
            {
                "enabled": form.get("enabled") == "on",
                "kind": values["kind"] or "csat",
                "trigger": values["trigger"] or "resolve",
                "delay_hours": values["delay_hours"] or 0,
                "sample_percent": values["sample_percent"] or 100,
                "dedupe_days": values["dedupe_days"] or 0,
                "expiry_hours": values["expiry_hours"] or 168,
                "low_threshold": values["low_threshold"] or None,
                "alert_agent_id": values["alert_agent_id"] or None,
            }
        )
        await service.configure(session, inbox_id, data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        message = f"{where}: {first['msg']}" if where else str(first["msg"])
        return await _settings(request, session, admin, errors={inbox_id: message}, status=422)
    except Invalid as exc:
        return await _settings(request, session, admin, errors={inbox_id: exc.message}, status=422)
    await uow.commit(session)
    return RedirectResponse(f"/settings/surveys?saved={inbox_id}#inbox-{inbox_id}", status_code=303)

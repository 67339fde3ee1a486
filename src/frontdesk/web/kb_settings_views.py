"""Settings → Knowledge base (admins only): the list of articles in every status, writing
an article (title, Markdown body, status, category, tags, example questions) and its
translations, with a rendered preview; text boxes follow the language's direction and stale
translations are flagged. Everything goes through knowledge.service, as the API does."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from frontdesk.auth.models import Agent
from frontdesk.db import utcnow
from frontdesk.deps import SessionDep
from frontdesk.kit import uow
from frontdesk.kit.i18n import script_direction
from frontdesk.kit.schemas import Id
from frontdesk.knowledge import service
from frontdesk.knowledge.markdown import render as render_markdown
from frontdesk.knowledge.schemas import (
    ArticleCreate,
    ArticleRead,
    ArticleUpdate,
    OutOfScopeCreate,
    TranslationRead,
    TranslationWrite,
    canonical_language,
)
from frontdesk.web.rendering import check_csrf, render
from frontdesk.web.settings_views import AdminPage

router = APIRouter(include_in_schema=False)
LIST_LIMIT = 1000
# Questions no article answers shown on their page (newest last); more are kept, not shown.
OUT_OF_SCOPE_LIMIT = 1000
STATUSES = ("draft", "published", "internal")
GAP_PERIODS = ("7", "30", "90")
GAP_DEFAULT_DAYS = 30
FIELDS = ("language", "title", "body", "status", "category", "tags", "questions")


@router.get("/settings/knowledge", response_class=HTMLResponse)
async def articles_page(request: Request, session: SessionDep, admin: AdminPage) -> HTMLResponse:
    articles = await service.list_articles(session, statuses=service.EVERY_STATUS, limit=LIST_LIMIT)
    return render(request, "settings_kb.html", {"articles": articles, **_words()}, agent=admin)


@router.get("/settings/knowledge/new", response_class=HTMLResponse)
async def new_article_page(request: Request, admin: AdminPage) -> HTMLResponse:
    """The form, blank or (from Content gaps) with a customer's question as its title and
    first example question."""
    values = _blank()
    question = " ".join(request.query_params.get("question", "").split())[:300]
    if question:
        values |= {"title": question, "questions": question}
    language = _language_or_none(request.query_params.get("language", ""))
    if language:
        values["language"] = language
    return _article_form(request, admin, None, values)


@router.get("/settings/knowledge/gaps", response_class=HTMLResponse)
async def gaps_page(request: Request, session: SessionDep, admin: AdminPage) -> HTMLResponse:
    """Content gaps: what was searched or asked with no good answer, clustered, with a link
    that starts an article from the most missed wording."""
    days = request.query_params.get("days", "")
    period = int(days) if days in GAP_PERIODS else GAP_DEFAULT_DAYS
    language = _language_or_none(request.query_params.get("language", "")) or None
    since = utcnow() - timedelta(days=period)
    report = await service.gap_report(session, since=since, language=language)
    context = {
        "report": report, "days": period, "periods": [int(d) for d in GAP_PERIODS],
        "language": language or "", **_words(),
        "marked": request.query_params.get("notice") == "out_of_scope",
    }  # fmt: skip
    return render(request, "settings_kb_gaps.html", context, agent=admin)


@router.get("/settings/knowledge/out-of-scope", response_class=HTMLResponse)
async def out_of_scope_page(
    request: Request, session: SessionDep, admin: AdminPage
) -> HTMLResponse:
    """Questions no article answers (the bot refuses questions like them), with a form to
    add some and a button to forget each."""
    notice = request.query_params.get("notice", "")
    return await _out_of_scope_form(
        request, session, admin, {"language": "en", "questions": ""},
        notice=notice if notice in ("saved", "deleted") else None,
    )  # fmt: skip


@router.post("/settings/knowledge/out-of-scope", response_class=HTMLResponse)
async def add_out_of_scope(request: Request, session: SessionDep, admin: AdminPage) -> Response:
    form = await request.form()
    check_csrf(request, str(form.get("csrf") or ""))
    values = {name: str(form.get(name) or "") for name in ("language", "questions")}
    try:
        data = OutOfScopeCreate(language=values["language"], questions=_lines(values["questions"]))
    except ValidationError as exc:
        fields = {str(e["loc"][0]) for e in exc.errors() if e.get("loc")}
        errors: dict[str, str] = {
            name: "invalid" for name in ("language", "questions") if name in fields
        }
        return await _out_of_scope_form(
            request, session, admin, values, errors=errors or {"questions": "invalid"}, status=422
        )
    await service.add_out_of_scope(session, data, author=admin)
    await uow.commit(session)
    return RedirectResponse("/settings/knowledge/out-of-scope?notice=saved", status_code=303)


@router.post("/settings/knowledge/out-of-scope/{question_id}/delete", response_class=HTMLResponse)
async def delete_out_of_scope(
    request: Request, question_id: Id, session: SessionDep, admin: AdminPage
) -> Response:
    form = await request.form()
    check_csrf(request, str(form.get("csrf") or ""))
    await service.delete_out_of_scope(session, question_id)
    await uow.commit(session)
    return RedirectResponse("/settings/knowledge/out-of-scope?notice=deleted", status_code=303)


@router.post("/settings/knowledge/gaps/out-of-scope", response_class=HTMLResponse)
async def gap_out_of_scope(request: Request, session: SessionDep, admin: AdminPage) -> Response:
    """A content gap marked as a question no article answers: its wordings are stored as
    such (the bot learns to refuse them) and leave the report."""
    form = await request.form()
    check_csrf(request, str(form.get("csrf") or ""))
    language = _language_or_none(str(form.get("language") or "")) or "en"
    questions = [" ".join(str(q).split())[:500] for q in form.getlist("question")]
    try:
        data = OutOfScopeCreate(language=language, questions=[q for q in questions if q][:10])
    except ValidationError:
        return RedirectResponse("/settings/knowledge/gaps", status_code=303)
    await service.add_out_of_scope(session, data, author=admin)
    await uow.commit(session)
    return RedirectResponse("/settings/knowledge/gaps?notice=out_of_scope", status_code=303)


async def _out_of_scope_form(
    request: Request, session: Any, admin: Agent, values: dict[str, str], *,
    errors: dict[str, str] | None = None, status: int = 200, notice: str | None = None,
) -> HTMLResponse:  # fmt: skip
    questions = await service.list_out_of_scope(session, limit=OUT_OF_SCOPE_LIMIT)
    context = {
        "questions": questions, "values": values, "errors": errors or {}, "notice": notice,
        **_words(),
    }  # fmt: skip
    return render(request, "settings_kb_out_of_scope.html", context, agent=admin, status=status)


@router.post("/settings/knowledge/new", response_class=HTMLResponse)
async def create_article(request: Request, session: SessionDep, admin: AdminPage) -> Response:
    form = await request.form()
    check_csrf(request, str(form.get("csrf") or ""))
    values = _values(form)
    try:
        data = ArticleCreate(**_article_fields(values), language=values["language"])
        article = await service.create_article(session, data, author=admin)
    except ValidationError as exc:
        return _article_form(request, admin, None, values, errors=_errors(exc), status=422)
    await uow.commit(session)
    return RedirectResponse(f"/settings/knowledge/{article.id}?saved=1", status_code=303)


@router.post("/settings/knowledge/preview", response_class=HTMLResponse)
async def preview(request: Request, admin: AdminPage) -> HTMLResponse:
    """The body as the help centre will show it (htmx swaps it in beside the form)."""
    form = await request.form()
    check_csrf(request, str(form.get("csrf") or ""))
    body = str(form.get("body") or "")[:100_000]
    language = str(form.get("language") or "")
    context = {"html": render_markdown(body), "text_lang": _language_or_none(language), **_words()}
    return render(request, "_settings_kb_preview.html", context, agent=admin)


@router.get("/settings/knowledge/{article_id}", response_class=HTMLResponse)
async def article_page(
    request: Request, article_id: Id, session: SessionDep, admin: AdminPage
) -> HTMLResponse:
    read = await _read(session, article_id)
    notice = "saved" if request.query_params.get("saved") else None
    return _article_form(request, admin, read, _values_of(read, read), notice=notice)


@router.post("/settings/knowledge/{article_id}", response_class=HTMLResponse)
async def update_article(
    request: Request, article_id: Id, session: SessionDep, admin: AdminPage
) -> Response:
    form = await request.form()
    check_csrf(request, str(form.get("csrf") or ""))
    article = await service.get_or_raise(session, article_id, statuses=service.EVERY_STATUS)
    values = {**_values(form), "language": article.source_language}
    try:
        await service.update_article(
            session, article, ArticleUpdate(**_article_fields(values)), author=admin
        )
    except ValidationError as exc:
        read = await service.read_article(session, article)
        return _article_form(request, admin, read, values, errors=_errors(exc), status=422)
    await uow.commit(session)
    return RedirectResponse(f"/settings/knowledge/{article_id}?saved=1", status_code=303)


@router.get("/settings/knowledge/{article_id}/translations", response_class=HTMLResponse)
async def translation_page(
    request: Request, article_id: Id, session: SessionDep, admin: AdminPage, language: str = ""
) -> HTMLResponse:
    """The form for one translation (`?language=ar`), or for a new one (no language)."""
    read = await _read(session, article_id)
    text = next((t for t in read.translations if t.language == language), None)
    values = _values_of(read, text) if text else {**_blank(), "language": ""}
    return _translation_form(request, admin, read, values, existing=text)


@router.post("/settings/knowledge/{article_id}/translations", response_class=HTMLResponse)
async def write_translation(
    request: Request, article_id: Id, session: SessionDep, admin: AdminPage
) -> Response:
    form = await request.form()
    check_csrf(request, str(form.get("csrf") or ""))
    article = await service.get_or_raise(session, article_id, statuses=service.EVERY_STATUS)
    values = _values(form)
    try:
        data = TranslationWrite(
            language=values["language"],
            title=values["title"],
            body=values["body"],
            questions=_lines(values["questions"]),
        )
        await service.write_translation(session, article, data, author=admin)
    except ValidationError as exc:
        read = await service.read_article(session, article)
        return _translation_form(
            request, admin, read, values, existing=None, errors=_errors(exc), status=422
        )
    await uow.commit(session)
    return RedirectResponse(f"/settings/knowledge/{article_id}?saved=1", status_code=303)


async def _read(session: Any, article_id: int) -> ArticleRead:
    article = await service.get_or_raise(session, article_id, statuses=service.EVERY_STATUS)
    return await service.read_article(session, article)


def _article_form(
    request: Request, admin: Agent, article: ArticleRead | None, values: dict[str, str], *,
    errors: dict[str, str] | None = None, status: int = 200, notice: str | None = None,
) -> HTMLResponse:  # fmt: skip
    context = {
        "article": article, "values": values, "errors": errors or {}, "notice": notice,
        "mode": "edit" if article else "new", **_words(),
    }  # fmt: skip
    return render(request, "settings_kb_form.html", context, agent=admin, status=status)


def _translation_form(
    request: Request, admin: Agent, article: ArticleRead, values: dict[str, str], *,
    existing: TranslationRead | None, errors: dict[str, str] | None = None, status: int = 200,
) -> HTMLResponse:  # fmt: skip
    context = {
        "article": article, "values": values, "errors": errors or {}, "notice": None,
        "mode": "translation", "existing": existing, **_words(),
    }  # fmt: skip
    return render(request, "settings_kb_form.html", context, agent=admin, status=status)


def _words() -> dict[str, Any]:
    return {"statuses": STATUSES, "text_dir": script_direction}


def _blank() -> dict[str, str]:
    return {name: "" for name in FIELDS} | {"language": "en", "status": "draft"}


def _values(form: FormData) -> dict[str, str]:
    return {name: str(form.get(name) or "") for name in FIELDS}


def _values_of(article: ArticleRead, text: ArticleRead | TranslationRead) -> dict[str, str]:
    return {
        "language": text.language,
        "title": text.title,
        "body": text.body,
        "status": article.status,
        "category": article.category or "",
        "tags": ", ".join(article.tags),
        "questions": "\n".join(text.questions),
    }


def _article_fields(values: dict[str, str]) -> dict[str, Any]:
    """An article's fields from the form: tags comma-separated, one question a line."""
    return {
        "title": values["title"],
        "body": values["body"],
        "status": values["status"] or "draft",
        "category": values["category"].strip() or None,
        "tags": [t.strip() for t in values["tags"].split(",") if t.strip()],
        "questions": _lines(values["questions"]),
    }


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _errors(exc: ValidationError) -> dict[str, str]:
    """The form fields a refusal names (the template says what is wrong with each)."""
    found: dict[str, str] = {}
    for error in exc.errors():
        loc = [str(part) for part in error.get("loc", ())]
        if loc and loc[0] in FIELDS:
            found.setdefault(
                loc[0], "missing" if error["type"] == "string_too_short" else "invalid"
            )
    return found or {"title": "invalid"}


def _language_or_none(value: str) -> str | None:
    try:
        return canonical_language(value)
    except ValueError:
        return None

"""The public help centre (no login): `/help/` sends each visitor to their language,
`/help/{lang}/` lists the published articles by category with a search box (autocomplete
from the public API), `/help/{lang}/search` and `/help/{lang}/articles/{id}` with a
"was this helpful?" form. Published articles only; errors are pages in the page's language."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from frontdesk.deps import SessionDep
from frontdesk.kit import uow
from frontdesk.kit.errors import NotFound
from frontdesk.kit.i18n import LANGUAGES, script_direction
from frontdesk.knowledge import search, service
from frontdesk.knowledge.schemas import ArticleRead, FeedbackCreate, TranslationRead
from frontdesk.knowledge.views import rate_limit
from frontdesk.web.rendering import check_csrf, render

router = APIRouter(include_in_schema=False)
# The help centre lists at most this many articles on its home page.
HOME_ARTICLES = 1000
SEARCH_RESULTS = 20
LANGUAGE_NAMES = {"en": "English", "ar": "العربية", "fa": "فارسی"}


def preferred_language(header: str | None) -> str:
    """The best of en/ar/fa for an Accept-Language header (by q-value, `fa-IR` counts as
    `fa`); English when none of them is accepted."""
    best, best_q = "en", 0.0
    for position, part in enumerate((header or "").split(",")):
        tag, _, params = part.strip().partition(";")
        base = tag.strip().split("-")[0].lower()
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        # Earlier entries win ties (the header's order is the visitor's order).
        if base in LANGUAGES and q > 0 and q - position * 1e-6 > best_q:
            best, best_q = base, q - position * 1e-6
    return best


def pick(article: ArticleRead, lang: str) -> TranslationRead:
    """The article's text in `lang` (or a regional form of it), else its source language."""
    texts = article.translations
    for t in texts:
        if t.language == lang:
            return t
    for t in texts:
        if search.same_language(t.language, lang):
            return t
    return next(t for t in texts if t.language == article.language)


def _page(
    request: Request, lang: str, name: str, context: dict[str, Any], status: int = 200
) -> HTMLResponse:
    words = {"languages": LANGUAGE_NAMES, "text_dir": script_direction, "path_tail": ""}
    return render(request, name, {**words, **context}, page_language=lang, status=status)


def not_found(request: Request, lang: str) -> HTMLResponse:
    lang = lang if lang in LANGUAGES else "en"
    return _page(request, lang, "help_error.html", {}, status=404)


@router.get("/help", include_in_schema=False)
@router.get("/help/")
async def help_root(request: Request) -> Response:
    lang = preferred_language(request.headers.get("accept-language"))
    return RedirectResponse(f"/help/{lang}/", status_code=302, headers={"vary": "Accept-Language"})


@router.get("/help/{lang}/", response_class=HTMLResponse)
async def help_home(request: Request, lang: str, session: SessionDep) -> HTMLResponse:
    if lang not in LANGUAGES:
        return not_found(request, lang)
    articles = await service.list_articles(session, statuses=service.PUBLIC, limit=HOME_ARTICLES)
    categories: dict[str, list[tuple[int, TranslationRead]]] = {}
    for article in articles:
        categories.setdefault(article.category or "", []).append((article.id, pick(article, lang)))
    ordered = sorted(categories.items(), key=lambda item: (item[0] == "", item[0].casefold()))
    return _page(request, lang, "help_home.html", {"categories": ordered, "q": ""})


@router.get("/help/{lang}/search", response_class=HTMLResponse)
async def help_search(
    request: Request,
    lang: str,
    session: SessionDep,
    q: Annotated[str, Query(max_length=500)] = "",
) -> HTMLResponse:
    if lang not in LANGUAGES:
        return not_found(request, lang)
    hits = await search.search(
        session, q, language=lang, statuses=service.PUBLIC, limit=SEARCH_RESULTS
    )
    return _page(
        request,
        lang,
        "help_search.html",
        {"q": q, "hits": hits, "path_tail": "search?" + urlencode({"q": q})},
    )


@router.get("/help/{lang}/articles/{article_id}", response_class=HTMLResponse)
async def help_article(
    request: Request, lang: str, article_id: str, session: SessionDep
) -> HTMLResponse:
    if lang not in LANGUAGES or not article_id.isdigit() or len(article_id) > 18:
        return not_found(request, lang)
    try:
        article = await service.get_or_raise(session, int(article_id), statuses=service.PUBLIC)
    except NotFound:
        return not_found(request, lang)
    read = await service.read_article(session, article)
    context = {
        "article": read,
        "text": pick(read, lang),
        "thanks": request.query_params.get("thanks") == "1",
        "path_tail": f"articles/{article_id}",
    }
    return _page(request, lang, "help_article.html", context)


@router.post("/help/{lang}/articles/{article_id}/feedback", response_model=None)
async def help_feedback(
    request: Request,
    lang: str,
    article_id: str,
    session: SessionDep,
    csrf: Annotated[str, Form()] = "",
    language: Annotated[str, Form(max_length=35)] = "",
    helpful: Annotated[str, Form(max_length=5)] = "",
    comment: Annotated[str, Form(max_length=5_000)] = "",
) -> Response:
    """The article page's feedback form (the same rule as the public API's feedback)."""
    if lang not in LANGUAGES or not article_id.isdigit() or len(article_id) > 18:
        return not_found(request, lang)
    check_csrf(request, csrf)
    rate_limit(request, "feedback")
    try:
        data = FeedbackCreate(
            language=language, helpful=helpful == "yes", comment=comment.strip() or None
        )
        article = await service.get_or_raise(session, int(article_id), statuses=service.PUBLIC)
        await service.add_feedback(session, article, data)
    except (ValidationError, NotFound):
        return not_found(request, lang)
    await uow.commit(session)
    return RedirectResponse(
        f"/help/{lang}/articles/{article_id}?thanks=1#fd-help-feedback", status_code=303
    )


@router.get("/help/{lang}/{rest:path}", response_class=HTMLResponse)
async def help_missing(request: Request, lang: str, rest: str) -> HTMLResponse:
    return not_found(request, lang)

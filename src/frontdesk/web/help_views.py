"""The public help centre (no login): `/help/` sends each visitor to their language,
`/help/{lang}/` lists the published articles by category with a search box (autocomplete
from the public API), `/help/{lang}/search` and `/help/{lang}/articles/{id}` with a
"was this helpful?" form. Published articles only; errors are pages in the page's language."""

from __future__ import annotations

import re
import secrets
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from frontdesk.conversations import service as conversations
from frontdesk.db import begin_write
from frontdesk.deps import RuntimeDep, SessionDep
from frontdesk.inboxes import repository as inboxes_repository
from frontdesk.inboxes.models import Inbox
from frontdesk.inboxes.port import Inbound
from frontdesk.kit import uow
from frontdesk.kit.errors import NotFound
from frontdesk.kit.i18n import LANGUAGES, script_direction
from frontdesk.knowledge import search, service
from frontdesk.knowledge.schemas import ArticleRead, FeedbackCreate, TranslationRead
from frontdesk.knowledge.views import may_record_gap, rate_limit
from frontdesk.web.rendering import check_csrf, render

router = APIRouter(include_in_schema=False)
# The help centre lists at most this many articles on its home page.
HOME_ARTICLES = 1000
SEARCH_RESULTS = 20
# The articles a contact form records (the newest the visitor read, see help.js).
MAX_READ = 20
CONTACT_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
CONTACT_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
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
    if not hits and q.strip() and may_record_gap(request):
        await begin_write(session)  # a GET: its reads were read-only
        await service.record_miss(session, q, language=lang, source="portal")
        await uow.commit(session)
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


async def _contact_inbox(session: SessionDep) -> Inbox | None:
    """Where the contact form writes: the first active e-mail inbox (replies go by e-mail)."""
    for inbox in await inboxes_repository.list_inboxes(
        session, only=None, after=None, limit=HOME_ARTICLES
    ):
        if inbox.channel == "email" and inbox.active:
            return inbox
    return None


@router.get("/help/{lang}/contact", response_class=HTMLResponse)
async def help_contact(request: Request, lang: str, session: SessionDep) -> HTMLResponse:
    if lang not in LANGUAGES or await _contact_inbox(session) is None:
        return not_found(request, lang)
    context = {
        "sent": request.query_params.get("sent") == "1",
        "error": request.query_params.get("error") == "1",
        "path_tail": "contact",
        "form_id": secrets.token_urlsafe(12),
    }
    return _page(request, lang, "help_contact.html", context)


@router.post("/help/{lang}/contact", response_model=None)
async def help_contact_send(
    request: Request,
    lang: str,
    session: SessionDep,
    runtime: RuntimeDep,
    csrf: Annotated[str, Form()] = "",
    form_id: Annotated[str, Form(max_length=64)] = "",
    name: Annotated[str, Form(max_length=300)] = "",
    email: Annotated[str, Form(max_length=320)] = "",
    message: Annotated[str, Form(max_length=10_000)] = "",
    read: Annotated[str, Form(max_length=2_000)] = "",
) -> Response:
    """The contact form opens a conversation (in the contact inbox) that records the
    published articles the customer read first, in the order they read them."""
    inbox = await _contact_inbox(session)
    if lang not in LANGUAGES or inbox is None:
        return not_found(request, lang)
    check_csrf(request, csrf)
    rate_limit(request, "feedback")
    address = email.strip()
    if not message.strip() or not CONTACT_EMAIL.match(address) or not CONTACT_ID.match(form_id):
        return RedirectResponse(f"/help/{lang}/contact?error=1", status_code=303)
    articles = await _read_first(session, read)
    inbound = Inbound(
        inbox_id=inbox.id,
        external_id=f"help-contact:{form_id}",  # a second press of Send is stored once
        address=address,
        name=one_line_or_none(name),
        text=message.strip(),
        subject=f"{message.strip().splitlines()[0][:80]}",
        meta={"help_articles_read": articles, "via": "help_contact", "language": lang},
    )
    await conversations.receive(session, inbound, blobs=runtime.blobs)
    await uow.commit(session)
    return RedirectResponse(f"/help/{lang}/contact?sent=1", status_code=303)


async def _read_first(session: SessionDep, read: str) -> list[int]:
    """The published articles among the ids the page's script sent, in reading order."""
    found: list[int] = []
    for part in read.split(",")[:MAX_READ]:
        if part.strip().isdigit() and len(part.strip()) < 10 and int(part) not in found:
            try:
                await service.get_or_raise(session, int(part), statuses=service.PUBLIC)
            except NotFound:
                continue
            found.append(int(part))
    return found


def one_line_or_none(value: str) -> str | None:
    cleaned = " ".join(value.split())
    return cleaned or None


@router.get("/help/{lang}/{rest:path}", response_class=HTMLResponse)
async def help_missing(request: Request, lang: str, rest: str) -> HTMLResponse:
    return not_found(request, lang)

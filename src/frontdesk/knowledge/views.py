"""Knowledge API: articles and translations (admins write, agents read), search and the
bot's answer for agents, and the public autocomplete and feedback (published articles
only, no authentication, rate-limited per client address)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, cast

from fastapi import APIRouter, Query, Request, Response

from frontdesk.db import begin_write
from frontdesk.deps import AdminAgent, CurrentAgent, SessionDep
from frontdesk.kit import openapi, uow
from frontdesk.kit.errors import TooManyRequests
from frontdesk.kit.pagination import Page, clamp_limit, decode_cursor, encode_cursor
from frontdesk.kit.ratelimit import LocalWindows
from frontdesk.kit.schemas import Id
from frontdesk.knowledge import search, service
from frontdesk.knowledge.schemas import (
    AnswerAsk,
    AnswerResult,
    ArticleCreate,
    ArticleRead,
    ArticleUpdate,
    FeedbackCreate,
    FeedbackSummary,
    GapReport,
    Language,
    OutOfScopeCreate,
    OutOfScopeList,
    OutOfScopeRead,
    SearchResults,
    Suggestions,
    TranslationWrite,
    VersionRead,
)

router = APIRouter(tags=["knowledge"])
public_router = APIRouter(tags=["knowledge (public)"])

Q = Annotated[str, Query(max_length=500)]
SearchLimit = Annotated[int, Query(ge=1, le=50)]
# Per client address and minute, in each server process: a fast typist makes ~5 requests a
# second in bursts; these caps stop scraping, not people.
AUTOCOMPLETE_PER_MINUTE = 300
FEEDBACK_PER_MINUTE = 20
# Misses recorded as content gaps per client address and minute (past it the request is
# answered as ever, only not counted).
GAPS_PER_MINUTE = 10
LIMITS = {
    "autocomplete": AUTOCOMPLETE_PER_MINUTE,
    "feedback": FEEDBACK_PER_MINUTE,
    "gaps": GAPS_PER_MINUTE,
}


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _windows(request: Request) -> dict[str, LocalWindows]:
    # One set of windows per app (so per process), made on first use.
    state = request.app.state
    if not hasattr(state, "kb_windows"):
        state.kb_windows = {name: LocalWindows(cap) for name, cap in LIMITS.items()}
    return cast(dict[str, LocalWindows], state.kb_windows)


def may_record_gap(request: Request) -> bool:
    """Whether this client's miss may be counted (public endpoints: a flood is not)."""
    return not _windows(request)["gaps"].take(_client(request))


def rate_limit(request: Request, what: str) -> None:
    if wait := _windows(request)[what].take(_client(request)):
        raise TooManyRequests(
            "too many requests: try again in a minute", retry_after=wait, code="rate_limited"
        )


@router.post(
    "/kb/articles", status_code=201, response_model=ArticleRead, responses=openapi.errors()
)
async def create_article(
    data: ArticleCreate, session: SessionDep, admin: AdminAgent
) -> ArticleRead:
    article = await service.create_article(session, data, author=admin)
    read = await service.read_article(session, article)
    await uow.commit(session)
    return read


@router.get("/kb/articles", response_model=Page[ArticleRead])
async def list_articles(
    session: SessionDep,
    agent: CurrentAgent,
    category: Annotated[str | None, Query(max_length=100)] = None,
    cursor: str | None = None,
    limit: int | None = None,
) -> Page[ArticleRead]:
    """Articles the caller may read, oldest first (drafts only for admins)."""
    size = clamp_limit(limit)
    items = await service.list_articles(
        session,
        statuses=service.readable_statuses(agent),
        category=category,
        after=decode_cursor(cursor),
        limit=size,
    )
    return Page(
        items=items, next_cursor=encode_cursor(items[-1].id) if len(items) == size else None
    )


@router.get("/kb/articles/{article_id}", response_model=ArticleRead)
async def get_article(article_id: Id, session: SessionDep, agent: CurrentAgent) -> ArticleRead:
    article = await service.get_or_raise(
        session, article_id, statuses=service.readable_statuses(agent)
    )
    return await service.read_article(session, article)


@router.patch("/kb/articles/{article_id}", response_model=ArticleRead)
async def update_article(
    article_id: Id, data: ArticleUpdate, session: SessionDep, admin: AdminAgent
) -> ArticleRead:
    article = await service.get_or_raise(session, article_id, statuses=service.EVERY_STATUS)
    await service.update_article(session, article, data, author=admin)
    read = await service.read_article(session, article)
    await uow.commit(session)
    return read


@router.delete("/kb/articles/{article_id}", status_code=204, response_class=Response)
async def delete_article(article_id: Id, session: SessionDep, admin: AdminAgent) -> Response:
    article = await service.get_or_raise(session, article_id, statuses=service.EVERY_STATUS)
    await service.delete_article(session, article)
    await uow.commit(session)
    return Response(status_code=204)


@router.post("/kb/articles/{article_id}/translations", status_code=201, response_model=ArticleRead)
async def write_translation(
    article_id: Id, data: TranslationWrite, session: SessionDep, admin: AdminAgent
) -> ArticleRead:
    """Add the article in another language (or replace that language's text)."""
    article = await service.get_or_raise(session, article_id, statuses=service.EVERY_STATUS)
    await service.write_translation(session, article, data, author=admin)
    read = await service.read_article(session, article)
    await uow.commit(session)
    return read


@router.get("/kb/articles/{article_id}/versions", response_model=list[VersionRead])
async def list_versions(
    article_id: Id, session: SessionDep, agent: CurrentAgent
) -> list[VersionRead]:
    """Every saved title and body, per language, newest first."""
    article = await service.get_or_raise(
        session, article_id, statuses=service.readable_statuses(agent)
    )
    return await service.versions(session, article)


@router.get("/kb/articles/{article_id}/feedback", response_model=list[FeedbackSummary])
async def feedback_summary(
    article_id: Id, session: SessionDep, agent: CurrentAgent
) -> list[FeedbackSummary]:
    article = await service.get_or_raise(
        session, article_id, statuses=service.readable_statuses(agent)
    )
    return await service.feedback_summary(session, article)


@router.get("/kb/search", response_model=SearchResults)
async def search_articles(
    session: SessionDep,
    agent: CurrentAgent,
    q: Q,
    language: Language | None = None,
    limit: SearchLimit = 10,
) -> SearchResults:
    """Published and internal articles for `q`, best first; each in `language` when the
    article has it, else in the language that matched (the item says which)."""
    items = await search.search(session, q, language=language, statuses=service.STAFF, limit=limit)
    if not items:
        await begin_write(session)  # a GET: its reads were read-only
        await service.record_miss(session, q, language=language, source="search")
        await uow.commit(session)
    return SearchResults(items=items)


@router.post("/kb/answer", response_model=AnswerResult)
async def answer(data: AnswerAsk, session: SessionDep, agent: CurrentAgent) -> AnswerResult:
    """Exactly the bot's decision for a customer's message: `answer` null means "I don't
    know" (the bot would hand off)."""
    result = await search.answer(session, data.text, language=data.language)
    if result.answer is None:
        await service.record_miss(session, data.text, language=data.language, source="answer")
        await uow.commit(session)
    return result


@router.get("/kb/gaps", response_model=GapReport, responses=openapi.errors())
async def gaps(
    session: SessionDep,
    admin: AdminAgent,
    since: datetime | None = None,
    language: Language | None = None,
) -> GapReport:
    """Content gaps: searches and questions with no good answer since `since` (default the
    last 30 days), clustered by wording, most missed first (admins only)."""
    return await service.gap_report(session, since=since, language=language)


@router.get("/kb/out-of-scope", response_model=Page[OutOfScopeRead], responses=openapi.errors())
async def list_out_of_scope(
    session: SessionDep,
    admin: AdminAgent,
    language: Language | None = None,
    cursor: str | None = None,
    limit: int | None = None,
) -> Page[OutOfScopeRead]:
    """Questions no article answers, oldest first (admins only): the bot refuses questions
    like these rather than answering them with the nearest article."""
    size = clamp_limit(limit)
    items = await service.list_out_of_scope(
        session, language=language, after=decode_cursor(cursor), limit=size
    )
    return Page(
        items=items, next_cursor=encode_cursor(items[-1].id) if len(items) == size else None
    )


@router.post(
    "/kb/out-of-scope", status_code=201, response_model=OutOfScopeList, responses=openapi.errors()
)
async def add_out_of_scope(
    data: OutOfScopeCreate, session: SessionDep, admin: AdminAgent
) -> OutOfScopeList:
    """Mark questions as ones no article answers (admins only); a wording already marked in
    that language is not stored again. Answers the stored questions."""
    items = await service.add_out_of_scope(session, data, author=admin)
    await uow.commit(session)
    return OutOfScopeList(items=items)


@router.delete(
    "/kb/out-of-scope/{out_of_scope_id}",
    status_code=204,
    response_class=Response,
    responses=openapi.errors(),
)
async def delete_out_of_scope(
    out_of_scope_id: Id, session: SessionDep, admin: AdminAgent
) -> Response:
    await service.delete_out_of_scope(session, out_of_scope_id)
    await uow.commit(session)
    return Response(status_code=204)


@public_router.get(
    "/public/kb/autocomplete", response_model=Suggestions, responses=openapi.errors(429)
)
async def autocomplete(
    request: Request, session: SessionDep, q: Q, language: Language | None = None
) -> Suggestions:
    """Suggested questions and articles for what a customer has typed so far (published
    articles only; no authentication)."""
    rate_limit(request, "autocomplete")
    items = await search.autocomplete(session, q, language=language)
    if not items and may_record_gap(request):
        await begin_write(session)  # a GET: its reads were read-only
        await service.record_miss(session, q, language=language, source="autocomplete")
        await uow.commit(session)
    return Suggestions(items=items)


@public_router.post(
    "/public/kb/articles/{article_id}/feedback",
    status_code=204,
    response_class=Response,
    responses=openapi.errors(429),
)
async def give_feedback(
    article_id: Id, data: FeedbackCreate, request: Request, session: SessionDep
) -> Response:
    """Whether a published article helped, with an optional comment (no authentication)."""
    rate_limit(request, "feedback")
    article = await service.get_or_raise(session, article_id, statuses=service.PUBLIC)
    await service.add_feedback(session, article, data)
    await uow.commit(session)
    return Response(status_code=204)

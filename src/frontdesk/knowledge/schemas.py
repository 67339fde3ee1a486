"""Knowledge requests and answers (the contract of docs/api.md, "Knowledge")."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field

from frontdesk.kit.schemas import NotNull, RequestBody
from frontdesk.kit.text import OneLine

# A BCP-47 tag as people write them (en, fa, pt-BR, zh-Hant-TW, sr-Latn); stored as given
# apart from case (language lower, region upper, script title).
_BCP47 = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z]{4})?(-([A-Za-z]{2}|[0-9]{3}))?(-[A-Za-z0-9]{5,8})*$")


def canonical_language(value: str) -> str:
    if not _BCP47.match(value):
        raise ValueError("must be a BCP-47 language tag such as en, ar, fa or pt-BR")
    parts = value.split("-")
    out = [parts[0].lower()]
    for part in parts[1:]:
        out.append(
            part.title() if len(part) == 4 and part.isalpha()
            else part.upper() if len(part) in (2, 3) else part.lower()
        )  # fmt: skip
    return "-".join(out)


Language = Annotated[str, Field(min_length=2, max_length=35), AfterValidator(canonical_language)]
Status = Literal["draft", "published", "internal"]
Title = Annotated[OneLine, Field(min_length=1, max_length=300)]
Body = Annotated[str, Field(max_length=100_000)]
QuestionText = Annotated[OneLine, Field(min_length=1, max_length=500)]
Tag = Annotated[OneLine, Field(min_length=1, max_length=50)]
Questions = Annotated[list[QuestionText], Field(max_length=500)]


class ArticleCreate(RequestBody):
    language: Language
    title: Title
    body: Body
    status: Status = "draft"
    category: Annotated[OneLine, Field(min_length=1, max_length=100)] | None = None
    tags: Annotated[list[Tag], Field(max_length=30)] = []
    questions: Questions = []


class ArticleUpdate(RequestBody):
    """Changes the article and, for title, body and questions, its source-language text."""

    title: NotNull[Title] = None
    body: NotNull[Body] = None
    status: NotNull[Status] = None
    category: Annotated[OneLine, Field(min_length=1, max_length=100)] | None = None
    tags: NotNull[Annotated[list[Tag], Field(max_length=30)]] = None
    questions: NotNull[Questions] = None


class TranslationWrite(RequestBody):
    """Adds a translation, or replaces the one in that language."""

    language: Language
    title: Title
    body: Body
    questions: Questions = []


class FeedbackCreate(RequestBody):
    language: Language
    helpful: bool
    comment: Annotated[str, Field(max_length=5_000)] | None = None


class TranslationRead(BaseModel):
    language: str
    title: str
    body: str
    html: str
    questions: list[str]
    version: int
    stale: bool  # the source changed after this translation was written
    updated_at: datetime


class ArticleRead(BaseModel):
    id: int
    language: str  # the source language
    status: str
    category: str | None
    tags: list[str]
    title: str
    body: str
    html: str
    questions: list[str]
    revision: int
    translations: list[TranslationRead]
    created_at: datetime
    updated_at: datetime


class VersionRead(BaseModel):
    language: str
    number: int
    title: str
    body: str
    author_id: int | None
    created_at: datetime


class FeedbackSummary(BaseModel):
    language: str
    helpful: int
    not_helpful: int


class SearchHit(BaseModel):
    article_id: int
    language: str
    title: str
    snippet: str
    score: float


class SearchResults(BaseModel):
    items: list[SearchHit]


class AnswerAsk(RequestBody):
    text: Annotated[str, Field(min_length=1, max_length=2_000)]
    language: Language | None = None


class Answer(BaseModel):
    article_id: int
    language: str
    confidence: float


class Candidate(BaseModel):
    article_id: int
    language: str
    title: str
    confidence: float


class AnswerResult(BaseModel):
    answer: Answer | None  # None: "I don't know" (the bot hands off)
    candidates: list[Candidate]


class Suggestion(BaseModel):
    kind: Literal["question", "article"]
    text: str
    article_id: int
    language: str


class Suggestions(BaseModel):
    items: list[Suggestion]


class GapCluster(BaseModel):
    """Similar searches and questions with no good answer, most missed first."""

    text: str  # the most missed wording, as typed
    count: int
    languages: list[str]
    first_seen: datetime
    last_seen: datetime
    examples: list[str]  # up to three wordings, most missed first


class GapReport(BaseModel):
    since: datetime
    items: list[GapCluster]


class OutOfScopeCreate(RequestBody):
    """Questions no article answers, in one language (one stored per wording: the same
    search key twice is one question)."""

    language: Language
    questions: Annotated[list[QuestionText], Field(min_length=1, max_length=500)]


class OutOfScopeRead(BaseModel):
    id: int
    language: str
    text: str
    created_at: datetime


class OutOfScopeList(BaseModel):
    items: list[OutOfScopeRead]

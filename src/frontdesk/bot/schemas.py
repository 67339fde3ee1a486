"""The bot's requests and answers: its settings per inbox, the hand-off context, and the
articles agent assist suggests."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from frontdesk.kit.schemas import RequestBody

Reason = Literal["low_confidence", "asked_for_person", "failed_answers", "no_text"]


class BotSettingsWrite(RequestBody):
    enabled: bool
    # The lowest intent confidence the bot answers at; null: the knowledge base's tuned one.
    threshold: float | None = Field(default=None, ge=0.0, le=1.0)


class BotSettingsRead(BaseModel):
    inbox_id: int
    enabled: bool
    threshold: float | None
    default_threshold: float


class IntentTried(BaseModel):
    """One customer message as the bot understood it."""

    text: str
    article_id: int | None  # the best candidate, answered or not
    title: str | None
    confidence: float
    answered: bool


class ArticleShown(BaseModel):
    article_id: int
    language: str
    title: str
    # The customer's answer to "did that help?": null when they never said.
    verdict: Literal["helpful", "not_helpful"] | None


class HandoffRead(BaseModel):
    """What the bot learned, for the agent who takes over."""

    conversation_id: int
    status: Literal["active", "handed_off", "stopped"]
    reason: Reason | None
    language: str
    intents: list[IntentTried]
    articles: list[ArticleShown]
    # The customer's own words, oldest first.
    words: list[str]
    handed_off_at: datetime | None


class AssistSuggestion(BaseModel):
    article_id: int
    language: str  # the customer's language when the article has it
    title: str
    snippet: str
    score: float
    # The article's text, ready to go into the reply.
    text: str
    # Shown (by the bot) or sent (in a reply) to this customer before.
    already_shown: bool
    # The customer said it did not help.
    did_not_help: bool


class ArticleRead(BaseModel):
    article_id: int
    language: str
    title: str


class AssistSuggestions(BaseModel):
    language: str
    items: list[AssistSuggestion]
    # Read in the help centre before the customer wrote (the contact form), in order.
    read_first: list[ArticleRead] = []

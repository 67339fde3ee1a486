from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from frontdesk.kit.schemas import Id, RequestBody

Kind = Literal["csat", "ces", "nps"]
Trigger = Literal["resolve", "delay"]


class SurveyConfigWrite(RequestBody):
    """An inbox's survey settings (PUT replaces them all)."""

    enabled: bool = True
    kind: Kind = "csat"
    # resolve: asked when the conversation is resolved; delay: `delay_hours` after that.
    trigger: Trigger = "resolve"
    delay_hours: int = Field(default=0, ge=0, le=720)
    # The share of resolved conversations asked, chosen by conversation (stable on retries).
    sample_percent: int = Field(default=100, ge=0, le=100)
    # A customer asked on any inbox is not asked again for this many days.
    dedupe_days: int = Field(default=30, ge=0, le=365)
    expiry_hours: int = Field(default=168, ge=1, le=24 * 90)
    # Scores at or under this are low (an at-risk follow-up); None: the kind's default.
    low_threshold: int | None = Field(default=None, ge=0, le=10)
    alert_agent_id: Id | None = None

    @model_validator(mode="after")
    def _delay_needs_hours(self) -> SurveyConfigWrite:
        if self.trigger == "delay" and self.delay_hours < 1:
            raise ValueError("a delayed survey needs delay_hours of at least 1")
        return self


class SurveyConfigRead(BaseModel):
    inbox_id: int
    enabled: bool
    kind: str
    trigger: str
    delay_hours: int
    sample_percent: int
    dedupe_days: int
    expiry_hours: int
    low_threshold: int | None
    alert_agent_id: int | None
    updated_at: datetime

    model_config = {"from_attributes": True}


class SurveyRead(BaseModel):
    id: int
    conversation_id: int
    inbox_id: int
    customer_id: int
    kind: str
    channel: str
    language: str
    status: str  # sent | answered | failed
    error: str | None
    sent_at: datetime
    expires_at: datetime
    answered_at: datetime | None
    score: int | None
    comment: str | None
    answered_via: str | None
    low: bool

    model_config = {"from_attributes": True}


class SurveyAnswer(RequestBody):
    """The widget's card (and any client holding the token): a score, a comment, or both —
    the comment may follow the score, once."""

    token: str = Field(min_length=1, max_length=200)
    score: int | None = Field(default=None, ge=0, le=10)
    comment: str | None = Field(default=None, max_length=5_000)


class SurveyAnswered(BaseModel):
    id: int
    kind: str
    score: int | None
    comment: str | None

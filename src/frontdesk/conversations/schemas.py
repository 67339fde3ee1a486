from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from frontdesk.kit.schemas import Id, NotNull, RequestBody
from frontdesk.kit.text import OneLine

Status = Literal["open", "pending", "snoozed", "resolved", "closed"]
Priority = Literal["low", "normal", "high", "urgent"]


class ConversationRead(BaseModel):
    id: int
    inbox_id: int
    customer_id: int
    channel: str
    status: str
    priority: str
    team_id: int | None
    assignee_id: int | None
    subject: str | None
    language: str | None
    thread: str | None
    tags: list[str]
    snoozed_until: datetime | None
    created_at: datetime
    updated_at: datetime
    last_message_at: datetime | None
    # The customer's mood lately (docs/sentiment.md): -1 to +1, null before any analysis.
    sentiment_trend: float | None = None
    frustrated: bool = False


class ConversationUpdate(RequestBody):
    status: NotNull[Status] = None
    priority: NotNull[Priority] = None
    # null unassigns (no agent, no team); left out leaves them as they are.
    assignee_id: Id | None = None
    team_id: Id | None = None
    subject: OneLine | None = Field(default=None, max_length=500)
    language: str | None = Field(default=None, max_length=10)
    snoozed_until: datetime | None = None
    tags: NotNull[list[str]] = Field(default=None, max_length=50)


class AttachmentRead(BaseModel):
    id: int
    filename: str
    content_type: str
    size: int
    url: str


class MessageVersion(BaseModel):
    text: str
    at: datetime


class MessageRead(BaseModel):
    id: int
    conversation_id: int
    inbox_id: int
    customer_id: int
    channel: str
    direction: str
    author_kind: str
    author_agent_id: int | None
    text: str
    html: str | None
    external_id: str | None
    # The provider's id of the message: the one its status notices name.
    provider_message_id: str | None = None
    delivery_status: str
    delivery_error: str | None
    answered: bool | None
    # The customer edited it on the provider's side: `text` is the newest version and
    # `versions` every version, the original first.
    edited: bool = False
    versions: list[MessageVersion] = []
    # A customer's message once analysed: negative | neutral | positive, and -1 to +1.
    sentiment: str | None = None
    sentiment_score: float | None = None
    attachments: list[AttachmentRead]
    created_at: datetime
    sent_at: datetime | None


class TemplateSend(RequestBody):
    """An approved template of the inbox (GET /inboxes/{id}/templates), with its parameters."""

    name: str = Field(min_length=1, max_length=512)
    language: str = Field(min_length=2, max_length=20)
    parameters: list[str] = Field(default_factory=list, max_length=20)


class ReplyButton(RequestBody):
    id: str = Field(min_length=1, max_length=256)
    title: str = Field(min_length=1, max_length=20)


class ListRow(RequestBody):
    id: str = Field(min_length=1, max_length=200)
    title: str = Field(min_length=1, max_length=24)
    description: str | None = Field(default=None, max_length=72)


class ListSection(RequestBody):
    title: str = Field(default="", max_length=24)
    rows: list[ListRow] = Field(min_length=1, max_length=10)


class InteractiveSend(RequestBody):
    """Choices under the reply's text: up to 3 buttons, or a list opened by `button`."""

    buttons: list[ReplyButton] = Field(default_factory=list, max_length=3)
    button: str | None = Field(default=None, max_length=20)
    sections: list[ListSection] = Field(default_factory=list, max_length=10)


class ReplyCreate(RequestBody):
    text: str = Field(default="", max_length=100_000)
    html: str | None = Field(default=None, max_length=1_000_000)
    # Reply on another of the customer's channels ("reply on WhatsApp instead", ADR 0007):
    # the message goes out through an inbox of `channel` (`inbox_id` when it has several).
    channel: str | None = Field(default=None, max_length=40)
    inbox_id: Id | None = None
    identity_id: Id | None = None
    private: bool = False
    # Ids of the agent's own uploads to this conversation (POST .../uploads), at most 10.
    attachment_ids: list[Id] = Field(default_factory=list, max_length=10)
    # Channels with templates (WhatsApp): send this approved template instead of `text`;
    # the only thing allowed once the reply window has closed.
    template: TemplateSend | None = None
    interactive: InteractiveSend | None = None


class SegmentsRead(BaseModel):
    """How a text travels as SMS: its encoding, length and the segments it costs."""

    encoding: Literal["GSM-7", "UCS-2"]
    # Septets (GSM-7; extension-table characters count 2) or UTF-16 code units (UCS-2).
    units: int
    segments: int
    per_segment: int
    remaining: int


class NoteRead(BaseModel):
    id: int
    conversation_id: int
    agent_id: int | None
    text: str
    created_at: datetime
    attachments: list[AttachmentRead] = []


class InboundAccepted(BaseModel):
    message_id: int
    conversation_id: int
    customer_id: int
    duplicate: bool

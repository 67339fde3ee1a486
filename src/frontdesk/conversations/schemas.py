from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

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


class ConversationUpdate(BaseModel):
    status: Status | None = None
    priority: Priority | None = None
    assignee_id: int | None = None
    team_id: int | None = None
    subject: OneLine | None = Field(default=None, max_length=500)
    language: str | None = Field(default=None, max_length=10)
    snoozed_until: datetime | None = None
    tags: list[str] | None = Field(default=None, max_length=50)


class AttachmentRead(BaseModel):
    id: int
    filename: str
    content_type: str
    size: int
    url: str


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
    delivery_status: str
    delivery_error: str | None
    answered: bool | None
    attachments: list[AttachmentRead]
    created_at: datetime
    sent_at: datetime | None


class ReplyCreate(BaseModel):
    text: str = Field(default="", max_length=100_000)
    html: str | None = Field(default=None, max_length=1_000_000)
    channel: str | None = None
    identity_id: int | None = None
    private: bool = False
    # Ids of the agent's own uploads to this conversation (POST .../uploads), at most 10.
    attachment_ids: list[int] = Field(default_factory=list, max_length=10)


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

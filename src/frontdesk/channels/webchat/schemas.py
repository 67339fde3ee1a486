from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from frontdesk.kit.schemas import Id, RequestBody
from frontdesk.kit.text import OneLine


class SessionStart(RequestBody):
    inbox_id: Id
    # A token the browser already holds: the same visitor carries on (across pages and tabs).
    token: str | None = Field(default=None, max_length=2000)
    # Identity verification: the site's user id and hex HMAC-SHA256(inbox secret, user id).
    user_id: str | None = Field(default=None, min_length=1, max_length=200)
    user_hash: str | None = Field(default=None, max_length=128)
    # The pre-chat form.
    name: OneLine | None = Field(default=None, max_length=300)
    email: str | None = Field(default=None, max_length=320)


class SessionRead(BaseModel):
    token: str
    verified: bool
    name: str | None
    email: str | None
    # The token sent in had expired: this is a new visitor (a new chat).
    expired: bool = False


class EmailContinue(RequestBody):
    token: str | None = Field(default=None, max_length=2000)
    email: str = Field(min_length=3, max_length=320)
    text: str = Field(default="", max_length=10_000)
    id: str = Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")


class TranscriptRequest(RequestBody):
    token: str | None = Field(default=None, max_length=2000)
    email: str | None = Field(default=None, max_length=320)
    id: str = Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")


class WidgetAttachment(BaseModel):
    id: int
    name: str
    type: str
    size: int
    url: str


class WidgetButton(BaseModel):
    id: str
    title: str


class WidgetMessage(BaseModel):
    id: int
    client_id: str | None
    direction: str
    author: str  # "visitor" | "agent" | "bot" | "system"
    author_name: str | None
    text: str
    status: str
    at: str
    attachments: list[WidgetAttachment]
    # A survey asked in the chat: the card's question, scale, labels and signed token (the
    # card posts the score to /surveys/answer); None for every other message.
    survey: dict[str, Any] | None = None

    # Choices under an outbound message (the bot's "did that help?"): pressing one sends
    # its title as the visitor's next message.
    buttons: list[WidgetButton] = []
    # A browser call (message kind "call"): media, status and duration as the widget shows
    # them; None for every other message.
    call: dict[str, Any] | None = None

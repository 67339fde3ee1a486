from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from frontdesk.kit.schemas import RequestBody


class CannedCreate(RequestBody):
    shortcut: str = Field(min_length=1, max_length=50, pattern=r"^[\w-]+$")
    title: str = Field(min_length=1, max_length=200)
    text: str = Field(min_length=1, max_length=20_000)
    shared: bool = False


class CannedRead(BaseModel):
    id: int
    shortcut: str
    title: str
    text: str
    shared: bool
    owner_id: int | None


class MentionRead(BaseModel):
    id: int
    conversation_id: int
    note_id: int
    by_agent_id: int | None
    by_name: str | None
    text: str
    created_at: datetime
    read_at: datetime | None
    url: str

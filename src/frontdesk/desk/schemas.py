from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, StrictBool, model_validator

from frontdesk.kit.schemas import Id, RequestBody


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


Assign = Literal["keep", "me", "unassigned", "agent"]
NOTIFY_KINDS = ("new", "mentions", "assigned")


class SavedViewCreate(RequestBody):
    name: str = Field(min_length=1, max_length=100)
    # The inbox URL's query (view, status, channel, inbox, tag, priority, q, …); anything
    # else in it is dropped, so a view is exactly what the inbox page understands.
    query: str = Field(default="", max_length=1000)
    shared: StrictBool = False
    team_id: Id | None = None


class SavedViewRead(BaseModel):
    id: int
    name: str
    query: str
    url: str
    shared: bool
    team_id: int | None
    owner_id: int


class MacroCreate(RequestBody):
    name: str = Field(min_length=1, max_length=100)
    text: str = Field(default="", max_length=20_000)
    status: Literal["open", "pending", "resolved", "closed"] | None = None
    priority: Literal["low", "normal", "high", "urgent"] | None = None
    tags: list[Annotated[str, Field(min_length=1, max_length=50)]] = Field(
        default_factory=list, max_length=10
    )
    assign: Assign = "keep"
    assignee_id: Id | None = None
    shared: StrictBool = False

    @model_validator(mode="after")
    def _agent_named(self) -> MacroCreate:
        if (self.assign == "agent") != (self.assignee_id is not None):
            raise ValueError("assign 'agent' needs assignee_id, and only it takes one")
        if not (self.text.strip() or self.status or self.priority or self.tags) and (
            self.assign == "keep"
        ):
            raise ValueError("a macro must do something")
        return self


class MacroRead(BaseModel):
    id: int
    name: str
    text: str
    status: str | None
    priority: str | None
    tags: list[str]
    assign: Assign
    assignee_id: int | None
    shared: bool
    owner_id: int | None


class MacroApplied(BaseModel):
    conversation_id: int
    message_id: int | None


class BulkUpdate(RequestBody):
    """One change to many conversations; at least one of status, assignment or a tag."""

    ids: list[Id] = Field(min_length=1, max_length=100)
    status: Literal["open", "pending", "resolved", "closed"] | None = None
    # Present (even null = unassign) means "assign"; absent means "leave as it is".
    assignee_id: Id | None = None
    unassign: StrictBool = False
    add_tag: str | None = Field(default=None, min_length=1, max_length=50)

    @model_validator(mode="after")
    def _something(self) -> BulkUpdate:
        if self.unassign and self.assignee_id is not None:
            raise ValueError("either assignee_id or unassign")
        if not (self.status or self.assignee_id or self.unassign or self.add_tag):
            raise ValueError("nothing to change")
        return self


class BulkResult(BaseModel):
    updated: int


class PreferencesUpdate(RequestBody):
    time_zone: str | None = Field(default=None, max_length=64)
    notify: list[Literal["new", "mentions", "assigned"]] | None = None
    sound: StrictBool | None = None

    @model_validator(mode="after")
    def _known_zone(self) -> PreferencesUpdate:
        if self.time_zone is not None and not known_zone(self.time_zone):
            raise ValueError(f"unknown time zone {self.time_zone!r}")
        return self


class PreferencesRead(BaseModel):
    time_zone: str
    notify: list[str]
    sound: bool


def known_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True

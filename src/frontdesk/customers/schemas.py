from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from frontdesk.conversations.schemas import CallRead
from frontdesk.kit.schemas import Id, NotNull, RequestBody
from frontdesk.kit.text import OneLine


class IdentityRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    address: str
    # The provider's profile of this address (Messenger, Instagram), when it gives one.
    name: str | None = None
    picture_url: str | None = None


class IdentityCreate(RequestBody):
    address: str = Field(min_length=1, max_length=320)
    # Omitted: e-mail or phone is recognised from the address; anything else needs a kind.
    kind: str | None = Field(default=None, max_length=20)


class CustomerRead(BaseModel):
    id: int
    name: str | None
    attributes: dict[str, Any]
    identities: list[IdentityRead]
    created_at: datetime


class CustomerUpdate(RequestBody):
    name: OneLine | None = Field(default=None, max_length=300)
    attributes: NotNull[dict[str, Any]] = None


class MergeRequest(RequestBody):
    other_id: Id


class TimelineItem(BaseModel):
    id: int
    conversation_id: int
    inbox_id: int
    channel: str
    direction: str
    author_kind: str
    # "message", or "call" for a phone call (then `call` describes it).
    kind: str = "message"
    call: CallRead | None = None
    text: str
    html: str | None
    delivery_status: str
    answered: bool | None
    created_at: datetime

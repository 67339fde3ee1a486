from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

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
    notes: str = ""
    identities: list[IdentityRead]
    created_at: datetime


class CustomerUpdate(RequestBody):
    name: OneLine | None = Field(default=None, max_length=300)
    # Replaces all attributes; admin-defined ones are checked against their kind.
    attributes: NotNull[dict[str, Any]] = None
    notes: NotNull[str] = Field(default=None, max_length=10_000)


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


class SplitRequest(RequestBody):
    merge_id: Id


class MergeRead(BaseModel):
    """One merge into this customer: who was merged, what moved, and whether it was split."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    customer_id: int
    merged_id: int
    identity_ids: list[int]
    conversation_ids: list[int]
    by_agent_id: int | None
    created_at: datetime
    split_at: datetime | None


AttributeKind = Literal["text", "number", "date", "list"]
AttributeKey = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,59}$")]


class AttributeCreate(RequestBody):
    key: AttributeKey
    label: OneLine = Field(min_length=1, max_length=200)
    kind: AttributeKind
    # The allowed values of a list attribute.
    options: list[Annotated[str, Field(max_length=200)]] = Field(default=[], max_length=100)


class AttributeUpdate(RequestBody):
    label: NotNull[OneLine] = Field(default=None, min_length=1, max_length=200)
    options: NotNull[list[Annotated[str, Field(max_length=200)]]] = Field(
        default=None, max_length=100
    )


class AttributeRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    key: str
    label: str
    kind: str
    options: list[str]

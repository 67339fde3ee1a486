from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from frontdesk.kit.schemas import Id, NotNull, RequestBody
from frontdesk.kit.text import normalize_email

Role = Literal["admin", "supervisor", "agent"]
EXTENSION = r"^[0-9A-Za-z*#+_.-]{1,20}$"
EXTENSION_OR_EMPTY = r"^([0-9A-Za-z*#+_.-]{1,20})?$"


class AgentCreate(RequestBody):
    email: str

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        return normalize_email(value)

    name: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=8, max_length=200)
    role: Role = "agent"
    language: Literal["en", "ar", "fa"] = "en"
    # The agent's phone extension on the PBX (CTI screen pop, click-to-call).
    extension: str | None = Field(default=None, pattern=EXTENSION)


class AgentUpdate(RequestBody):
    name: NotNull[str] = Field(default=None, min_length=1, max_length=200)
    password: NotNull[str] = Field(default=None, min_length=8, max_length=200)
    role: NotNull[Role] = None
    language: NotNull[Literal["en", "ar", "fa"]] = None
    active: NotNull[bool] = None
    # null (or "") clears it.
    extension: str | None = Field(default=None, pattern=EXTENSION_OR_EMPTY)


class AgentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    name: str
    role: str
    language: str
    active: bool
    signature: str = ""
    extension: str | None = None
    created_at: datetime


class TeamCreate(RequestBody):
    name: str = Field(min_length=1, max_length=200)
    agent_ids: list[Id] = []


class TeamUpdate(RequestBody):
    name: NotNull[str] = Field(default=None, min_length=1, max_length=200)
    agent_ids: NotNull[list[Id]] = None


class TeamRead(BaseModel):
    id: int
    name: str
    agent_ids: list[int]


class TokenCreate(RequestBody):
    name: str = Field(default="api", max_length=200)


class TokenRead(BaseModel):
    token: str
    agent_id: int


Language = Literal["en", "ar", "fa"]


class AgentInvite(RequestBody):
    """An agent without a password yet: they choose one through the invitation link."""

    email: str

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        return normalize_email(value)

    name: str = Field(min_length=1, max_length=200)
    role: Role = "agent"
    language: Language = "en"


class InvitationRead(BaseModel):
    agent: AgentRead
    # Shown once: only its digest is stored.
    invitation_url: str
    expires_at: datetime


class InvitationAccept(RequestBody):
    password: str = Field(min_length=1, max_length=200)


class ProfileUpdate(RequestBody):
    name: NotNull[str] = Field(default=None, min_length=1, max_length=200)
    language: NotNull[Language] = None
    signature: NotNull[str] = Field(default=None, max_length=2000)


class PasswordChange(RequestBody):
    current_password: str = Field(min_length=1, max_length=200)
    new_password: str = Field(min_length=1, max_length=200)


class TokenInfo(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None


class TokenIssued(TokenInfo):
    # Shown once: only its digest is stored.
    token: str

"""A CTI inbox's settings (one PBX) and the generic call event it takes."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import phonenumbers
from pydantic import BaseModel, ConfigDict, Field, field_validator

from frontdesk.kit.text import OneLine

EXTENSION = r"^[0-9A-Za-z*#+_.-]{1,20}$"


class CtiSettings(BaseModel):
    """A PBX on the premises. It reports calls to the inbox's `webhook_url` signed with
    `signing_secret` (X-Frontdesk-Signature: sha256=HMAC), or Frontdesk reads them from the
    PBX itself over Asterisk AMI (`ami_host` set)."""

    model_config = ConfigDict(extra="forbid")

    # Signs the PBX's call events (HMAC-SHA256 of the raw body); never read back.
    signing_secret: str = Field(
        min_length=16, max_length=200, json_schema_extra={"writeOnly": True}
    )
    # ISO 3166 region for caller numbers written without a country code.
    default_region: str = Field(default="US", pattern=r"^[A-Z]{2}$")
    # Asterisk Manager Interface (manager.conf): unset host = no AMI connection.
    ami_host: str | None = Field(default=None, max_length=255)
    ami_port: int = Field(default=5038, ge=1, le=65535)
    ami_username: str | None = Field(default=None, max_length=100)
    ami_secret: str | None = Field(
        default=None, max_length=200, json_schema_extra={"writeOnly": True}
    )
    # Click-to-call: the agent's phone is rung on this channel, then the number dialled in
    # this dialplan context (Action: Originate).
    ami_channel: str = Field(default="PJSIP/{extension}", max_length=100)
    ami_context: str = Field(default="from-internal", max_length=80)
    # Recordings and transcripts of this inbox's calls are deleted after this many days
    # (unset: kept).
    retention_days: int | None = Field(default=None, ge=1, le=3650)

    @field_validator("default_region")
    @classmethod
    def _known_region(cls, value: str) -> str:
        if value not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"unknown region {value!r}")
        return value

    @field_validator("ami_channel")
    @classmethod
    def _names_extension(cls, value: str) -> str:
        if "{extension}" not in value:
            raise ValueError("the channel must contain {extension}")
        return value


EventName = Literal["offered", "answered", "ended", "transferred"]


class CtiEvent(BaseModel):
    """One thing that happened to a call on the PBX. `call_id` is the PBX's id of the call
    (Asterisk: the Linkedid); every event of one call names the same one."""

    model_config = ConfigDict(extra="forbid")

    event: EventName
    call_id: OneLine = Field(min_length=1, max_length=100)
    # The customer's number (E.164, or national in the inbox's region).
    caller_id: OneLine = Field(min_length=2, max_length=40)
    caller_name: OneLine | None = Field(default=None, max_length=200)
    direction: Literal["inbound", "outbound"] = "inbound"
    # The extension the call rings or is connected to (transferred: the new one).
    extension: str | None = Field(default=None, pattern=EXTENSION)
    # The number the customer dialled (inbound) or our line (outbound).
    called: OneLine | None = Field(default=None, max_length=40)
    # When it happened on the PBX (default: when it arrives).
    at: datetime | None = None
    # ended: how long the customer talked (default: from the answered event).
    duration_seconds: int | None = Field(default=None, ge=0, le=7 * 86400)


class CtiAccepted(BaseModel):
    message_id: int
    conversation_id: int
    customer_id: int
    status: str
    # The agent whose extension the event names (null: no agent has it).
    agent_id: int | None
    duplicate: bool


class OriginateCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    number: str = Field(min_length=2, max_length=40)


class OriginateQueued(BaseModel):
    extension: str
    number: str

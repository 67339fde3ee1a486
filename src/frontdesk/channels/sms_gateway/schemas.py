"""The settings of a generic HTTP SMS gateway: where we POST replies, how its JSON names
things (dotted paths into the body, e.g. "data.sender"), and how both sides sign bodies."""

from __future__ import annotations

from typing import Literal

import phonenumbers
from pydantic import BaseModel, ConfigDict, Field, field_validator

Path = str


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class InboundFields(_Strict):
    """Where an incoming message's parts are in the gateway's JSON."""

    from_: Path = Field(default="from", alias="from", max_length=200)
    text: Path = Field(default="text", max_length=200)
    # The gateway's id of the message: the deduplication key of its retries.
    id: Path = Field(default="id", max_length=200)
    to: Path | None = Field(default=None, max_length=200)
    name: Path | None = Field(default=None, max_length=200)

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class OutboundFields(_Strict):
    """How our reply is named in the JSON we POST (missing = not sent)."""

    to: Path = Field(default="to", max_length=200)
    text: Path = Field(default="text", max_length=200)
    from_: Path | None = Field(default="from", alias="from", max_length=200)
    # Our stable id of the reply (also sent as Idempotency-Key).
    reference: Path | None = Field(default="reference", max_length=200)
    # Where the gateway's answer names its id of the message (its status callbacks use it).
    response_id: Path = Field(default="id", max_length=200)
    # Where its error answers carry a text (for the agent).
    response_error: Path = Field(default="error", max_length=200)

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class StatusFields(_Strict):
    id: Path = Field(default="id", max_length=200)
    status: Path = Field(default="status", max_length=200)
    error_code: Path | None = Field(default="error_code", max_length=200)
    error: Path | None = Field(default="error", max_length=200)


Status = Literal["queued", "sent", "delivered", "read", "failed"]
# Common delivery-report words (SMPP DLR states included) → our delivery statuses.
DEFAULT_STATUS_VALUES: dict[str, Status] = {
    "queued": "queued", "accepted": "sent", "acceptd": "sent", "sent": "sent",
    "delivered": "delivered", "delivrd": "delivered", "read": "read",
    "failed": "failed", "undelivered": "failed", "undeliv": "failed", "rejected": "failed",
    "rejectd": "failed", "expired": "failed", "deleted": "failed",
}  # fmt: skip


class Signing(_Strict):
    """HMAC over the raw JSON body, both ways: the gateway signs what it sends us, we sign
    what we send it. Header value = prefix + hex or base64 digest."""

    header: str = Field(default="X-Signature", pattern=r"^[A-Za-z0-9-]{1,100}$")
    algorithm: Literal["sha256", "sha512", "sha1"] = "sha256"
    encoding: Literal["hex", "base64"] = "hex"
    prefix: str = Field(default="", max_length=20)


class SmsGatewaySettings(_Strict):
    """A local operator's HTTP SMS gateway. It POSTs incoming messages (and delivery reports
    to `webhook_url`/status) as JSON signed per `signing`; we POST replies to `outbound_url`."""

    outbound_url: str = Field(max_length=500)
    from_number: str | None = Field(default=None, max_length=40)
    default_region: str = Field(default="US", pattern=r"^[A-Z]{2}$")
    # The HMAC key (generated when absent; write-only, sealed at rest) and how it is used.
    secret: str | None = Field(
        default=None, min_length=16, max_length=500, json_schema_extra={"writeOnly": True}
    )
    signing: Signing = Field(default_factory=Signing)
    inbound_fields: InboundFields = Field(default_factory=InboundFields)
    outbound_fields: OutboundFields = Field(default_factory=OutboundFields)
    status_fields: StatusFields = Field(default_factory=StatusFields)
    # The gateway's status words (case-insensitive) → queued | sent | delivered | read | failed.
    status_values: dict[str, Status] = Field(
        default_factory=lambda: dict(DEFAULT_STATUS_VALUES), max_length=100
    )
    help_text: str | None = Field(default=None, max_length=1600)

    @field_validator("default_region")
    @classmethod
    def _known_region(cls, value: str) -> str:
        if value not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"unknown region {value!r}")
        return value

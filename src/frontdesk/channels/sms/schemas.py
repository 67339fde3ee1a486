"""The inbox settings of a Twilio-compatible SMS number."""

from __future__ import annotations

import phonenumbers
from pydantic import BaseModel, ConfigDict, Field, field_validator

DEFAULT_API = "https://api.twilio.com"


class SmsSettings(BaseModel):
    """A Twilio account (or a provider speaking its API) and the number customers write to.
    Twilio calls `webhook_url` for incoming messages and `webhook_url`/status for delivery
    statuses, signed with the auth token (X-Twilio-Signature)."""

    model_config = ConfigDict(extra="forbid")

    account_sid: str = Field(pattern=r"^AC[0-9a-zA-Z]{8,64}$")
    auth_token: str = Field(min_length=8, max_length=200, json_schema_extra={"writeOnly": True})
    # The sender: an E.164 number, a short code, or a Messaging Service SID (MG...).
    from_number: str = Field(min_length=3, max_length=40)
    # ISO 3166 region for numbers written without a country code (e.g. "AE", "IR").
    default_region: str = Field(default="US", pattern=r"^[A-Z]{2}$")
    api_base_url: str = Field(default=DEFAULT_API, max_length=500)
    # Sent back when a customer texts HELP (or its Arabic/Persian words); none = no answer.
    help_text: str | None = Field(default=None, max_length=1600)

    @field_validator("default_region")
    @classmethod
    def _known_region(cls, value: str) -> str:
        if value not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"unknown region {value!r}")
        return value

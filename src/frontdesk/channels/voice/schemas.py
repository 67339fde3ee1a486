"""The inbox settings of a phone number on a Twilio-compatible voice provider (Twilio,
SignalWire and others speak the same webhooks, TwiML and REST API)."""

from __future__ import annotations

import re
from datetime import time
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from pydantic import BaseModel, ConfigDict, Field, field_validator

DEFAULT_API = "https://api.twilio.com"
Language = Literal["ar", "fa", "en"]
Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
DAYS: tuple[Day, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_CHOICE = re.compile(r"^\s*([0-9])\s*=\s*(\d{1,9})\s*(.*)$")


class Prompts(BaseModel):
    """What the caller hears in one language. An audio file URL plays instead of the text;
    empty texts use the built-in wording (translated)."""

    model_config = ConfigDict(extra="forbid")

    # The queue menu ("For sales, press 1...").
    menu_text: str | None = Field(default=None, max_length=1000)
    menu_audio_url: str | None = Field(default=None, max_length=500)
    # After hours, before the beep.
    voicemail_text: str | None = Field(default=None, max_length=1000)
    voicemail_audio_url: str | None = Field(default=None, max_length=500)


class VoiceSettings(BaseModel):
    """A Twilio-compatible account and the number customers call. The provider calls
    `webhook_url` for an incoming call (and `webhook_url`/status for its statuses), signed
    with the auth token (X-Twilio-Signature), and is answered with TwiML."""

    model_config = ConfigDict(extra="forbid")

    account_sid: str = Field(pattern=r"^AC[0-9a-zA-Z]{8,64}$")
    auth_token: str = Field(min_length=8, max_length=200, json_schema_extra={"writeOnly": True})
    # The number customers call and click-to-call calls from, E.164.
    phone_number: str = Field(min_length=3, max_length=40)
    api_base_url: str = Field(default=DEFAULT_API, max_length=500)
    # ISO 3166 region for caller numbers written without a country code.
    default_region: str = Field(default="US", pattern=r"^[A-Z]{2}$")
    # The language menu offers these, in this order: the first is pressed with 1.
    languages: list[Language] = Field(default_factory=lambda: ["ar", "fa", "en"], min_length=1)  # type: ignore[arg-type]
    # Plays instead of the spoken language menu (an audio file of the admin's).
    welcome_audio_url: str | None = Field(default=None, max_length=500)
    # The queue menu, one choice per line: "DIGIT=QUEUE_ID LABEL" (e.g. "1=2 Sales"); the
    # queue id is a routing queue. No line: every caller waits in the one queue.
    queue_choices: list[str] = Field(default_factory=list, max_length=9)
    # Plays while the caller waits (looped between position announcements).
    hold_music_url: str | None = Field(default=None, max_length=500)
    # Business hours (a static week; the SLA calendars replace them when they land):
    # outside them callers leave a voicemail.
    open_days: list[Day] = Field(
        default_factory=lambda: ["mon", "tue", "wed", "thu", "fri"]  # type: ignore[arg-type]
    )
    opens_at: str = Field(default="09:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    closes_at: str = Field(default="17:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")
    timezone: str = Field(default="UTC", max_length=64)
    # Calls answered by an agent are recorded (the recording lands on the call's timeline).
    record_calls: bool = True
    # Longest voicemail, seconds.
    voicemail_max_seconds: int = Field(default=120, ge=10, le=600)
    # Recordings and transcripts of this inbox's calls are deleted after this many days
    # (unset: kept). The timeline keeps the call and says the recording was deleted.
    retention_days: int | None = Field(default=None, ge=1, le=3650)
    ar: Prompts | None = None
    fa: Prompts | None = None
    en: Prompts | None = None

    @field_validator("default_region")
    @classmethod
    def _known_region(cls, value: str) -> str:
        if value not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"unknown region {value!r}")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @field_validator("queue_choices")
    @classmethod
    def _choices(cls, value: list[str]) -> list[str]:
        digits = [parse_choice(line)[0] for line in value]
        if len(set(digits)) != len(digits):
            raise ValueError("each digit may be used once")
        return value

    def prompts(self, language: str) -> Prompts:
        found = getattr(self, language, None) if language in ("ar", "fa", "en") else None
        return found if isinstance(found, Prompts) else Prompts()

    def choices(self) -> list[tuple[str, int, str]]:
        """(digit, queue id, label) of each menu choice, in the order given."""
        return [parse_choice(line) for line in self.queue_choices]

    def hours(self) -> tuple[time, time]:
        opens = time.fromisoformat(self.opens_at)
        closes = time.max if self.closes_at == "24:00" else time.fromisoformat(self.closes_at)
        return opens, closes


def parse_choice(line: str) -> tuple[str, int, str]:
    found = _CHOICE.match(line)
    if found is None:
        raise ValueError(f"{line!r}: write a choice as DIGIT=QUEUE_ID LABEL, e.g. 1=2 Sales")
    return found.group(1), int(found.group(2)), found.group(3).strip()

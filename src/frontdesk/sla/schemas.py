"""What the SLA API takes and gives."""

from __future__ import annotations

from datetime import date
from functools import cache
from typing import Annotated
from zoneinfo import available_timezones

from pydantic import AfterValidator, BaseModel, Field, StringConstraints

from frontdesk.conversations.models import PRIORITIES
from frontdesk.conversations.schemas import SlaClockRead as ClockRead  # noqa: F401
from frontdesk.kit.schemas import Id, NotNull, RequestBody
from frontdesk.sla import businesstime as bt

Name = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
Word = Annotated[str, StringConstraints(min_length=1, max_length=50, strip_whitespace=True)]
# Up to 90 days of business time; at least a minute.
Target = Annotated[int, Field(ge=60, le=90 * 86400)]


@cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def _zone(value: str) -> str:
    # Only names of the tz database: a file path, a directory ("America") or a typo never
    # reaches ZoneInfo (which would read the file system for it).
    if value not in _zones():
        raise ValueError(f"unknown time zone {value!r} (use an IANA name like Asia/Riyadh)")
    return value


def _hours(value: dict[str, list[str]]) -> dict[str, list[str]]:
    unknown = sorted(set(value) - set(bt.WEEKDAYS))
    if unknown:
        raise ValueError(f"unknown weekday {unknown[0]!r} (use {', '.join(bt.WEEKDAYS)})")
    tidy = {day: [bt.format_interval(i) for i in bt.day_intervals(value.get(day, []))]
            for day in bt.WEEKDAYS}  # fmt: skip
    if not any(tidy.values()):
        raise ValueError("at least one weekday needs working hours")
    return tidy


def _priorities(value: list[str]) -> list[str]:
    for item in value:
        if item not in PRIORITIES:
            raise ValueError(f"unknown priority {item!r} (use {', '.join(PRIORITIES)})")
    return value


Zone = Annotated[str, StringConstraints(min_length=1, max_length=64), AfterValidator(_zone)]
Hours = Annotated[dict[str, list[str]], AfterValidator(_hours)]
Priorities = Annotated[list[str], Field(max_length=4), AfterValidator(_priorities)]
Words = Annotated[list[Word], Field(max_length=50)]
Holidays = Annotated[list[date], Field(max_length=400)]


class CalendarCreate(RequestBody):
    name: Name
    time_zone: Zone = "UTC"
    hours: Hours
    holidays: Holidays = []


class CalendarUpdate(RequestBody):
    name: NotNull[Name] = None
    time_zone: NotNull[Zone] = None
    hours: NotNull[Hours] = None
    holidays: NotNull[Holidays] = None


class CalendarRead(BaseModel):
    id: int
    name: str
    time_zone: str
    hours: dict[str, list[str]]
    holidays: list[str]


class PolicyCreate(RequestBody):
    name: Name
    position: Annotated[int, Field(ge=0, le=100_000)] = 100
    channels: Words = []
    priorities: Priorities = []
    tiers: Words = []
    calendar_id: Id | None = None
    first_response_seconds: Target | None = None
    next_response_seconds: Target | None = None
    resolution_seconds: Target | None = None
    priority_boost: Annotated[int, Field(ge=0, le=100)] = 1
    escalation_queue_id: Id | None = None


class PolicyUpdate(RequestBody):
    name: NotNull[Name] = None
    position: NotNull[Annotated[int, Field(ge=0, le=100_000)]] = None
    channels: NotNull[Words] = None
    priorities: NotNull[Priorities] = None
    tiers: NotNull[Words] = None
    calendar_id: Id | None = None
    first_response_seconds: Target | None = None
    next_response_seconds: Target | None = None
    resolution_seconds: Target | None = None
    priority_boost: NotNull[Annotated[int, Field(ge=0, le=100)]] = None
    escalation_queue_id: Id | None = None


class PolicyRead(BaseModel):
    id: int
    name: str
    position: int
    channels: list[str]
    priorities: list[str]
    tiers: list[str]
    calendar_id: int | None
    first_response_seconds: int | None
    next_response_seconds: int | None
    resolution_seconds: int | None
    priority_boost: int
    escalation_queue_id: int | None

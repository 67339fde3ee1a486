"""Business-time arithmetic, free of storage: add business seconds to an instant, and count
the business seconds between two instants, on a calendar of working hours per weekday,
holidays and a time zone.

Instants are aware datetimes (UTC in, UTC out). Working hours are local wall-clock times
turned into instants through zoneinfo day by day, so a DST change is counted as the clock
on the wall shows it: a 09:00-17:00 day is 8 hours on either side of the change, and an
interval that spans the change (01:00-04:00 on a spring-forward night) is the real time
that passes (2 hours). A local time that does not exist (the skipped hour) maps to the
instant after the gap; an ambiguous one (the repeated hour) to its first occurrence."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_MINUTES = 24 * 60
# A calendar with no working minute in this many days (every day a holiday, say) has none.
SEARCH_DAYS = 3 * 366

Interval = tuple[int, int]  # minutes from local midnight, start < end <= 1440


class NoBusinessTime(ValueError):
    """The calendar has no working time within SEARCH_DAYS of the instant."""


@dataclass(frozen=True)
class Calendar:
    """Working hours per weekday (Monday first; an empty day is a weekend day), holidays
    (local dates with no working time) and the zone the hours are read in."""

    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    hours: tuple[tuple[Interval, ...], ...] = (((0, DAY_MINUTES),),) * 7
    holidays: frozenset[date] = frozenset()


ALWAYS = Calendar()  # 24/7 in UTC: business time is plain elapsed time


def parse_interval(text: str) -> Interval:
    """Parse a range: "09:00-17:30" → (540, 1050); "00:00-24:00" is the whole day."""
    try:
        start, end = (part.strip() for part in text.split("-"))
        first, last = _minute(start), _minute(end)
    except ValueError:
        raise ValueError(f"{text!r} is not a time range like 09:00-17:00") from None
    if not 0 <= first < last <= DAY_MINUTES:
        raise ValueError(f"{text!r} must start before it ends, within one day")
    return first, last


def _minute(text: str) -> int:
    hours, minutes = text.split(":")
    if len(minutes) != 2 or not hours.isdigit() or not minutes.isdigit():
        raise ValueError(text)
    value = int(hours) * 60 + int(minutes)
    if int(minutes) >= 60 or value > DAY_MINUTES:
        raise ValueError(text)
    return value


def format_interval(interval: Interval) -> str:
    start, end = interval
    return f"{start // 60:02d}:{start % 60:02d}-{end // 60:02d}:{end % 60:02d}"


def day_intervals(texts: Sequence[str]) -> tuple[Interval, ...]:
    """A weekday's ranges, sorted; overlapping ranges are refused."""
    intervals = sorted(parse_interval(text) for text in texts)
    for (_, end), (start, _) in pairwise(intervals):
        if start < end:
            raise ValueError("time ranges of one day must not overlap")
    return tuple(intervals)


def calendar(
    zone: str, hours: Mapping[str, Sequence[str]], holidays: Sequence[str | date] = ()
) -> Calendar:
    """A calendar from stored form: {"mon": ["09:00-17:00"], ...}, ISO holiday dates."""
    return Calendar(
        zone=ZoneInfo(zone),
        hours=tuple(day_intervals(hours.get(day, ())) for day in WEEKDAYS),
        holidays=frozenset(d if isinstance(d, date) else date.fromisoformat(d) for d in holidays),
    )


def _instant(cal: Calendar, day: date, minute: int) -> datetime:
    if minute == DAY_MINUTES:
        day, minute = day + timedelta(days=1), 0
    local = datetime(day.year, day.month, day.day, minute // 60, minute % 60, tzinfo=cal.zone)
    return local.astimezone(UTC)


def intervals_from(cal: Calendar, instant: datetime) -> Iterator[tuple[datetime, datetime]]:
    """Working intervals (UTC, in order, never overlapping) that end after `instant`."""
    day = instant.astimezone(cal.zone).date() - timedelta(days=1)
    floor = instant
    idle_days = 0
    while idle_days <= SEARCH_DAYS:
        found = False
        if day not in cal.holidays:
            for first, last in cal.hours[day.weekday()]:
                # max(): wall times around a DST change may map before the previous end.
                start = max(_instant(cal, day, first), floor)
                end = _instant(cal, day, last)
                if end > start:
                    found = True
                    floor = end
                    yield start, end
        idle_days = 0 if found else idle_days + 1
        day += timedelta(days=1)
    raise NoBusinessTime("the calendar has no working time")


def add(cal: Calendar, start: datetime, seconds: float) -> datetime:
    """The instant `seconds` of business time after `start` (`start` itself for 0)."""
    remaining = timedelta(seconds=max(seconds, 0.0))
    if not remaining:
        return start
    for begin, end in intervals_from(cal, start):
        span = end - begin
        if remaining <= span:
            return begin + remaining
        remaining -= span
    raise NoBusinessTime("unreachable")  # pragma: no cover (intervals_from raises)


def between(cal: Calendar, start: datetime, end: datetime) -> float:
    """Business seconds from `start` to `end` (0 when `end` is not after `start`)."""
    if end <= start:
        return 0.0
    total = timedelta()
    try:
        for begin, finish in intervals_from(cal, start):
            if begin >= end:
                break
            total += min(finish, end) - begin
    except NoBusinessTime:
        pass  # no working time after `start` at all: what was counted is all there is
    return total.total_seconds()


def is_open(cal: Calendar, instant: datetime) -> bool:
    """Whether `instant` falls inside working time."""
    for begin, _ in intervals_from(cal, instant):
        return begin <= instant
    return False  # pragma: no cover

"""How long something took, for the metrics.

The seam for business hours: every duration the metrics report goes through
`working_seconds`. Today it is wall-clock time. When SLA business calendars land
(frontdesk.sla), `set_calendar` installs one function that counts only the calendar's
working seconds between two instants, and a backfill (`frontdesk analytics backfill`)
recomputes the stored sums with it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

Calendar = Callable[[datetime, datetime], float]


def _wall_clock(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds()


_calendar: Calendar = _wall_clock


def set_calendar(calendar: Calendar | None) -> None:
    """Install the business-hours calendar (None: wall clock again)."""
    global _calendar
    _calendar = calendar or _wall_clock


def working_seconds(start: datetime, end: datetime) -> int:
    """Whole seconds from start to end under the installed calendar; never negative."""
    return max(0, int(_calendar(start, end)))

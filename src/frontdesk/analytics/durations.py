"""How long something took, for the metrics: on the wall clock, or in business time on
the conversation's SLA calendar (frontdesk.sla.businesstime: working hours per weekday,
holidays and a time zone). The fold counts both and stores the business figure on the
conversation's facts, so a later change of calendar takes effect with a backfill
(`frontdesk analytics backfill`)."""

from __future__ import annotations

from datetime import datetime

from frontdesk.sla.businesstime import Calendar, between

__all__ = ["Calendar", "wall_seconds", "working_seconds"]


def wall_seconds(start: datetime, end: datetime) -> int:
    """Whole seconds from start to end on the wall clock; never negative."""
    return max(0, int((end - start).total_seconds()))


def working_seconds(start: datetime, end: datetime, calendar: Calendar | None = None) -> int:
    """Whole business seconds from start to end on `calendar` (None: the wall clock)."""
    if calendar is None:
        return wall_seconds(start, end)
    return max(0, int(between(calendar, start, end)))

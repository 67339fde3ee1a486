"""Clock arithmetic on an SlaClock row, free of queries: start, pause, resume, stop, and the
business time left. Every change bumps `generation` (see SlaClock)."""

from __future__ import annotations

from datetime import datetime

from frontdesk.sla import businesstime as bt
from frontdesk.sla.models import WARN_RATIO, SlaClock

OPEN_STATES = ("running", "paused")


def start(clock: SlaClock, at: datetime, cal: bt.Calendar) -> None:
    """(Re)start from nothing: a new cycle of the target."""
    clock.elapsed_seconds = 0.0
    clock.started_at = at
    clock.stopped_at = None
    clock.warned_at = None
    clock.breached_at = None
    clock.running_since = None
    clock.state = "paused"
    resume(clock, at, cal)


def used(clock: SlaClock, at: datetime, cal: bt.Calendar) -> float:
    """Business seconds of the target used by `at`."""
    spent = clock.elapsed_seconds or 0.0
    if clock.state == "running" and clock.running_since is not None:
        spent += bt.between(cal, clock.running_since, at)
    return spent


def remaining(clock: SlaClock, at: datetime, cal: bt.Calendar) -> float:
    """Business seconds left at `at` (negative once breached)."""
    return clock.target_seconds - used(clock, at, cal)


def pause(clock: SlaClock, at: datetime, cal: bt.Calendar) -> bool:
    if clock.state != "running":
        return False
    clock.elapsed_seconds = used(clock, at, cal)
    clock.state = "paused"
    clock.running_since = clock.due_at = clock.warn_at = None
    clock.generation = (clock.generation or 0) + 1
    return True


def resume(clock: SlaClock, at: datetime, cal: bt.Calendar) -> bool:
    if clock.state == "running":
        return False
    spent = clock.elapsed_seconds or 0.0
    clock.state = "running"
    clock.stopped_at = None
    clock.running_since = at
    clock.due_at = bt.add(cal, at, max(clock.target_seconds - spent, 0.0))
    clock.warn_at = bt.add(cal, at, max(clock.target_seconds * WARN_RATIO - spent, 0.0))
    clock.generation = (clock.generation or 0) + 1
    return True


def stop(clock: SlaClock, at: datetime, cal: bt.Calendar, *, state: str = "met") -> bool:
    if clock.state not in OPEN_STATES:
        return False
    clock.elapsed_seconds = used(clock, at, cal)
    clock.state = state
    clock.stopped_at = at
    clock.running_since = clock.due_at = clock.warn_at = None
    clock.generation = (clock.generation or 0) + 1
    return True


def retarget(clock: SlaClock, target_seconds: int, cal: bt.Calendar) -> bool:
    """Apply a changed target or calendar to an open clock: a running clock's due and warning
    instants are counted again from when it last started running, on `cal`, with the time
    used before that kept. Answers whether anything moved (then `generation` is bumped, so
    the old warning and breach jobs do nothing); applying the same change twice moves nothing."""
    if clock.state not in OPEN_STATES:
        return False
    changed = clock.target_seconds != target_seconds
    clock.target_seconds = target_seconds
    if clock.state == "running" and clock.running_since is not None:
        spent = clock.elapsed_seconds or 0.0
        due = bt.add(cal, clock.running_since, max(target_seconds - spent, 0.0))
        warn = bt.add(cal, clock.running_since, max(target_seconds * WARN_RATIO - spent, 0.0))
        if not (_same(due, clock.due_at) and _same(warn, clock.warn_at)):
            clock.due_at, clock.warn_at = due, warn
            changed = True
    if changed:
        clock.generation = (clock.generation or 0) + 1
    return changed


def _same(instant: datetime, stored: datetime | None) -> bool:
    # Stored instants may lose sub-millisecond precision on the way through the database.
    return stored is not None and abs((instant - stored).total_seconds()) < 0.001

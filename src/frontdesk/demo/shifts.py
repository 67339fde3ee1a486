"""The demo agents' shifts over the history's weeks (issue 13, occupancy): presence changes
back-dated in the event log — logged in on weekdays, a lunch break away, a few stretches busy
on calls — so the reports show each agent's occupancy. Deterministic: one seed."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.db import utcnow
from frontdesk.kit.events import PENDING_EVENTS, record

DAYS = 42


def shift(day: datetime, rng: random.Random) -> list[tuple[datetime, str]]:
    """One working day (UTC): in around 08:00, lunch away, some calls busy, out around 17:00."""
    start = day.replace(hour=8, minute=rng.randint(0, 30))
    lunch = day.replace(hour=12, minute=rng.randint(0, 30))
    changes = [(start, "available"), (lunch, "away"), (lunch + timedelta(minutes=45), "available")]
    moment = start + timedelta(minutes=rng.randint(20, 60))
    while moment < day.replace(hour=16, minute=30):
        busy = timedelta(minutes=rng.randint(10, 45))
        done = moment + busy + timedelta(minutes=rng.randint(2, 6))
        if done < lunch or moment > lunch + timedelta(minutes=45):  # no call over lunch
            changes += [(moment, "busy"), (moment + busy, "after_call_work"), (done, "available")]
        moment = done + timedelta(minutes=rng.randint(15, 70))
    changes.append((day.replace(hour=17, minute=rng.randint(0, 30)), "offline"))
    return sorted(changes)


def seed_shifts(session: AsyncSession, agents: list[Any], *, seed: int = 20261206) -> int:
    """Presence events for each agent's weekdays of the last DAYS days; how many."""
    rng = random.Random(seed)
    today = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    made = 0
    for agent in agents:
        for back in range(DAYS, 0, -1):
            day = today - timedelta(days=back)
            if day.weekday() >= 5:
                continue
            for at, status in shift(day, rng):
                record(session, "presence.changed", {"agent_id": agent.id, "status": status})
                session.info[PENDING_EVENTS][-1]["at"] = at
                made += 1
    return made

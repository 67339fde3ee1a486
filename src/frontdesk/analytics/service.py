"""Keeping the rollups up to date: fold new events into conversation facts and file the
difference into the hourly rollups, in one transaction with the cursor's move."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.analytics import facts as f
from frontdesk.analytics import occupancy
from frontdesk.analytics import rollup_repository as repository
from frontdesk.db import Database
from frontdesk.kit import uow

# Events folded per transaction: big enough to amortise the round trips, small enough that a
# catch-up holds the cursor (and, on SQLite, the write lock) for well under a second.
BATCH = 5000
# Delivery receipts and edits are most of the log and move no metric or dimension.
IGNORED = frozenset({"message.updated"})


async def catch_up(session: AsyncSession, *, limit: int = BATCH, wait: bool = False) -> int:
    """Fold up to `limit` events after the cursor; the number folded (0: up to date, or
    another worker holds the cursor). The caller commits."""
    cursor = await repository.lock_cursor(session, wait=wait)
    if cursor is None:
        return 0
    events = await repository.events_after(session, cursor, limit=limit, skip_payload=IGNORED)
    if not events:
        return 0
    await fold(session, events)
    await repository.move_cursor(session, int(events[-1]["sequence"]))
    return len(events)


async def fold(session: AsyncSession, events: list[dict[str, Any]]) -> None:
    """Fold events (oldest first) into their conversations' facts, the agents' occupancy
    and the rollups."""
    by_conversation: dict[int, list[dict[str, Any]]] = {}
    for event in events:
        if event.get("conversation_id") and event["type"] not in IGNORED:
            by_conversation.setdefault(int(event["conversation_id"]), []).append(event)
    await _fold_agents(session, [event for event in events if occupancy.is_agent_event(event)])
    if not by_conversation:
        return
    ids = sorted(by_conversation)
    stored = await repository.load_facts(session, ids)
    where = await repository.dimensions(session, ids)
    calendars = await repository.calendars(session, ids)
    changed, gone, delta = f.fold_batch(stored, by_conversation, where, calendars)
    await repository.save_facts(session, changed)
    await repository.delete_facts(session, gone)
    await repository.add_to_rollups(session, delta)


async def _fold_agents(session: AsyncSession, events: list[dict[str, Any]]) -> None:
    if not events:
        return
    states = await repository.agent_states(session)
    before = {key: (s.status, s.at, list(s.task_ids)) for key, s in states.items()}
    delta = occupancy.fold(states, events)
    changed = [s for key, s in states.items() if before.get(key) != (s.status, s.at, s.task_ids)]
    await repository.save_agent_states(session, changed)
    await repository.add_agent_hours(session, delta)


async def catch_up_all(db: Database, *, wait: bool = True) -> int:
    """Fold everything the log holds now, one committed batch at a time."""
    total = 0
    while True:
        async with db.session() as session:
            done = await catch_up(session, wait=wait)
            await uow.commit(session)
        total += done
        if done == 0:
            return total


async def backfill(
    db: Database, *, progress: Callable[[int, int], None] | None = None, batch: int = 20000
) -> int:
    """Rebuild facts and rollups from the whole event log; `progress(done, total)` after
    each batch. Reports read an empty or partial picture until it ends."""
    async with db.session() as session:
        await repository.clear(session)
        total = await repository.last_sequence(session)
        await uow.commit(session)
    folded = 0
    while True:
        async with db.session() as session:
            done = await catch_up(session, limit=batch, wait=True)
            position, _ = await repository.read_cursor(session)
            await uow.commit(session)
        folded += done
        if progress is not None:
            progress(min(position, total), total)
        if done == 0:
            return folded


async def lag(session: AsyncSession) -> int:
    """Events the rollups have not folded yet."""
    position, _ = await repository.read_cursor(session)
    return max(0, await repository.last_sequence(session) - position)

"""What a waiting customer is told: their place in the queue and the expected wait.

Place: the 1-based position of the customer's waiting conversation task among every waiting
task of its queue, in the order the router serves them (rank, then id), work items included.

Expected wait, from measured data (docs/routing.md, "Position and expected wait"):

    wait = position * handle / servers

- `handle`: the mean seconds from acceptance to completion of the queue's latest 100
  completed tasks of the same channel in the last 24 hours (DEFAULT_HANDLE_SECONDS before
  any is measured);
- `servers`: the slots for that channel of the queue's eligible agents who are available now
  (each agent's channel capacity, bounded by their total): with `servers` slots each freeing
  after `handle` seconds on average, a slot frees every handle / servers seconds, and the
  customer is served when the `position`-th one does.

No eligible agent available means no estimate (None): the position alone is shown."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.db import utcnow
from frontdesk.routing import dispatch, repository
from frontdesk.routing.engine import TOTAL

DEFAULT_HANDLE_SECONDS = 300.0
HANDLE_WINDOW = timedelta(hours=24)

Owner = tuple[int, int]  # (inbox id, customer id)


@dataclass(frozen=True)
class Place:
    task_id: int
    queue_id: int
    position: int
    wait_minutes: int | None  # None: nobody who could take it is available now
    offered: bool = False  # an agent is being asked: what was told stays until they answer


async def places(session: AsyncSession, owners: Iterable[Owner]) -> dict[Owner, Place]:
    """Each (inbox, customer) pair's waiting conversation task and its place (pairs without
    one are left out). Only the pair's own task is described: what is told to one customer
    says nothing about the others ahead."""
    wanted = set(owners)
    answer: dict[Owner, Place] = {
        owner: Place(task_id, queue_id, 0, None, offered=True)
        for owner, task_id, queue_id in await repository.offered_conversation_tasks(
            session, sorted(wanted)
        )
        if owner in wanted
    }
    queue_ids = await repository.queues_of_waiting_customers(session, sorted(wanted))
    if not queue_ids:
        return answer
    found: dict[Owner, tuple[int, int, str, int]] = {}
    counters: dict[int, int] = {}
    for task_id, queue_id, channel, inbox_id, customer_id, kind in await repository.waiting_order(
        session, queue_ids=queue_ids
    ):
        counters[queue_id] = position = counters.get(queue_id, 0) + 1
        owner = (inbox_id, customer_id)
        if kind == "conversation" and owner in wanted and owner not in found:
            found[owner] = (task_id, queue_id, channel, position)
    if not found:
        return answer
    rates = await _rates(
        session, {(queue_id, channel) for _, queue_id, channel, _ in found.values()}
    )
    for owner, (task_id, queue_id, channel, position) in found.items():
        handle, servers = rates[(queue_id, channel)]
        minutes = None if servers == 0 else max(1, math.ceil(position * handle / servers / 60))
        answer[owner] = Place(task_id, queue_id, position, minutes)
    return answer


async def _rates(
    session: AsyncSession, lines: set[tuple[int, str]]
) -> dict[tuple[int, str], tuple[float, int]]:
    """(mean handle seconds, available slots) per (queue, channel)."""
    found = await dispatch.snapshot(session)
    since = utcnow() - HANDLE_WINDOW
    rates = {}
    for queue_id, channel in lines:
        times = await repository.recent_handle_times(
            session, queue_id=queue_id, channel=channel, since=since
        )
        handle = sum(times) / len(times) if times else DEFAULT_HANDLE_SECONDS
        servers = 0
        for agent_id in found.eligible.get(queue_id, ()):
            worker = found.workers[agent_id]
            slots = worker.capacity.get(channel, 0)
            if TOTAL in worker.capacity:
                slots = min(slots, worker.capacity[TOTAL])
            servers += max(slots, 0)
        rates[(queue_id, channel)] = (max(handle, 1.0), servers)
    return rates

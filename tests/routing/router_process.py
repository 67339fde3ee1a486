"""One routing process for tests/routing/test_processes.py: routes, pulls and completes
against the database given, as a `frontdesk worker` does, until the loops are spent.

    python -m tests.routing.router_process DATABASE_URL SEED LOOPS"""

from __future__ import annotations

import asyncio
import random
import sys
from datetime import timedelta

from sqlalchemy import select

import frontdesk.models  # noqa: F401  (every table)
from frontdesk.db import Database
from frontdesk.kit import uow
from frontdesk.kit.errors import Conflict
from frontdesk.routing import dispatch, repository
from frontdesk.routing.models import RoutingTask


async def main(url: str, seed: int, loops: int) -> None:
    # The agents' desks are not open: a run on a loaded machine outlasts the 75 s after which
    # an agent not seen counts as offline, and pulls were refused (the proof is about double
    # assignment and capacity, not presence).
    dispatch.STALE_AFTER = timedelta(hours=1)
    rng = random.Random(seed)
    db = Database(url)
    agent_ids = await _agents(db)
    for _ in range(loops):
        async with db.session() as session:
            await dispatch.route(session, limit=40)
            await uow.commit(session)
        async with db.session() as session:
            agent = await repository.get_agent_for_routing(session, rng.choice(agent_ids))
            await dispatch.take_next(session, agent)
            await uow.commit(session)
        await _complete_one(db, rng)
    await db.dispose()


async def _agents(db: Database) -> list[int]:
    async with db.session() as session:
        rows = await repository.workers_snapshot(session, seen_after=dispatch.EPOCH)
        return [agent.id for agent, _, _ in rows]


async def _complete_one(db: Database, rng: random.Random) -> None:
    async with db.session() as session:
        held = (
            await session.scalars(
                select(RoutingTask).where(RoutingTask.status == "assigned").limit(20)
            )
        ).all()
        if not held:
            return
        task = rng.choice(held)
        try:
            await dispatch.complete(session, task, None)
            await uow.commit(session)
        except Conflict:  # the other process completed it first
            await uow.rollback(session)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))

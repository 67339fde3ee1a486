"""The demo's handled work: the staffing report measures handle times from it."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from frontdesk.demo.workload import seed_handled_tasks
from frontdesk.runtime import Runtime
from frontdesk.seed import seed


async def test_the_demo_measures_handle_times(client: httpx.AsyncClient, runtime: Runtime) -> None:
    seeded = await seed(runtime)
    headers = {"Authorization": f"Bearer {seeded.token}"}
    body = (await client.get("/api/v1/reports/staffing?weeks=4", headers=headers)).json()
    measured = {c["channel"]: c for c in body["channels"] if c["aht_source"] == "measured"}
    assert len(measured) >= 5, body["channels"]
    for load in measured.values():
        assert 60 <= load["aht"] <= 3600 and load["handled"] >= 5
    assert sum(i["arrivals_per_hour"] for i in body["intervals"]) > 50 / 4
    assert body["peak_agents"] >= 1
    async with runtime.db.session() as session:
        assert await seed_handled_tasks(session) == 0  # every answered one has its task


async def test_the_demo_has_queues_with_waiting_work(runtime: Runtime) -> None:
    await seed(runtime)
    from frontdesk.routing import board
    from frontdesk.routing.models import RoutingTask

    async with runtime.db.session() as session:
        lines = {line.name: line for line in await board.lines(session)}
        assert set(lines) >= {"Support", "Billing"}
        assert lines["Billing"].waiting == 2 and lines["Billing"].at_risk == 1
        assert lines["Billing"].oldest_seconds is not None
        assert lines["Billing"].oldest_seconds >= 24 * 60
        # Support: its back-office item, and the conversations routing put there.
        items = await session.scalars(
            select(RoutingTask).where(
                RoutingTask.queue_id == lines["Support"].id,
                RoutingTask.status == "waiting",
            )
        )
        kinds = sorted(task.kind for task in items)
        assert kinds.count("work_item") == 1
        assert lines["Support"].waiting == len(kinds)

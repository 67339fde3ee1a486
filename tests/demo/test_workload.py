"""The demo's handled work: the staffing report measures handle times from it."""

from __future__ import annotations

import httpx

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

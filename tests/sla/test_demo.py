"""The demo's service levels: calendars (one with a Friday/Saturday weekend), policies, a
conversation already breached and one at risk."""

from __future__ import annotations

from frontdesk.seed import seed
from tests.conftest import run_jobs
from tests.sla.helpers import events_of


async def test_the_demo_has_calendars_policies_and_clocks_at_risk(client, runtime):
    seeded = await seed(runtime, history=False)
    headers = {"Authorization": f"Bearer {seeded.token}"}
    await run_jobs(runtime)
    calendars = {
        c["name"]: c for c in (await client.get("/api/v1/sla/calendars", headers=headers)).json()
    }
    arabic = calendars["Arabic team (Riyadh)"]
    assert arabic["time_zone"] == "Asia/Riyadh"
    assert arabic["hours"]["fri"] == arabic["hours"]["sat"] == []
    assert arabic["hours"]["sun"] == ["09:00-17:00"]
    policies = (await client.get("/api/v1/sla/policies", headers=headers)).json()
    assert len(policies) >= 4
    breached = {e.conversation_id for e in await events_of(runtime, "sla.breached")}
    warned = {e.conversation_id for e in await events_of(runtime, "sla.warning")}
    assert len(breached) == 1
    at_risk = warned - breached
    assert len(at_risk) == 1
    [risky] = at_risk
    read = (await client.get(f"/api/v1/conversations/{risky}", headers=headers)).json()
    first = {c["kind"]: c for c in read["sla"]}["first_response"]
    assert first["state"] == "running" and first["breached_at"] is None
    assert 0 < first["remaining_seconds"] <= 15 * 60
    # Conversations that arrived with the demo got their clocks from the event log.
    items = (await client.get("/api/v1/conversations?limit=100", headers=headers)).json()["items"]
    assert sum(1 for c in items if c["sla"]) >= 5

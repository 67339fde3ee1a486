"""The demo company's people and customer records: teams with members, agents in every
state (active, invited, deactivated), signatures, and custom attributes with values."""

from __future__ import annotations

import httpx

from frontdesk.runtime import Runtime
from frontdesk.seed import seed


async def test_people_teams_and_attributes(client: httpx.AsyncClient, runtime: Runtime) -> None:
    seeded = await seed(runtime, history=False)
    headers = {"Authorization": f"Bearer {seeded.token}"}
    agents = (await client.get("/api/v1/agents?limit=100", headers=headers)).json()["items"]
    by_email = {a["email"]: a for a in agents}
    assert by_email["daniel@frontdesk.test"]["active"] is False
    assert {a["role"] for a in agents} == {"admin", "supervisor", "agent"}
    assert "Customer care" in by_email["alice@frontdesk.test"]["signature"]
    teams = {t["name"]: t for t in (await client.get("/api/v1/teams", headers=headers)).json()}
    assert {"Support", "Billing", "VIP", "Arabic desk"} <= set(teams)
    assert len(teams["Arabic desk"]["agent_ids"]) == 3
    keys = [a["key"] for a in (await client.get("/api/v1/customer-attributes",
                                                headers=headers)).json()]  # fmt: skip
    assert keys == ["plan", "seats", "renews_on", "account_manager"]
    pro = await client.get("/api/v1/customers", params={"attr.plan": "Pro"}, headers=headers)
    assert len(pro.json()["items"]) >= 2
    layla = await client.get(
        "/api/v1/customers", params={"identity": "layla@example.com"}, headers=headers
    )
    assert layla.json()["items"][0]["attributes"]["seats"] == 5
    # Farah was invited and has not chosen a password yet: the Agents page says so.
    login = await client.get("/login")
    assert login.status_code == 200

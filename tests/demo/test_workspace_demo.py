"""The demo's workspace: saved views shared with everyone and with a team, personal ones kept
personal, shared macros (one in Persian) that apply, and each agent's notification choices."""

from __future__ import annotations

import httpx

from frontdesk.auth import repository as auth_repository
from frontdesk.auth import service as auth
from frontdesk.kit import uow
from frontdesk.runtime import Runtime
from frontdesk.seed import seed


async def token_of(runtime: Runtime, email: str) -> dict[str, str]:
    async with runtime.db.session() as session:
        agent = await auth_repository.get_agent_by_email(session, email)
        assert agent is not None
        token = await auth.issue_token(session, agent)
        await uow.commit(session)
    return {"Authorization": f"Bearer {token}"}


async def test_the_demo_has_saved_views_macros_and_preferences(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    seeded = await seed(runtime, history=False)
    admin = {"Authorization": f"Bearer {seeded.token}"}
    alice = await token_of(runtime, "alice@frontdesk.test")
    bob = await token_of(runtime, "bob@frontdesk.test")
    views = lambda r: sorted(v["name"] for v in r.json())  # noqa: E731
    assert views(await client.get("/api/v1/saved-views", headers=alice)) == [
        "My urgent",
        "Snoozed",
        "Support: e-mail",
        "Unassigned and open",
    ]
    # Bob is not in Support: the team's view is not his; his own Arabic one is.
    assert views(await client.get("/api/v1/saved-views", headers=bob)) == [
        "Snoozed",
        "Unassigned and open",
        "استرداد",
    ]
    shared = [m for m in (await client.get("/api/v1/macros", headers=admin)).json()]
    assert {m["name"] for m in shared} == {
        "Refund issued",
        "Waiting for the customer",
        "پاسخ فارسی: ارسال شد",
    }
    assert all(m["shared"] for m in shared)
    mine = (await client.get("/api/v1/macros", headers=alice)).json()
    assert "Take it, urgent" in {m["name"] for m in mine}
    prefs = (await client.get("/api/v1/me/preferences", headers=alice)).json()
    assert prefs == {
        "time_zone": "Europe/London",
        "notify": ["assigned", "mentions"],
        "sound": False,
    }

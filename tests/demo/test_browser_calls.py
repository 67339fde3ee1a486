"""The demo's browser calls: video and audio calls from the website's chat widget on the
timeline (one missed, waiting for its callback), and a chat inbox that records new calls."""

from __future__ import annotations

import httpx

from frontdesk.runtime import Runtime
from frontdesk.seed import seed
from tests.demo.test_history import all_conversations


async def test_the_demo_has_browser_calls_and_records_new_ones(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    seeded = await seed(runtime)
    headers = {"Authorization": f"Bearer {seeded.token}"}
    chats = [c for c in await all_conversations(client, headers) if c["channel"] == "webchat"]
    calls = []
    for conversation in chats:
        rows = await client.get(
            f"/api/v1/conversations/{conversation['id']}/messages", headers=headers
        )
        calls += [m for m in rows.json()["items"] if m["kind"] == "call"]
    assert {m["call"]["media"] for m in calls} == {"audio", "video"}
    assert {m["call"]["status"] for m in calls} == {"ended", "missed"}
    ended = [m for m in calls if m["call"]["status"] == "ended"]
    assert all(m["call"]["duration_seconds"] > 0 and m["call"]["agent_id"] for m in ended)
    missed = [m for m in calls if m["call"]["status"] == "missed"]
    assert missed and all(not m["answered"] for m in missed)
    inboxes = (await client.get("/api/v1/inboxes", headers=headers)).json()["items"]
    chat = next(i for i in inboxes if i["channel"] == "webchat")
    config = (await client.get(f"/widget/api/config?inbox={chat['id']}")).json()
    assert config["calls"] == {"enabled": True, "recorded": True, "ice_servers": []}

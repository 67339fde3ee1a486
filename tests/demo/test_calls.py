"""The demo's call history: calls on the phone inbox, answered with recordings, missed ones
waiting for a callback, a voicemail; the callers are the SMS and WhatsApp customers."""

from __future__ import annotations

import httpx

from frontdesk.runtime import Runtime
from frontdesk.seed import seed
from tests.demo.test_history import all_conversations


async def test_the_demo_has_a_call_history(client: httpx.AsyncClient, runtime: Runtime) -> None:
    seeded = await seed(runtime)
    headers = {"Authorization": f"Bearer {seeded.token}"}
    phone = [c for c in await all_conversations(client, headers) if c["channel"] == "voice"]
    assert len(phone) >= 4
    calls = []
    for conversation in phone:
        rows = await client.get(
            f"/api/v1/conversations/{conversation['id']}/messages", headers=headers
        )
        calls += rows.json()["items"]
    assert {m["kind"] for m in calls} == {"call"}
    statuses = {m["call"]["status"] for m in calls}
    assert {"ended", "missed", "voicemail"} <= statuses
    recorded = [m for m in calls if m["call"]["recording"]]
    assert recorded and all(
        m["call"]["recording"] in [a["id"] for a in m["attachments"]] for m in recorded
    )
    audio = await client.get(recorded[0]["attachments"][0]["url"], headers=headers)
    assert audio.status_code == 200 and audio.content[:4] == b"RIFF"
    missed = [m for m in calls if m["call"]["status"] == "missed"]
    assert all(not m["answered"] for m in missed)
    tagged = [c for c in phone if "callback" in c["tags"]]
    assert tagged
    # A caller's timeline shows their texts on other channels too.
    crossed = 0
    for conversation in phone:
        timeline = await client.get(
            f"/api/v1/customers/{conversation['customer_id']}/timeline", headers=headers
        )
        crossed += len({item["channel"] for item in timeline.json()["items"]}) > 1
    assert crossed >= 2


async def test_the_demo_has_a_cti_call_history(client: httpx.AsyncClient, runtime: Runtime) -> None:
    seeded = await seed(runtime)
    headers = {"Authorization": f"Bearer {seeded.token}"}
    agents = (await client.get("/api/v1/agents", headers=headers)).json()["items"]
    extensions = {a["email"]: a["extension"] for a in agents}
    assert extensions["alice@frontdesk.test"] == "201"
    pbx = [c for c in await all_conversations(client, headers) if c["channel"] == "cti"]
    assert len(pbx) == 3
    calls = []
    for conversation in pbx:
        rows = await client.get(
            f"/api/v1/conversations/{conversation['id']}/messages", headers=headers
        )
        calls += rows.json()["items"]
    assert sorted(m["call"]["status"] for m in calls) == ["ended", "ended", "missed"]
    assert {m["call"]["extension"] for m in calls} == {"201", "202", "203"}
    # The PBX's callers are the SMS and WhatsApp customers: their timelines cross channels.
    layla = next(c for c in pbx if c["customer_id"])
    timeline = await client.get(
        f"/api/v1/customers/{layla['customer_id']}/timeline", headers=headers
    )
    assert len({item["channel"] for item in timeline.json()["items"]}) > 1
    # Seeding again stores nothing twice.
    await seed(runtime)
    again = [c for c in await all_conversations(client, headers) if c["channel"] == "cti"]
    assert len(again) == 3

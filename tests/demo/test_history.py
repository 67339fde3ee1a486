"""The demo's history (issue 14 item 6): weeks of conversations on every channel, in three
languages, resolved, snoozed and unanswered, with people who write on several channels."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime, timedelta

import httpx

from frontdesk.db import utcnow
from frontdesk.runtime import Runtime
from frontdesk.seed import seed


async def all_conversations(client: httpx.AsyncClient, headers: dict[str, str]) -> list[dict]:
    items: list[dict] = []
    cursor = None
    while True:
        query = f"&cursor={cursor}" if cursor else ""
        page = (await client.get(f"/api/v1/conversations?limit=100{query}", headers=headers)).json()
        items += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return items


async def test_the_demo_has_weeks_of_history(client: httpx.AsyncClient, runtime: Runtime) -> None:
    seeded = await seed(runtime)
    headers = {"Authorization": f"Bearer {seeded.token}"}
    items = await all_conversations(client, headers)
    assert 180 <= len(items) <= 230
    channels = Counter(c["channel"] for c in items)
    wanted = {"api", "email", "webchat", "sms", "whatsapp", "telegram", "messenger", "instagram"}
    assert wanted <= set(channels), channels
    statuses = Counter(c["status"] for c in items)
    assert statuses["resolved"] > 50 and statuses["snoozed"] > 3 and statuses["open"] > 10
    assert {"en", "ar", "fa"} <= {c["language"] for c in items}
    oldest = min(c["created_at"] for c in items)
    assert oldest < (utcnow() - timedelta(days=21)).isoformat()
    per_customer = defaultdict(set)
    for c in items:
        per_customer[c["customer_id"]].add(c["channel"])
    assert sum(1 for seen in per_customer.values() if len(seen) > 1) >= 5
    waiting = 0
    for c in [c for c in items if c["status"] == "open" and c["language"]][:15]:
        rows = await client.get(f"/api/v1/conversations/{c['id']}/messages", headers=headers)
        waiting += all(m["direction"] == "inbound" for m in rows.json()["items"])
    assert waiting >= 1  # some customers still wait for an answer
    # Seeding again (a restart) adds nothing.
    again = await seed(runtime)
    assert len(await all_conversations(client, {"Authorization": f"Bearer {again.token}"})) == len(
        items
    )


async def test_the_reports_show_the_weeks_of_history(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    """Seeding folds the back-dated history into the rollups: the reports spread it over
    weeks, on every channel, with resolutions and first responses."""
    seeded = await seed(runtime)
    headers = {"Authorization": f"Bearer {seeded.token}"}
    items = await all_conversations(client, headers)
    start = (utcnow() - timedelta(days=60)).date().isoformat()
    summary = await client.get("/api/v1/reports/summary", params={"start": start},
                               headers=headers)  # fmt: skip
    current = summary.json()["current"]
    assert current["volume"] == len(items)
    assert current["resolved"] > 50 and current["first_responses"] > 100
    series = await client.get("/api/v1/reports/timeseries", params={"start": start},
                              headers=headers)  # fmt: skip
    days = [p for p in series.json()["items"] if p["volume"]]
    assert len(days) > 25  # weeks, not one day
    channels = await client.get("/api/v1/reports/breakdown", params={"start": start},
                                headers=headers)  # fmt: skip
    assert len(channels.json()["items"]) >= 8
    # The agents' back-dated shifts: occupancy between idle and always busy, per agent too.
    assert 0.1 < current["occupancy"] < 0.9
    agents = await client.get("/api/v1/reports/breakdown", params={"start": start, "by": "agent"},
                              headers=headers)  # fmt: skip
    busy = [i["metrics"]["occupancy"] for i in agents.json()["items"] if i["key"] != "0"]
    assert len(busy) >= 3 and all(0.1 < value < 0.9 for value in busy)


async def test_the_demo_history_has_an_activity_log(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    seeded = await seed(runtime)
    headers = {"Authorization": f"Bearer {seeded.token}"}
    resolved = [c for c in await all_conversations(client, headers) if c["status"] == "resolved"]
    kinds: Counter[str] = Counter()
    for conversation in resolved[:10]:
        page = await client.get(
            f"/api/v1/conversations/{conversation['id']}/activity", headers=headers
        )
        items = page.json()["items"]
        kinds.update(item["kind"] for item in items)
        # Back-dated with the story: opened at the customer's message, changes after it (a
        # merge of the person's customers happens at seeding time, today).
        story = [datetime.fromisoformat(i["at"]) for i in items if i["kind"] != "merged"]
        assert items[0]["kind"] == "opened"
        assert story[0] <= story[-1] < utcnow() - timedelta(minutes=30)
    assert kinds["opened"] == 10 and kinds["status"] == 10 and kinds["assigned"] >= 1

"""The demo's history shows sentiment: once the jobs ran, messages carry labels and a few
customers in each language are frustrated, their conversations raised in priority."""

from __future__ import annotations

import httpx

from frontdesk.runtime import Runtime
from frontdesk.seed import seed
from tests.conftest import run_jobs
from tests.demo.test_history import all_conversations


async def test_the_demo_has_frustrated_customers_in_every_language(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    seeded = await seed(runtime)
    await run_jobs(runtime, rounds=200)
    headers = {"Authorization": f"Bearer {seeded.token}"}
    items = await all_conversations(client, headers)
    frustrated = [c for c in items if c["frustrated"]]
    assert {"en", "ar", "fa"} <= {c["language"] for c in frustrated}
    assert all(c["priority"] in ("high", "urgent") for c in frustrated)
    analysed = [c for c in items if c["sentiment_trend"] is not None]
    assert len(analysed) > len(items) * 0.9
    assert any(c["sentiment_trend"] > 0.3 for c in analysed)  # the thankful ones

"""The reports page: every agent has it; charts drawn from the rollups, each mark linking to
the conversations behind it (and the inbox list honours those links); CSV; bad input."""

from __future__ import annotations

import csv
import io
import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import httpx

from frontdesk.analytics import service
from frontdesk.runtime import Runtime
from frontdesk.web.charts import SVG_NS
from tests.analytics.test_views import history
from tests.conftest import Cast
from tests.web.test_staffing_page import cells, figure
from tests.web.test_views import log_in


class TestReportsPage:
    async def test_charts_drawn_and_linked_to_their_conversations(
        self, client: httpx.AsyncClient, runtime: Runtime, cast: Cast
    ) -> None:
        await history(client, cast)
        await service.catch_up_all(runtime.db)
        await log_in(client, cast.ada)
        page = await client.get("/reports")
        assert page.status_code == 200
        assert 'data-testid="fd-nav-reports"' in page.text
        heat = cells(figure(page.text, "fd-report-heatmap"))
        assert len(heat) == 168
        assert sum(float(c.attrib["data-value"]) for c in heat) == 4
        channels = figure(page.text, "fd-report-channels")
        links = [a.attrib["href"] for a in channels.iter(f"{{{SVG_NS}}}a")]
        assert links and all(link.startswith("/?") for link in links)
        query = parse_qs(urlsplit(links[0]).query, keep_blank_values=True)
        assert query["channel"] == ["api"] and query["status"] == [""]
        # The link opens the inbox list with exactly those conversations.
        listed = await client.get(links[0])
        assert listed.status_code == 200
        assert listed.text.count('data-testid="fd-conversation-row"') == 4
        inbox_links = [
            a.attrib["href"] for a in figure(page.text, "fd-report-inboxes").iter(f"{{{SVG_NS}}}a")
        ]
        counts = []
        for link in inbox_links:
            listed = await client.get(link)
            counts.append(listed.text.count('data-testid="fd-conversation-row"'))
        counts.sort()
        assert counts == [1, 3]

    async def test_agent_sees_only_their_inboxes(
        self, client: httpx.AsyncClient, runtime: Runtime, cast: Cast
    ) -> None:
        await history(client, cast)
        await service.catch_up_all(runtime.db)
        await log_in(client, cast.bob)
        page = await client.get("/reports")
        heat = cells(figure(page.text, "fd-report-heatmap"))
        assert sum(float(c.attrib["data-value"]) for c in heat) == 1
        exported = await client.get("/reports.csv", params={"by": "inbox"})
        rows = list(csv.reader(io.StringIO(exported.text)))
        assert [r[1] for r in rows[1:]] == ["App"]

    async def test_bad_period_shows_the_default_with_a_message(
        self, client: httpx.AsyncClient, runtime: Runtime, cast: Cast
    ) -> None:
        await log_in(client, cast.alice)
        page = await client.get("/reports", params={"start": "2026-02-30"})
        assert page.status_code == 200
        assert 'data-testid="fd-report-problem"' in page.text

    async def test_arabic_digits(
        self, client: httpx.AsyncClient, runtime: Runtime, cast: Cast
    ) -> None:
        await history(client, cast)
        await service.catch_up_all(runtime.db)
        await client.patch(
            f"/api/v1/agents/{cast.ada.id}", json={"language": "ar"}, headers=cast.ada.headers
        )
        await log_in(client, cast.ada)
        page = await client.get("/reports")
        assert 'dir="rtl"' in page.text
        volume = re.search(r'data-testid="fd-kpi-volume">.*?<td>(.*?)</td>', page.text, re.S)
        assert volume is not None and unescape(volume.group(1)) == "٤"

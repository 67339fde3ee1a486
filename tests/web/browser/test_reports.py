"""The reports page in Arabic: right to left, every chart drawn (mirrored, Arabic-Indic
digits), a chart's mark opens its conversations, axe clean; screenshots in test-artifacts/."""

from __future__ import annotations

from pathlib import Path

from frontdesk.analytics import service
from tests.analytics.test_views import history
from tests.web.browser.conftest import agent_page, axe_violations

CHARTS = ("fd-report-volume", "fd-report-channels", "fd-report-inboxes", "fd-report-frt",
          "fd-report-heatmap", "fd-report-backlog")  # fmt: skip


async def test_reports_in_arabic(browser, live_server, client, cast, runtime, artifacts: Path):
    await history(client, cast)
    await service.catch_up_all(runtime.db)
    await client.patch(
        f"/api/v1/agents/{cast.ada.id}", json={"language": "ar"}, headers=cast.ada.headers
    )
    base = f"http://{live_server}"
    page = await agent_page(browser, base, cast.ada)
    await page.get_by_test_id("fd-nav-reports").click()
    await page.wait_for_url(f"{base}/reports")
    assert await page.locator("html").get_attribute("dir") == "rtl"
    for testid in CHARTS:
        chart = page.get_by_test_id(testid)
        await chart.wait_for()
        box = await chart.bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] > 80, testid
    heat = page.get_by_test_id("fd-report-heatmap")
    assert await heat.locator("rect.cell").count() == 168
    # Hour 0 is drawn on the right, hour 23 on the left.
    first = await heat.locator("rect.cell").nth(0).bounding_box()
    last = await heat.locator("rect.cell").nth(23).bounding_box()
    assert first is not None and last is not None and first["x"] > last["x"]
    volume = page.get_by_test_id("fd-kpi-volume")
    assert "٤" in (await volume.text_content() or "")
    await page.screenshot(path=str(artifacts / "reports-ar.png"), full_page=True)
    assert await axe_violations(page) == []

    # The inbox bar of the website opens its three conversations.
    bars = page.get_by_test_id("fd-report-inboxes").locator("a")
    await bars.first.click()
    await page.wait_for_url("**/?*inbox=*")
    rows = page.get_by_test_id("fd-conversation-row")
    await rows.first.wait_for()
    assert await rows.count() == 3
    await page.screenshot(path=str(artifacts / "reports-ar-drilldown.png"), full_page=True)

"""The staffing page in Arabic: right to left, both charts drawn (mirrored, Arabic-Indic
digits), the form re-plans, axe clean; screenshots kept in test-artifacts/."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from frontdesk.db import utcnow
from tests.analytics.test_staffing_views import history, slot
from tests.web.browser.conftest import agent_page, axe_violations


async def test_staffing_in_arabic(browser, live_server, client, cast, runtime, artifacts: Path):
    at = utcnow().replace(minute=10, second=0, microsecond=0) - timedelta(hours=3)
    await history(runtime, cast, at=at, count=6, handle=180)
    await client.patch(
        f"/api/v1/agents/{cast.sara.id}", json={"language": "ar"}, headers=cast.ada.headers
    )
    base = f"http://{live_server}"
    page = await agent_page(browser, base, cast.sara)
    await page.get_by_test_id("fd-nav-more").locator("summary").click()  # the top bar's menu
    await page.get_by_test_id("fd-nav-staffing").click()
    await page.wait_for_url(f"{base}/staffing")
    assert await page.locator("html").get_attribute("dir") == "rtl"
    heat = page.get_by_test_id("fd-staffing-heatmap")
    await heat.wait_for()
    assert await heat.locator("rect.cell").count() == 168
    box = await heat.bounding_box()
    assert box is not None and box["width"] > 400 and box["height"] > 100
    # Hour 0 is drawn on the right, hour 23 on the left.
    first = await heat.locator("rect.cell").nth(0).bounding_box()
    last = await heat.locator("rect.cell").nth(23).bounding_box()
    assert first is not None and last is not None and first["x"] > last["x"]
    busy = heat.locator("rect.cell").nth(slot(at))
    # Four weeks: 1.5 an hour x 180 s needs 1 agent on the floor; 30 % shrinkage rosters 2.
    assert await busy.get_attribute("data-value") == "2"
    assert "٢" in (await busy.locator("title").text_content() or "")
    daily = page.get_by_test_id("fd-staffing-daily")
    assert await daily.locator("polyline").count() == 7
    peak = page.get_by_test_id("fd-staffing-peak")
    assert "٢" in (await peak.text_content() or "")
    await page.screenshot(path=str(artifacts / "staffing-ar.png"), full_page=True)
    assert await axe_violations(page) == []

    # One week: 6 an hour need 2 on the floor; half of paid time off the floor rosters 4.
    await page.locator("#fd-s-weeks").fill("1")
    await page.locator("#fd-s-shrinkage").fill("0.5")
    await page.get_by_test_id("fd-staffing-submit").click()
    await page.wait_for_url("**/staffing?*shrinkage=0.5*")
    assert "٤" in (await page.get_by_test_id("fd-staffing-peak").text_content() or "")
    await page.screenshot(path=str(artifacts / "staffing-ar-one-week.png"), full_page=True)

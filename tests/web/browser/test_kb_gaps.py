"""Content gaps in a browser: an Arabic visitor's help-centre search finds nothing; the admin
opens Settings → Knowledge base → Content gaps, sees it, and *Write an article* opens the
form with the question as title, in Arabic, right to left; the page is axe-clean."""

from __future__ import annotations

from tests.web.browser.conftest import agent_page, axe_violations

TIMEOUT = 15_000
QUESTION = "هل تصلحون القيثارة القديمة؟"


async def test_a_missed_search_becomes_an_article_form(browser, live_server, cast, artifacts):
    base = f"http://{live_server}"
    context = await browser.new_context(locale="ar", viewport={"width": 1000, "height": 800})
    visitor = await context.new_page()
    await visitor.goto(f"{base}/help/ar/")
    await visitor.get_by_test_id("fd-help-q").fill(QUESTION)
    await visitor.get_by_test_id("fd-help-search").click()
    await visitor.wait_for_url(f"{base}/help/ar/search*", timeout=TIMEOUT)

    page = await agent_page(browser, base, cast.ada)
    await page.get_by_test_id("fd-nav-settings").click()
    await page.get_by_test_id("fd-settings-knowledge").click()
    await page.get_by_test_id("fd-kb-gaps").click()
    row = page.get_by_test_id("fd-gap-row")
    await row.first.wait_for(timeout=TIMEOUT)
    assert await row.count() == 1
    assert QUESTION in await row.first.inner_text()
    assert await axe_violations(page) == []
    await page.screenshot(path=str(artifacts / "settings-kb-gaps.png"), full_page=True)
    await page.get_by_test_id("fd-gap-write").click()
    await page.get_by_test_id("fd-kb-title").wait_for(timeout=TIMEOUT)
    assert await page.get_by_test_id("fd-kb-title").input_value() == QUESTION
    assert await page.get_by_test_id("fd-kb-language").input_value() == "ar"
    assert await page.get_by_test_id("fd-kb-title").get_attribute("dir") == "rtl"

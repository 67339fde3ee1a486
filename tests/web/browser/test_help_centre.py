# ruff: noqa: RUF001  (Persian samples)
"""The help centre in Persian, in a browser: a Persian visitor lands on /help/fa/ (right to
left, Persian digits), types and picks an autocomplete suggestion, searches, and says the
article did not help; every page axe-clean. And the authoring page: an admin previews and
saves an article, the boxes turning right to left for Persian."""

from __future__ import annotations

from sqlalchemy import select

from frontdesk.knowledge.models import Feedback
from tests.knowledge.test_articles import create
from tests.knowledge.test_help_centre import FA, translate
from tests.web.browser.conftest import agent_page, axe_violations

TIMEOUT = 15_000


async def test_persian_help_centre(browser, live_server, client, cast, runtime, artifacts):
    base = f"http://{live_server}"
    article = await create(client, cast)
    await translate(client, cast, article["id"], FA)
    await create(client, cast, status="internal", title="Internal refund notes")

    context = await browser.new_context(locale="fa-IR", viewport={"width": 1000, "height": 800})
    page = await context.new_page()
    await page.goto(f"{base}/help/")
    await page.wait_for_url(f"{base}/help/fa/")
    assert await page.evaluate("document.documentElement.dir") == "rtl"
    assert await page.get_by_test_id("fd-help-article-link").all_inner_texts() == [FA["title"]]
    assert await axe_violations(page) == []

    # Autocomplete: the Persian example question is suggested; picking it opens the article.
    await page.get_by_test_id("fd-help-q").press_sequentially("پولم", delay=30)
    suggestion = page.get_by_test_id("fd-help-suggestion").first
    await suggestion.wait_for(timeout=TIMEOUT)
    assert await suggestion.inner_text() == "پولم کجاست؟"
    assert await page.get_by_test_id("fd-help-q").get_attribute("aria-expanded") == "true"
    assert await axe_violations(page) == []
    await suggestion.click()
    await page.wait_for_url(f"{base}/help/fa/articles/{article['id']}", timeout=TIMEOUT)
    assert await page.get_by_test_id("fd-help-article-title").inner_text() == FA["title"]
    assert await page.get_by_test_id("fd-help-article").get_attribute("dir") == "rtl"
    assert await axe_violations(page) == []

    # Search: results counted in Persian digits; the internal article is not among them.
    await page.get_by_test_id("fd-help-q").fill("بازگشت وجه")
    await page.get_by_test_id("fd-help-search").click()
    await page.get_by_test_id("fd-help-result").first.wait_for(timeout=TIMEOUT)
    assert "۱" in await page.get_by_test_id("fd-help-result-count").inner_text()
    assert "Internal" not in await page.content()
    assert await axe_violations(page) == []
    await page.get_by_test_id("fd-help-result").first.get_by_role("link").click()

    # Feedback.
    await page.get_by_test_id("fd-help-no").check()
    await page.get_by_test_id("fd-help-comment").fill("هنوز پولم نرسیده")
    await page.get_by_test_id("fd-help-send").click()
    await page.get_by_test_id("fd-help-thanks").wait_for(timeout=TIMEOUT)
    assert await axe_violations(page) == []
    await page.screenshot(path=str(artifacts / "help-centre-fa.png"), full_page=True)
    async with runtime.db.session() as session:
        rows = (await session.scalars(select(Feedback))).all()
    assert [(r.language, r.helpful, r.comment) for r in rows] == [("fa", False, "هنوز پولم نرسیده")]

    await page.goto(f"{base}/help/fa/articles/999999")
    assert await page.get_by_test_id("fd-help-not-found").is_visible()
    assert await axe_violations(page) == []


async def test_admin_authors_with_a_preview(browser, live_server, client, cast, artifacts):
    base = f"http://{live_server}"
    page = await agent_page(browser, base, cast.ada)
    await page.get_by_test_id("fd-nav-settings").click()
    await page.get_by_test_id("fd-settings-knowledge").click()
    await page.get_by_test_id("fd-kb-new").click()
    assert await axe_violations(page) == []
    await page.get_by_test_id("fd-kb-language").fill("fa")
    assert await page.get_by_test_id("fd-kb-body").get_attribute("dir") == "rtl"
    await page.get_by_test_id("fd-kb-title").fill("ساعت کاری")
    await page.get_by_test_id("fd-kb-body").fill("ساعت **۹** باز می‌کنیم.")
    await page.get_by_test_id("fd-kb-preview-button").click()
    preview = page.get_by_test_id("fd-kb-preview-body")
    await preview.wait_for(timeout=TIMEOUT)
    assert await preview.inner_html() == "<p>ساعت <strong>۹</strong> باز می‌کنیم.</p>\n"
    assert await preview.get_attribute("dir") == "rtl"
    await page.get_by_test_id("fd-kb-status").select_option("published")
    await page.get_by_test_id("fd-kb-save").click()
    await page.get_by_test_id("fd-kb-saved").wait_for(timeout=TIMEOUT)
    assert await axe_violations(page) == []
    await page.screenshot(path=str(artifacts / "settings-kb-edit.png"), full_page=True)
    await page.goto(f"{base}/settings/knowledge")
    assert await page.get_by_test_id("fd-kb-row").count() == 1
    assert await axe_violations(page) == []

"""An e-mailed survey link opened in a real browser: its page posts the score by itself (the
link alone records nothing, for mail scanners), and the customer lands on the comment page."""

from __future__ import annotations

from pathlib import Path

from tests.surveys.helpers import surveys
from tests.surveys.test_answers import asked
from tests.web.browser.conftest import axe_violations


async def test_one_click_link_answers_in_the_browser(
    browser, live_server, runtime, cast, client, artifacts: Path
):
    _, token = await asked(client, runtime, cast, language="fa")
    page = await browser.new_page()
    await page.goto(f"http://{live_server}/surveys/r/{token}?score=4")
    form = page.get_by_test_id("fd-survey-comment-form")
    await form.wait_for(timeout=15_000)  # the script posted the score; the comment page is open
    assert await page.get_attribute("html", "dir") == "rtl"
    assert await axe_violations(page) == []
    await page.get_by_test_id("fd-survey-comment").fill("خیلی خوب بود")
    await page.get_by_test_id("fd-survey-comment-send").click()
    await page.get_by_test_id("fd-survey-comment-saved").wait_for()
    await page.screenshot(path=str(artifacts / "survey-link-fa.png"))
    # The token never leaves for another site in a Referer; our own forms still post.
    policy = await page.evaluate("document.querySelector('meta[name=referrer]').content")
    assert policy == "same-origin"
    [survey] = await surveys(client, cast)
    assert (survey["score"], survey["answered_via"]) == (4, "link")
    assert survey["comment"] == "خیلی خوب بود"
    await page.close()

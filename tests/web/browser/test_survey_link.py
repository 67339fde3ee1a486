"""An e-mailed survey link opened in a real browser: its page posts the score by itself (the
link alone records nothing, for mail scanners), and the customer lands on the comment page."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.surveys.helpers import LINK, configure, messages, resolve, surveys, wrote
from tests.web.browser.conftest import axe_violations


async def test_one_click_link_answers_in_the_browser(
    browser, live_server, runtime, cast, client, artifacts: Path
):
    await configure(client, cast, cast.website.id)
    conversation = await wrote(client, cast.website, "kim@example.com", "m1")
    await resolve(client, runtime, cast, conversation, language="fa")
    # The live server's own job runner may be the one that sends the survey: wait for it.
    token = None
    for _ in range(150):
        texts = [m["text"] for m in await messages(client, cast, conversation)
                 if m["direction"] == "outbound"]  # fmt: skip
        found = [LINK.search(t) for t in texts]
        token = next((f.group(1) for f in found if f), None)
        if token:
            break
        await asyncio.sleep(0.1)
    assert token, "the survey was never sent"
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

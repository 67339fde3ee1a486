"""The top bar stays one line on a desktop-size screen in English, Arabic and Persian (an
admin in demo mode: the most links there are), its menus hold the rest, and on a phone it
still fits the screen with every link reachable. Screenshots in test-artifacts/."""

from __future__ import annotations

from typing import Any

from playwright.async_api import Page

from tests.web.browser.conftest import agent_page, live
from tests.web.browser.test_pages import set_language

# Each visible control of the bar: its box, and the bar's own box.
MEASURE = """() => {
  const bar = document.querySelector('header.top');
  const box = (el) => { const r = el.getBoundingClientRect();
    return {top: r.top, bottom: r.bottom, left: r.left, right: r.right, height: r.height}; };
  const items = [...bar.querySelectorAll(
      ':scope > a, :scope > span, :scope > form, :scope > button, :scope > details > summary,'
      + ' nav > a, nav > span, nav > details > summary')]
    .filter((el) => el.getClientRects().length && !el.closest('.menu-list'))
    .map((el) => ({text: el.textContent.trim().slice(0, 30), ...box(el)}));
  return {bar: box(bar), items, width: document.documentElement.scrollWidth};
}"""


async def measure(page: Page) -> dict[str, Any]:
    return await page.evaluate(MEASURE)


def lines(items: list[dict[str, Any]]) -> int:
    """How many rows the controls sit on (a control's centre more than half a control's
    height below the previous row's starts a new one)."""
    rows: list[float] = []
    for item in sorted(items, key=lambda i: i["top"]):
        centre = (item["top"] + item["bottom"]) / 2
        if not rows or centre - rows[-1] > item["height"] / 2:
            rows.append(centre)
    return len(rows)


class TestDesktop:
    async def test_one_line_in_every_language(self, browser, live_server, cast, client, artifacts):
        base = f"http://{live_server}"
        page = await agent_page(browser, base, cast.ada)
        for language in ("en", "ar", "fa"):
            await set_language(client, cast, cast.ada, language)
            for width, height in ((1280, 800), (1440, 900)):
                await page.set_viewport_size({"width": width, "height": height})
                await page.reload()
                await live(page)
                found = await measure(page)
                names = [item["text"] for item in found["items"]]
                assert len(found["items"]) >= 10, names  # the bar's links are all measured
                assert lines(found["items"]) == 1, (language, width, found["items"])
                # No control breaks its own text over two lines, and the bar is one row high.
                assert max(item["height"] for item in found["items"]) < 40, found["items"]
                assert found["bar"]["height"] < 60, (language, width, found["bar"])
                assert found["width"] <= width, (language, width)  # no sideways scrolling
                await page.screenshot(
                    path=str(artifacts / f"top-bar-{language}-{width}.png"),
                    clip={"x": 0, "y": 0, "width": width, "height": 120},
                )

    async def test_menus_open_and_close(self, browser, live_server, cast, client, artifacts):
        await set_language(client, cast, cast.ada, "fa")
        base = f"http://{live_server}"
        page = await agent_page(browser, base, cast.ada)
        more = page.get_by_test_id("fd-nav-more")
        account = page.get_by_test_id("fd-account-menu")
        assert not await page.get_by_test_id("fd-nav-macros").is_visible()
        await more.locator("summary").click()
        assert await page.get_by_test_id("fd-nav-macros").is_visible()
        await page.screenshot(path=str(artifacts / "top-bar-fa-more-open.png"))
        await account.locator("summary").click()  # one menu open at a time
        assert await page.get_by_test_id("fd-logout").is_visible()
        assert await more.get_attribute("open") is None
        await page.keyboard.press("Escape")
        assert await account.get_attribute("open") is None
        await page.locator("main h1").first.click()  # a click elsewhere closes the menu
        await more.locator("summary").click()
        await page.locator("main h1").first.click()
        assert await more.get_attribute("open") is None
        # The menu's links lie inside the window (right to left: it opens leftwards).
        await account.locator("summary").click()
        box = await page.get_by_test_id("fd-logout").bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 1280


class TestPhone:
    async def test_fits_the_screen_and_every_link_is_reachable(
        self, browser, live_server, cast, client, artifacts
    ):
        base = f"http://{live_server}"
        page = await agent_page(browser, base, cast.ada)
        for language in ("en", "ar", "fa"):
            await set_language(client, cast, cast.ada, language)
            await page.set_viewport_size({"width": 390, "height": 844})
            await page.reload()
            await live(page)
            found = await measure(page)
            assert found["width"] <= 390, (language, found["width"])
            for item in found["items"]:
                assert item["left"] >= 0 and item["right"] <= 390, (language, item)
            assert await page.get_by_test_id("fd-inbox-list").is_visible()  # the list first
            await page.get_by_test_id("fd-nav-more").locator("summary").click()
            macros = page.get_by_test_id("fd-nav-macros")
            box = await macros.bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, box
            await page.screenshot(path=str(artifacts / f"top-bar-{language}-phone.png"))
            await macros.click()
            await page.wait_for_url(f"{base}/settings/macros")
            await page.goto(f"{base}/")

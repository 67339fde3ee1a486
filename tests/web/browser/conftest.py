"""Browser tests: Playwright driving Debian's /usr/bin/chromium (no browser downloads).
They test the UI, so they run on SQLite only; the same flows run on both databases in the
API tests."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright

from frontdesk.config import Settings
from frontdesk.runtime import Runtime
from tests.conftest import Person
from tests.helpers import Chat, make_chat

CHROMIUM = os.environ.get("FRONTDESK_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
ROOT = Path(__file__).resolve().parents[3]
AXE = Path(os.environ.get("FRONTDESK_AXE_JS", ROOT / ".cache/node_modules/axe-core/axe.min.js"))


@pytest.fixture
def db_url(sqlite_template: Path, tmp_path: Path) -> str:
    target = tmp_path / "frontdesk.db"
    shutil.copy(sqlite_template, target)
    return f"sqlite+aiosqlite:///{target}"


@pytest.fixture
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    # With the job runner: replies are delivered (queued → sent) as in production.
    rt = Runtime.build(settings, with_runner=True)
    await rt.start()
    yield rt
    await rt.stop()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        await launched.close()


@pytest.fixture
async def chat(runtime: Runtime, cast) -> Chat:  # type: ignore[no-untyped-def]
    return await make_chat(runtime, cast)


async def agent_page(browser: Browser, base: str, person: Person) -> Page:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    await page.goto(f"{base}/login")
    await page.get_by_test_id("fd-login-email").fill(person.email)
    await page.get_by_test_id("fd-login-password").fill(person.password)
    await page.get_by_test_id("fd-login-submit").click()
    await page.wait_for_url(f"{base}/")
    await live(page)
    return page


async def choose_language(page: Page, lang: str) -> None:
    """Pick the desktop's language where an agent does: in the account menu of the top bar."""
    menu = page.get_by_test_id("fd-account-menu")
    if await menu.get_attribute("open") is None:
        await menu.locator("summary").click()
    await page.select_option("#fd-language", lang)


async def live(page: Page) -> None:
    """Wait until the page's event socket is connected."""
    await page.wait_for_function(
        "() => { const badge = document.getElementById('fd-live');"
        " return badge && !badge.classList.contains('down') && window.htmx; }"
    )


async def customer_page(browser: Browser, base: str) -> Page:
    context = await browser.new_context(viewport={"width": 1000, "height": 800})
    page = await context.new_page()
    await page.goto(f"{base}/demo/site")
    await page.get_by_test_id("fd-widget-launcher").click()
    await page.wait_for_function(
        "() => window.FrontdeskWidget && FrontdeskWidget.state().connected"
    )
    return page


async def widget_say(page: Page, text: str) -> None:
    await page.get_by_test_id("fd-widget-input").fill(text)
    await page.get_by_test_id("fd-widget-send").click()


async def widget_texts(page: Page) -> list[str]:
    """The texts of the messages the widget shows, in order."""
    texts: list[str] = await page.eval_on_selector_all(
        "[data-testid=fd-widget-message] .fdw-text", "nodes => nodes.map(n => n.textContent)"
    )
    return texts


async def axe_violations(page: Page) -> list[dict]:  # type: ignore[type-arg]
    """Serious or critical axe-core violations on the page (axe from npm, see scripts)."""
    if not AXE.exists():
        raise AssertionError(f"axe-core is missing at {AXE}: run scripts/services.sh")
    await page.evaluate(AXE.read_text())
    result = await page.evaluate(
        "axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', "
        "'wcag21aa', 'best-practice']}})"
    )
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]

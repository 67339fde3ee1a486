"""With no internet at all, /docs still shows the API reference, and an agent who follows a
dead link sees an error page in their language, not raw JSON."""

from __future__ import annotations

from urllib.parse import urlsplit

from playwright.async_api import Page, Route

from tests.web.browser.conftest import agent_page, axe_violations


async def offline(page: Page, base: str) -> list[str]:
    """Refuse every request that leaves the test server; returns the refused URLs."""
    refused: list[str] = []
    own = urlsplit(base).netloc

    async def guard(route: Route) -> None:
        url = route.request.url
        if url.startswith("data:") or urlsplit(url).netloc == own:
            await route.continue_()
        else:
            refused.append(url)
            await route.abort()

    await page.context.route("**/*", guard)
    return refused


class TestOffline:
    async def test_docs_render_the_operations_without_the_internet(
        self, browser, live_server, client
    ):
        base = f"http://{live_server}"
        page = await (await browser.new_context()).new_page()
        refused = await offline(page, base)
        await page.goto(f"{base}/docs")
        operations = page.locator(".swagger-ui .opblock")
        await operations.first.wait_for(timeout=20_000)
        assert await page.get_by_text("/api/v1/inboxes", exact=True).count() >= 1
        # Every part of the reference draws every one of its operations (Swagger UI 5.35
        # stopped after the first tag section of a document with ~130 operations or more),
        # and together the parts hold every operation of /openapi.json.
        whole = (await client.get("/openapi.json")).json()["paths"]
        total = sum(len(ops) for ops in whole.values())
        links = page.get_by_test_id("fd-docs-part")
        parts = [str(await links.nth(i).get_attribute("href")) for i in range(await links.count())]
        drawn = 0
        for href in parts:
            name = href.split("part=")[1]
            spec = (await client.get(f"/openapi/{name}.json")).json()["paths"]
            expected = sum(len(ops) for ops in spec.values())
            await page.goto(f"{base}{href}")
            await page.wait_for_function(
                f"document.querySelectorAll('.swagger-ui .opblock').length === {expected}",
                timeout=20_000,
            )
            drawn += expected
        assert len(parts) >= 5 and drawn == total
        assert refused == []

    async def test_a_dead_link_is_an_error_page_in_arabic(self, browser, live_server, cast, client):
        await client.patch(
            f"/api/v1/agents/{cast.alice.id}", json={"language": "ar"}, headers=cast.ada.headers
        )
        base = f"http://{live_server}"
        alice = await agent_page(browser, base, cast.alice)
        response = await alice.goto(f"{base}/conversations/2000000")
        assert response is not None and response.status == 404
        error = alice.get_by_test_id("fd-error-page")
        await error.wait_for()
        assert await alice.locator("html").get_attribute("dir") == "rtl"
        assert "الصفحة غير موجودة" in (await error.text_content() or "")
        await alice.get_by_test_id("fd-error-home").click()
        await alice.wait_for_url(f"{base}/")
        await alice.goto(f"{base}/conversations/2000000")
        assert await axe_violations(alice) == []

"""Settings in the browser: an admin creates a WhatsApp inbox through the UI, pointed at a
fake Graph API, tests the connection and sees it work, finds the webhook URL and verify
token to paste into Meta's console; the settings pages are axe-clean in English and Arabic."""

from __future__ import annotations

from tests.channels.whatsapp.conftest import APP_SECRET, PHONE_NUMBER_ID, TOKEN, FakeGraphApi
from tests.conftest import serve_app
from tests.web.browser.conftest import agent_page, axe_violations, choose_language


async def test_admin_creates_a_whatsapp_inbox_and_tests_it(
    browser, live_server, runtime, cast, client, artifacts
):
    base = f"http://{live_server}"
    graph = FakeGraphApi()
    async with serve_app(graph.app) as address:
        graph.address = address
        page = await agent_page(browser, base, cast.ada)
        await page.get_by_test_id("fd-nav-settings").click()
        await page.get_by_test_id("fd-settings-inboxes").click()
        assert await axe_violations(page) == []
        await page.get_by_test_id("fd-inbox-new").click()
        await page.get_by_test_id("fd-channel-whatsapp").click()
        assert await axe_violations(page) == []

        await page.get_by_test_id("fd-inbox-name").fill("WhatsApp Sales")
        await page.get_by_test_id("fd-field-s.phone_number_id").fill(PHONE_NUMBER_ID)
        await page.get_by_test_id("fd-field-s.access_token").fill(TOKEN)
        await page.get_by_test_id("fd-field-s.app_secret").fill(APP_SECRET)
        await page.get_by_test_id("fd-field-s.api_base_url").fill(graph.base_url)
        await page.get_by_test_id("fd-inbox-save").click()
        await page.get_by_test_id("fd-settings-notice").wait_for(timeout=15_000)

        inbox_id = page.url.split("/settings/inboxes/")[1].split("?")[0]
        webhook = await page.get_by_test_id("fd-webhook-url").input_value()
        assert webhook == runtime.settings.base_url.rstrip("/") + f"/webhooks/whatsapp/{inbox_id}"
        assert len(await page.get_by_test_id("fd-verify-token").input_value()) >= 8
        assert TOKEN not in await page.content() and APP_SECRET not in await page.content()

        await page.get_by_test_id("fd-check-connection").click()
        ok = page.get_by_test_id("fd-check-ok")
        await ok.wait_for(timeout=15_000)
        assert "Acme Outfitters" in await ok.inner_text()
        assert graph.bad_tokens == 0
        assert await axe_violations(page) == []
        await page.screenshot(path=str(artifacts / "settings-inbox-en.png"), full_page=True)

        # The same pages in Arabic: right to left, still axe-clean.
        await choose_language(page, "ar")
        await page.wait_for_function("() => document.documentElement.dir === 'rtl'")
        assert await page.get_by_test_id("fd-webhook-url").get_attribute("dir") == "ltr"
        assert await axe_violations(page) == []
        await page.get_by_test_id("fd-check-connection").click()
        await page.get_by_test_id("fd-check-ok").wait_for(timeout=15_000)
        assert "الاتصال يعمل" in await page.get_by_test_id("fd-check-ok").inner_text()
        await page.screenshot(path=str(artifacts / "settings-inbox-ar.png"), full_page=True)
        for path in ("/settings", "/settings/inboxes", "/settings/inboxes/new?channel=email"):
            await page.goto(base + path)
            assert await axe_violations(page) == [], path

"""People and customers in the browser: an admin invites an agent, the agent opens the link,
chooses a password and is logged in; the new pages (agents, teams, profile, customer
attributes, the customer directory and page) are axe-clean in English, Arabic and Persian."""

from __future__ import annotations

from tests.conftest import inbound_payload, post_inbound
from tests.web.browser.conftest import agent_page, axe_violations, choose_language

PASSWORD = "river-lantern-42"
PAGES = (
    "/settings/agents", "/settings/teams", "/settings/customer-attributes", "/profile",
    "/customers",
)  # fmt: skip


async def test_an_invited_agent_sets_a_password_and_logs_in(
    browser, live_server, runtime, cast, client, artifacts
):
    base = f"http://{live_server}"
    page = await agent_page(browser, base, cast.ada)
    await page.get_by_test_id("fd-nav-settings").click()
    await page.get_by_test_id("fd-settings-agents").click()
    assert await axe_violations(page) == []
    await page.get_by_test_id("fd-invite-name").fill("Nadia Karimi")
    await page.get_by_test_id("fd-invite-email").fill("nadia@frontdesk.test")
    await page.get_by_test_id("fd-invite-role").select_option("supervisor")
    await page.get_by_test_id("fd-invite-submit").click()
    link = await page.get_by_test_id("fd-invitation-link").input_value()
    assert link.startswith(runtime.settings.base_url.rstrip("/") + "/invite/fdi_")
    # The link names BASE_URL; this test's server listens elsewhere.
    link = base + "/invite/" + link.split("/invite/")[1]
    assert await axe_violations(page) == []
    await page.screenshot(path=str(artifacts / "settings-agents-en.png"), full_page=True)

    newcomer = await (await browser.new_context()).new_page()
    await newcomer.goto(link)
    assert await axe_violations(newcomer) == []
    await newcomer.get_by_test_id("fd-accept-password").fill(PASSWORD)
    await newcomer.get_by_test_id("fd-accept-password-again").fill(PASSWORD)
    await newcomer.get_by_test_id("fd-accept-submit").click()
    await newcomer.wait_for_url(f"{base}/")
    assert "Nadia Karimi" in (
        await newcomer.get_by_test_id("fd-account-menu").locator("summary").inner_text()
    )

    # And with the password, from the login page.
    again = await (await browser.new_context()).new_page()
    await again.goto(f"{base}/login")
    await again.get_by_test_id("fd-login-email").fill("nadia@frontdesk.test")
    await again.get_by_test_id("fd-login-password").fill(PASSWORD)
    await again.get_by_test_id("fd-login-submit").click()
    await again.wait_for_url(f"{base}/")

    await page.goto(f"{base}/settings/agents")
    row = page.get_by_test_id("fd-agent-row").filter(has_text="Nadia Karimi")
    assert "Active" in await row.inner_text()


async def test_new_pages_are_axe_clean_in_three_languages(
    browser, live_server, runtime, cast, client, artifacts
):
    base = f"http://{live_server}"
    made = await post_inbound(
        client, cast.website, inbound_payload("w1", "layla@example.com", "مرحبا")
    )
    customer = made.json()["customer_id"]
    await client.post(
        "/api/v1/customer-attributes",
        json={"key": "plan", "label": "Plan", "kind": "list", "options": ["Free", "Pro"]},
        headers=cast.ada.headers,
    )
    page = await agent_page(browser, base, cast.ada)
    for lang in ("en", "ar", "fa"):
        await page.goto(f"{base}/profile")
        await choose_language(page, lang)
        await page.wait_for_function(f"() => document.documentElement.lang === '{lang}'")
        for path in (*PAGES, f"/customers/{customer}"):
            await page.goto(base + path)
            assert await axe_violations(page) == [], (lang, path)
        await page.screenshot(path=str(artifacts / f"customer-{lang}.png"), full_page=True)

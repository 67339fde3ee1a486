"""Right-to-left layouts with screenshots, sanitising in the agent's browser, axe-core
accessibility, and keyboard-only use — in headless Chromium."""

from __future__ import annotations

import asyncio

from frontdesk.channels.email import service as email_service
from frontdesk.kit import uow
from tests.channels.email.conftest import create_email_inbox
from tests.channels.email.mails import mail
from tests.web.browser.conftest import agent_page, axe_violations, customer_page, live, widget_say


async def set_language(client, cast, person, language: str) -> None:  # type: ignore[no-untyped-def]
    response = await client.patch(
        f"/api/v1/agents/{person.id}", json={"language": language}, headers=cast.ada.headers
    )
    assert response.status_code == 200


class TestLanguages:
    async def test_inbox_in_english_arabic_and_persian(
        self, browser, live_server, cast, chat, client, artifacts
    ):
        base = f"http://{live_server}"
        customer = await customer_page(browser, base)
        await widget_say(customer, "سلام، سفارشم کجاست؟")
        page = await agent_page(browser, base, cast.alice)
        await page.get_by_test_id("fd-conversation-row").first.wait_for()
        for language, direction, heading in (
            ("en", "ltr", "Conversations"),
            ("ar", "rtl", "المحادثات"),
            ("fa", "rtl", "گفتگوها"),
        ):
            await set_language(client, cast, cast.alice, language)
            await page.reload()
            await live(page)
            assert await page.get_attribute("html", "dir") == direction
            assert await page.get_attribute("html", "lang") == language
            assert await page.locator("h1").first.inner_text() == heading
            await page.screenshot(path=str(artifacts / f"inbox-{language}.png"), full_page=True)
        # Persian digits in the counts.
        assert await page.get_by_test_id("fd-count-all").inner_text() == "\u06f1"  # Persian one

    async def test_persian_widget_is_right_to_left(self, browser, live_server, cast, client):
        response = await client.post(
            "/api/v1/inboxes",
            json={"channel": "webchat", "name": "فارسی", "settings": {"language": "fa"}},
            headers=cast.ada.headers,
        )
        base = f"http://{live_server}"
        context = await browser.new_context()
        page = await context.new_page()
        await page.goto(f"{base}/demo/site?inbox={response.json()['id']}")
        await page.get_by_test_id("fd-widget-launcher").click()
        assert await page.get_attribute(".fdw-root", "dir") == "rtl"
        assert await page.get_by_test_id("fd-widget-send").inner_text() == "ارسال"


class TestSanitising:
    async def test_script_sent_through_the_widget_never_runs_for_the_agent(
        self, browser, live_server, cast, chat
    ):
        base = f"http://{live_server}"
        attack = (
            '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'
            '<svg onload="window.__pwned = 3"></svg>'
        )
        customer = await customer_page(browser, base)
        await widget_say(customer, attack)
        await customer.wait_for_selector("[data-testid=fd-widget-message][data-id]")
        agent = await agent_page(browser, base, cast.alice)
        dialogs: list[str] = []
        agent.on("dialog", lambda dialog: dialogs.append(dialog.message))
        violations: list[str] = []
        agent.on(
            "console", lambda m: violations.append(m.text) if "Content Security" in m.text else None
        )
        await agent.get_by_test_id("fd-inbox-list").get_by_text("window.__pwned").first.wait_for()
        await agent.get_by_test_id("fd-conversation-row").first.locator("a").click()
        await agent.wait_for_url("**/conversations/*")
        message = agent.get_by_test_id("fd-message").first
        assert await message.locator(".body").inner_text() == attack  # shown as text
        await asyncio.sleep(0.5)
        assert await agent.evaluate("() => window.__pwned") is None
        assert await customer.evaluate("() => window.__pwned") is None
        assert await agent.locator(".body img, .body script, .body svg").count() == 0
        assert dialogs == []


class TestAccessibility:
    async def test_no_serious_axe_violations(self, browser, live_server, cast, chat):
        base = f"http://{live_server}"
        customer = await customer_page(browser, base)
        await widget_say(customer, "Accessibility check")
        await customer.wait_for_selector("[data-testid=fd-widget-message][data-id]")
        assert await axe_violations(customer) == []  # the widget, open, on the demo site
        agent = await agent_page(browser, base, cast.alice)
        await agent.get_by_test_id("fd-conversation-row").first.wait_for()
        assert await axe_violations(agent) == []  # the inbox
        await agent.get_by_test_id("fd-conversation-row").first.locator("a").click()
        await agent.wait_for_url("**/conversations/*")
        assert await axe_violations(agent) == []  # the conversation

    async def test_inbox_and_reply_by_keyboard_only(self, browser, live_server, cast, chat):
        base = f"http://{live_server}"
        customer = await customer_page(browser, base)
        await widget_say(customer, "keyboard please")
        agent = await agent_page(browser, base, cast.alice)
        await agent.get_by_test_id("fd-conversation-row").first.wait_for()
        await agent.keyboard.press("j")
        assert await agent.evaluate("() => document.activeElement.classList.contains('row-link')")
        await agent.keyboard.press("Enter")
        await agent.wait_for_url("**/conversations/*")
        await live(agent)
        await agent.keyboard.press("r")
        await agent.keyboard.type("answered without a mouse")
        for _ in range(6):
            await agent.keyboard.press("Tab")
            if (
                await agent.evaluate("() => document.activeElement.dataset.testid")
                == "fd-reply-send"
            ):
                break
        await agent.keyboard.press("Enter")
        await customer.get_by_text("answered without a mouse").wait_for(timeout=10_000)

    async def test_widget_by_keyboard_only(self, browser, live_server, cast, chat):
        base = f"http://{live_server}"
        page = await (await browser.new_context()).new_page()
        await page.goto(f"{base}/demo/site")
        await page.wait_for_selector("[data-testid=fd-widget-launcher]")
        for _ in range(10):
            await page.keyboard.press("Tab")
            if (
                await page.evaluate("() => document.activeElement.dataset.testid")
                == "fd-widget-launcher"
            ):
                break
        await page.keyboard.press("Enter")
        await page.wait_for_function(
            "() => document.activeElement.dataset.testid === 'fd-widget-input'"
        )
        await page.wait_for_function("() => FrontdeskWidget.state().connected")
        await page.keyboard.type("typed with the keyboard")
        await page.keyboard.press("Enter")
        await page.wait_for_selector("[data-testid=fd-widget-message][data-id]")
        await page.keyboard.press("Escape")
        assert (
            await page.evaluate("() => document.activeElement.dataset.testid")
            == "fd-widget-launcher"
        )
        assert (
            await page.get_attribute("[data-testid=fd-widget-launcher]", "aria-expanded") == "false"
        )


class TestMailChecks:
    async def test_verdicts_are_shown_and_accessible_in_english_and_persian(
        self, browser, live_server, cast, client, runtime, artifacts
    ):
        inbox_id = await create_email_inbox(runtime)
        forged = mail(message_id="<shot@x>", text="Please pay the new IBAN.", headers={
            "Authentication-Results": "mx.frontdesk.test; spf=fail; dkim=pass; dmarc=fail"
        })  # fmt: skip
        async with runtime.db.session() as session:
            taken = await email_service.take_in(
                session, inbox_id, forged, blobs=runtime.blobs, settings=runtime.settings,
                source="smtp",
            )  # fmt: skip
            await uow.commit(session)
        base = f"http://{live_server}"
        page = await agent_page(browser, base, cast.ada)
        for language, fail_word in (("en", "fail"), ("fa", "ناموفق")):
            await set_language(client, cast, cast.ada, language)
            await page.goto(f"{base}/conversations/{taken.conversation_id}")
            checks = page.get_by_test_id("fd-mail-checks")
            await checks.wait_for()
            dmarc = checks.locator("[data-mechanism=dmarc]")
            assert await dmarc.inner_text() == f"DMARC: {fail_word}"
            assert await page.get_by_test_id("fd-mail-spoof").is_visible()
            assert await axe_violations(page) == []
            shot = artifacts / f"mail-checks-{language}.png"
            await page.screenshot(path=str(shot), full_page=True)

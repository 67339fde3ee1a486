"""The widget's pre-chat form and file uploads in a real browser (until now covered by API
tests only): the agent sees who wrote and what they sent; refused files get a clear error."""

from __future__ import annotations

from playwright.async_api import Page

from tests.helpers import make_chat
from tests.web.browser.conftest import agent_page, axe_violations
from tests.web.browser.test_attachments import tiny_png

PRECHAT = {"enabled": True, "fields": ["name", "email"], "required": ["email"]}


async def open_widget(browser, base: str, inbox: int) -> Page:  # type: ignore[no-untyped-def]
    context = await browser.new_context(viewport={"width": 1000, "height": 800})
    page = await context.new_page()
    await page.goto(f"{base}/demo/site?inbox={inbox}")
    await page.get_by_test_id("fd-widget-launcher").click()
    return page


async def open_conversation(agent: Page, text: str) -> None:
    row = agent.get_by_test_id("fd-inbox-list").get_by_text(text)
    await row.wait_for(timeout=10_000)
    await row.click()
    await agent.wait_for_url("**/conversations/*")


class TestPrechatForm:
    async def test_form_comes_first_and_the_agent_sees_name_and_email(
        self, browser, live_server, cast, runtime
    ):
        base = f"http://{live_server}"
        chat = await make_chat(runtime, cast, prechat=PRECHAT)
        customer = await open_widget(browser, base, chat.id)
        name = customer.get_by_label("Your name")
        email = customer.locator(".fdw-prechat").get_by_label("Your e-mail")
        await name.wait_for()
        assert not await customer.get_by_test_id("fd-widget-input").is_visible()
        assert await axe_violations(customer) == []
        # The e-mail is required: the form does not start a chat without it.
        await name.fill("Layla Haddad")
        await customer.get_by_role("button", name="Start chat").click()
        assert await customer.evaluate("!FrontdeskWidget.state().connected")
        assert await email.evaluate("e => e.validity.valueMissing")
        await email.fill("layla@example.com")
        await customer.get_by_role("button", name="Start chat").click()
        await customer.wait_for_function("() => FrontdeskWidget.state().connected")
        assert not await customer.locator(".fdw-prechat").is_visible()
        await customer.get_by_test_id("fd-widget-input").fill("Is the blue jacket in stock?")
        await customer.get_by_test_id("fd-widget-send").click()
        agent = await agent_page(browser, base, cast.alice)
        await open_conversation(agent, "Is the blue jacket in stock?")
        panel = agent.get_by_test_id("fd-customer-panel")
        await panel.get_by_role("heading", name="Layla Haddad").wait_for(timeout=10_000)
        await panel.get_by_text("layla@example.com").first.wait_for()
        # A reload keeps the chat: the form is not asked again.
        await customer.reload()
        await customer.wait_for_function(
            "() => window.FrontdeskWidget && FrontdeskWidget.state().connected"
        )
        assert not await customer.locator(".fdw-prechat").is_visible()


class TestWidgetUploads:
    async def test_accepted_file_reaches_the_agent(self, browser, live_server, cast, runtime):
        base = f"http://{live_server}"
        chat = await make_chat(runtime, cast)
        customer = await open_widget(browser, base, chat.id)
        await customer.wait_for_function("() => FrontdeskWidget.state().connected")
        await customer.get_by_test_id("fd-widget-input").fill("Photo of the torn zip")
        await customer.get_by_test_id("fd-widget-send").click()
        await customer.locator("#fdw-file-" + str(chat.id)).set_input_files(
            {"name": "zip\u202egnp.png", "mimeType": "image/png", "buffer": tiny_png()}
        )
        # The visitor sees their own file as a preview.
        await customer.locator("[data-testid=fd-widget-file] img").wait_for(timeout=10_000)
        agent = await agent_page(browser, base, cast.alice)
        row = agent.get_by_test_id("fd-conversation-row").first
        await row.wait_for(timeout=10_000)
        await row.locator("a").click()
        await agent.wait_for_url("**/conversations/*")
        await agent.get_by_test_id("fd-timeline").get_by_text("Photo of the torn zip").wait_for()
        preview = agent.locator("[data-testid=fd-attachment] img")
        await preview.wait_for(timeout=10_000)
        assert await preview.get_attribute("alt") == "zipgnp.png"

    async def test_refused_type_and_size_get_a_clear_error(
        self, browser, live_server, cast, runtime
    ):
        base = f"http://{live_server}"
        chat = await make_chat(runtime, cast, max_upload_bytes=1024)
        customer = await open_widget(browser, base, chat.id)
        await customer.wait_for_function("() => FrontdeskWidget.state().connected")
        picker = customer.locator("#fdw-file-" + str(chat.id))
        status = customer.locator(".fdw-status")
        await picker.set_input_files(
            {"name": "page.html", "mimeType": "text/html", "buffer": b"<script>alert(1)</script>"}
        )
        await status.get_by_text("page.html: files of this type are not accepted.").wait_for()
        await picker.set_input_files(
            {"name": "big.txt", "mimeType": "text/plain", "buffer": b"x" * 2048}
        )
        await status.get_by_text("big.txt: the file is too large (at most 1 KB).").wait_for()
        assert await customer.locator("[data-testid=fd-widget-message]").count() == 0
        assert await axe_violations(customer) == []

    async def test_server_refusal_is_shown_too(self, browser, live_server, cast, runtime):
        base = f"http://{live_server}"
        chat = await make_chat(runtime, cast)
        customer = await open_widget(browser, base, chat.id)
        await customer.wait_for_function("() => FrontdeskWidget.state().connected")
        # An empty file passes the widget's type and size check; the server refuses it.
        await customer.locator("#fdw-file-" + str(chat.id)).set_input_files(
            {"name": "empty.txt", "mimeType": "text/plain", "buffer": b""}
        )
        await customer.locator(".fdw-status").get_by_text("the file is empty").wait_for()

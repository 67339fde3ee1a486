"""The frustrated-customer badge in a real browser: an Arabic-speaking agent watches the
inbox (right to left); a customer writes an angry message in the widget; the sentiment job
runs after commit and the badge appears on the row live, without a reload; the conversation
shows the badge and the message's label. Screenshots are kept in test-artifacts/."""

from __future__ import annotations

from tests.web.browser.conftest import agent_page, customer_page, live, widget_say
from tests.web.browser.test_pages import set_language

ANGRY = "الخدمة سيئة جدا، لم يصل طلبي وأنا غاضب"


class TestFrustratedBadge:
    async def test_the_badge_appears_live_in_an_arabic_desktop(
        self, browser, live_server, cast, chat, client, artifacts
    ):
        base = f"http://{live_server}"
        await set_language(client, cast, cast.alice, "ar")
        agent = await agent_page(browser, base, cast.alice)
        assert await agent.get_attribute("html", "dir") == "rtl"
        customer = await customer_page(browser, base)
        await widget_say(customer, ANGRY)
        row = agent.get_by_test_id("fd-conversation-row").filter(has_text=ANGRY)
        await row.wait_for(timeout=15_000)
        badge = row.get_by_test_id("fd-frustrated-badge")
        await badge.wait_for(timeout=15_000)  # pushed by conversation.sentiment_changed
        assert await badge.inner_text() == "محبط"
        await agent.screenshot(path=str(artifacts / "sentiment-inbox-ar.png"), full_page=True)
        await row.click()
        await agent.wait_for_url("**/conversations/*")
        await live(agent)
        await agent.locator("#fd-pane").get_by_test_id("fd-frustrated-badge").wait_for()
        label = agent.get_by_test_id("fd-message-sentiment")
        assert await label.get_attribute("data-sentiment") == "negative"
        assert await label.inner_text() == "المشاعر: سلبية"
        await agent.screenshot(path=str(artifacts / "sentiment-conversation-ar.png"))

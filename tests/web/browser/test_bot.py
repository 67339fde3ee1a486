"""The Proof of issue 12's bot in a real browser: in the chat widget the bot answers a
question with the article and yes/no buttons, takes the customer's "No", then hands off
honestly on a question it cannot answer; the agent opens the conversation, sees the hand-off
context at its top, and agent assist flags the article that failed (and inserts it)."""

from __future__ import annotations

from frontdesk.bot import service as bot
from tests.bot.test_service import PASSWORD, UNKNOWN, article, enable_bot
from tests.web.browser.conftest import AXE, agent_page, choose_language, customer_page, widget_say


async def test_the_bot_answers_hands_off_and_the_agent_sees_why(
    browser, live_server, cast, chat, client
):
    password = await article(client, cast, PASSWORD)
    await enable_bot(client, cast, chat.id)
    base = f"http://{live_server}"
    customer = await customer_page(browser, base)
    messages = customer.get_by_test_id("fd-widget-messages")

    await widget_say(customer, "I forgot my password")
    await messages.get_by_text("press Reset password", exact=False).wait_for(timeout=15_000)
    choices = customer.get_by_test_id("fd-widget-choice")
    assert await choices.all_text_contents() == ["Yes", "No"]
    await choices.filter(has_text="No").click()
    await messages.get_by_text(bot.RETRY).wait_for(timeout=15_000)
    assert await choices.count() == 0  # answered: the buttons are gone

    await widget_say(customer, UNKNOWN)
    await messages.get_by_text(bot.HANDOFF_TEXT["low_confidence"]).wait_for(timeout=15_000)

    items = (await client.get("/api/v1/conversations", headers=cast.alice.headers)).json()
    conversation = items["items"][0]
    assert conversation["assignee_id"] is None
    agent = await agent_page(browser, base, cast.alice)
    await agent.goto(f"{base}/conversations/{conversation['id']}")
    handoff = agent.get_by_test_id("fd-handoff")
    await handoff.wait_for(timeout=10_000)
    assert await handoff.get_attribute("data-status") == "handed_off"
    reason = agent.get_by_test_id("fd-handoff-reason")
    assert await reason.get_attribute("data-reason") == "low_confidence"
    failed_shown = agent.locator(f'[data-testid=fd-handoff-article][data-article-id="{password}"]')
    assert await failed_shown.get_attribute("data-verdict") == "not_helpful"
    await agent.get_by_test_id("fd-handoff-words").get_by_text(UNKNOWN).wait_for()
    # The hand-off context sits above the timeline.
    top = await handoff.bounding_box()
    timeline = await agent.get_by_test_id("fd-timeline").bounding_box()
    assert top is not None and timeline is not None and top["y"] < timeline["y"]

    flagged = agent.locator(f'[data-testid=fd-assist-item][data-article-id="{password}"]')
    await flagged.wait_for(timeout=10_000)
    assert await flagged.get_attribute("data-failed") == "true"
    assert await flagged.get_by_test_id("fd-assist-warning").is_visible()
    await flagged.get_by_test_id("fd-assist-insert").click()
    assert (await agent.get_by_test_id("fd-reply-input").input_value()).startswith(
        "Reset your password"
    )

    # In Persian the page turns right to left; the context is translated and the customer's
    # English words keep their own direction. axe finds nothing serious in either panel.
    await choose_language(agent, "fa")
    await agent.wait_for_function("() => document.documentElement.dir === 'rtl'")
    handoff = agent.get_by_test_id("fd-handoff")
    await handoff.get_by_text("ربات این گفتگو را واگذار کرد").wait_for(timeout=10_000)
    word = agent.get_by_test_id("fd-handoff-words").locator("bdi").last
    assert await word.evaluate("n => getComputedStyle(n).direction") == "ltr"
    await flagged.get_by_test_id("fd-assist-warning").wait_for()
    assert AXE.exists(), f"axe-core is missing at {AXE}: run scripts/services.sh"
    await agent.evaluate(AXE.read_text())
    result = await agent.evaluate(
        "axe.run({include: [['[data-testid=fd-handoff]'], ['[data-testid=fd-assist]']]},"
        " {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21aa']}})"
    )
    serious = [v["id"] for v in result["violations"] if v["impact"] in ("serious", "critical")]
    assert serious == []


async def test_the_contact_form_sends_the_articles_read_first(
    browser, live_server, cast, client, runtime
):
    from tests.web.test_help_contact import messages, support_mail

    await support_mail(runtime)
    password = await article(client, cast, PASSWORD)
    base = f"http://{live_server}"
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(f"{base}/help/fa/articles/{password}")
    await page.get_by_test_id("fd-help-article").wait_for()
    await page.get_by_test_id("fd-help-contact").click()
    await page.get_by_test_id("fd-help-contact-email").fill("maya@example.com")
    await page.get_by_test_id("fd-help-contact-message").fill("هنوز نمی‌توانم وارد شوم")
    await page.get_by_test_id("fd-help-contact-send").click()
    await page.get_by_test_id("fd-help-contact-sent").wait_for(timeout=10_000)
    [stored] = await messages(runtime)
    assert stored.meta["help_articles_read"] == [password]

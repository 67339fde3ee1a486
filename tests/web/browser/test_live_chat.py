"""The Proof of issue 4 in a real browser: live chat both ways, reload, reconnect, offline
queue. Playwright + headless Chromium against the app on a real port."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from frontdesk.conversations.models import Message
from tests.web.browser.conftest import agent_page, customer_page, widget_say, widget_texts


async def stored(runtime, text: str) -> int:  # type: ignore[no-untyped-def]
    async with runtime.db.session() as session:
        return int(
            await session.scalar(
                select(func.count()).select_from(Message).where(Message.text == text)
            )
            or 0
        )


async def conversation_of(client, cast) -> int:  # type: ignore[no-untyped-def]
    items = (await client.get("/api/v1/conversations", headers=cast.alice.headers)).json()["items"]
    return int(items[0]["id"])


class TestLiveChat:
    async def test_agent_and_customer_chat_live_and_history_survives_reload(
        self, browser, live_server, cast, chat
    ):
        base = f"http://{live_server}"
        agent = await agent_page(browser, base, cast.alice)
        customer = await customer_page(browser, base)
        await widget_say(customer, "Hello, my jacket has a torn zip")
        # The agent sees it live in the inbox, without reloading.
        row = agent.get_by_test_id("fd-inbox-list").get_by_text("Hello, my jacket has a torn zip")
        await row.wait_for(timeout=10_000)
        await row.click()
        await agent.wait_for_url("**/conversations/*")
        await agent.get_by_test_id("fd-reply-input").fill("Sorry! We will send a new one today.")
        await agent.get_by_test_id("fd-reply-send").click()
        reply = customer.get_by_test_id("fd-widget-messages").get_by_text("We will send a new one")
        await reply.wait_for(timeout=10_000)
        # The agent's page shows the sent reply too, and the customer's message as answered.
        await agent.get_by_test_id("fd-timeline").get_by_text("We will send a new one").wait_for()
        await customer.reload()
        await customer.get_by_text("We will send a new one").wait_for(timeout=10_000)
        texts = await widget_texts(customer)
        assert texts == ["Hello, my jacket has a torn zip", "Sorry! We will send a new one today."]

    async def test_cut_socket_gets_exactly_the_missed_messages_once(
        self, browser, live_server, cast, chat, client
    ):
        base = f"http://{live_server}"
        customer = await customer_page(browser, base)
        await widget_say(customer, "Are you there?")
        await customer.wait_for_selector("[data-testid=fd-widget-message][data-id]")
        await customer.evaluate("FrontdeskWidget.disconnect()")
        conversation = await conversation_of(client, cast)
        for n in (1, 2, 3):
            response = await client.post(
                f"/api/v1/conversations/{conversation}/messages",
                json={"text": f"missed reply {n}"},
                headers=cast.alice.headers,
            )
            assert response.status_code == 201
        await asyncio.sleep(0.3)
        assert await widget_texts(customer) == ["Are you there?"]
        await customer.evaluate("FrontdeskWidget.connect()")
        await customer.get_by_text("missed reply 3").wait_for(timeout=10_000)
        await asyncio.sleep(0.5)
        assert await widget_texts(customer) == [
            "Are you there?", "missed reply 1", "missed reply 2", "missed reply 3",
        ]  # fmt: skip

    async def test_messages_typed_offline_are_sent_once_on_reconnect(
        self, browser, live_server, cast, chat, runtime
    ):
        base = f"http://{live_server}"
        customer = await customer_page(browser, base)
        await widget_say(customer, "first, online")
        await customer.wait_for_selector("[data-testid=fd-widget-message][data-id]")
        await customer.evaluate("FrontdeskWidget.disconnect()")
        await widget_say(customer, "typed offline one")
        await widget_say(customer, "typed offline two")
        assert await customer.locator(".fdw-pending").count() == 2
        assert await customer.evaluate("FrontdeskWidget.state().outbox") == 2
        await customer.evaluate("FrontdeskWidget.connect()")
        await customer.wait_for_function(
            "() => FrontdeskWidget.state().outbox === 0", timeout=10_000
        )
        # A second cut and return resends nothing twice.
        await customer.evaluate("FrontdeskWidget.disconnect(); FrontdeskWidget.connect()")
        await customer.wait_for_function("() => FrontdeskWidget.state().connected")
        await asyncio.sleep(0.5)
        assert await stored(runtime, "typed offline one") == 1
        assert await stored(runtime, "typed offline two") == 1
        assert await customer.locator(".fdw-pending").count() == 0
        assert await widget_texts(customer) == [
            "first, online", "typed offline one", "typed offline two",
        ]  # fmt: skip

    async def test_collision_shows_who_else_is_typing(self, browser, live_server, cast, chat):
        base = f"http://{live_server}"
        customer = await customer_page(browser, base)
        await widget_say(customer, "Two agents, one chat")
        alice = await agent_page(browser, base, cast.alice)
        sara = await agent_page(browser, base, cast.sara)
        row = alice.get_by_test_id("fd-conversation-row").first
        await row.wait_for()
        url = base + (await row.locator("a").get_attribute("href") or "")
        await alice.goto(url)
        await sara.goto(url)
        await sara.get_by_test_id("fd-collision").get_by_text("Alice").wait_for(timeout=10_000)
        await alice.get_by_test_id("fd-reply-input").type("I'll take this one")
        await sara.get_by_test_id("fd-collision").get_by_text("typing").wait_for(timeout=10_000)
        # The customer sees that an agent is typing.
        await customer.get_by_text("Agent is typing…").wait_for(timeout=10_000)

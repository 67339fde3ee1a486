"""An expired visitor token in a real browser: the widget starts a new anonymous chat, says
so, and sends the messages that were still queued in it (once, honestly: not in the old
chat, and the old chat's messages are no longer shown)."""

from __future__ import annotations

import json
import time

from sqlalchemy import select

from frontdesk.channels.webchat import tokens
from frontdesk.conversations.models import Message
from tests.web.browser.conftest import customer_page, widget_say, widget_texts

STATE = "() => Object.keys(localStorage).find(k => k.startsWith('fd-widget:'))"


async def customers_of(runtime, text: str) -> list[int]:  # type: ignore[no-untyped-def]
    async with runtime.db.session() as session:
        rows = await session.scalars(select(Message.customer_id).where(Message.text == text))
        return list(rows.all())


class TestExpiredToken:
    async def test_queued_message_goes_to_a_new_chat_and_the_visitor_is_told(
        self, browser, live_server, cast, chat, runtime
    ):
        base = f"http://{live_server}"
        customer = await customer_page(browser, base)
        await widget_say(customer, "my old chat")
        await customer.wait_for_selector("[data-testid=fd-widget-message][data-id]")
        key = await customer.evaluate(STATE)
        state = json.loads(await customer.evaluate(f"() => localStorage.getItem({key!r})"))
        claims = tokens.read(runtime.settings.secret_key, state["token"])
        assert claims is not None
        state["token"] = tokens.issue(
            runtime.settings.secret_key, claims, ttl_seconds=86400, now=time.time() - 2 * 86400
        )
        state["outbox"] = [{"id": "queued-000001", "text": "written before it expired"}]
        await customer.evaluate("([k, v]) => localStorage.setItem(k, v)", [key, json.dumps(state)])
        await customer.reload()
        await customer.wait_for_function(
            "() => window.FrontdeskWidget && FrontdeskWidget.state().connected"
            " && FrontdeskWidget.state().outbox === 0",
            timeout=10_000,
        )
        status = customer.locator(".fdw-status")
        assert "A new chat has started" in (await status.text_content() or "")
        texts = await widget_texts(customer)
        assert texts == ["written before it expired"]
        [old] = await customers_of(runtime, "my old chat")
        [new] = await customers_of(runtime, "written before it expired")
        assert new != old
        # The new token is a fresh one, valid for the configured time.
        renewed = json.loads(await customer.evaluate(f"() => localStorage.getItem({key!r})"))
        fresh = tokens.read(runtime.settings.secret_key, renewed["token"])
        assert fresh is not None and fresh.key != claims.key and not tokens.expired(fresh)

    async def test_socket_refusing_the_token_mid_chat_starts_a_new_chat(
        self, browser, live_server, cast, chat, runtime
    ):
        base = f"http://{live_server}"
        customer = await customer_page(browser, base)
        await widget_say(customer, "before the key changed")
        await customer.wait_for_selector("[data-testid=fd-widget-message][data-id]")
        await customer.evaluate("FrontdeskWidget.disconnect()")
        await widget_say(customer, "typed while cut off")
        # The operator rotates FRONTDESK_SECRET_KEY: every visitor token stops being valid.
        runtime.settings.secret_key = "another-secret-key-0123456789"
        await customer.evaluate("FrontdeskWidget.connect()")
        await customer.wait_for_function(
            "() => FrontdeskWidget.state().connected && FrontdeskWidget.state().outbox === 0",
            timeout=10_000,
        )
        status = customer.locator(".fdw-status")
        assert "A new chat has started" in (await status.text_content() or "")
        texts = await widget_texts(customer)
        assert texts == ["typed while cut off"]
        [old] = await customers_of(runtime, "before the key changed")
        [new] = await customers_of(runtime, "typed while cut off")
        assert new != old

"""WhatsApp's 24-hour window on the desktop: an agent answers inside it and sees the time
left; once it has closed the send is refused and the inbox's templates are offered."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from frontdesk.conversations.models import Message
from frontdesk.db import utcnow
from tests.channels.whatsapp.conftest import (
    FakeGraphApi,
    create_number,
    deliver,
    notification,
    now_stamp,
)
from tests.conftest import serve_app
from tests.web.browser.conftest import agent_page, axe_violations


async def test_countdown_then_refusal_and_template_offer(
    browser, live_server, client, runtime, cast
):
    base = f"http://{live_server}"
    graph = FakeGraphApi()
    async with serve_app(graph.app) as address:
        graph.address = address
        number = await create_number(client, runtime, cast, graph)
        created = await client.post(
            f"/api/v1/inboxes/{number.id}/templates",
            json={
                "name": "order_update",
                "language": "en_US",
                "category": "utility",
                "body": "Hello {{1}}, your order {{2}} has shipped.",
            },
            headers=cast.ada.headers,
        )
        assert created.status_code == 201, created.text
        hook = await deliver(client, number, notification("text", timestamp=now_stamp()))
        conversation_id = (
            await client.get(
                f"/api/v1/conversations?inbox_id={number.id}", headers=cast.ada.headers
            )
        ).json()["items"][0]["id"]
        assert hook.status_code == 200

        agent = await agent_page(browser, base, cast.alice)
        await agent.goto(f"{base}/conversations/{conversation_id}")
        countdown = agent.get_by_test_id("fd-reply-window")
        await agent.wait_for_function(
            "() => /Reply window: 23:59:\\d\\d left/.test("
            "document.querySelector('[data-testid=fd-reply-window]').textContent)"
        )
        assert await agent.get_by_test_id("fd-template-form").is_hidden()
        # Inside the window the agent answers freely, and it reaches WhatsApp.
        await agent.get_by_test_id("fd-reply-input").fill("Yes, it comes in purple")
        await agent.get_by_test_id("fd-reply-send").click()
        await (
            agent.get_by_test_id("fd-timeline")
            .get_by_text("Yes, it comes in purple")
            .wait_for(timeout=10_000)
        )

        # A day passes: the customer's message is now 25 hours old (the page still counts).
        async with runtime.db.session() as session:
            old = utcnow() - timedelta(hours=25)
            await session.execute(
                update(Message)
                .where(Message.direction == "inbound")
                .values(sent_at=old, created_at=old)
            )
            await session.commit()
        await agent.get_by_test_id("fd-reply-input").fill("Are you still there?")
        await agent.get_by_test_id("fd-reply-send").click()
        offer = agent.get_by_test_id("fd-template-form")
        await offer.wait_for(state="visible", timeout=10_000)
        alert = offer.get_by_role("alert")
        await alert.wait_for(timeout=10_000)
        assert "reply_window_closed" in (await alert.text_content() or "")
        # The refusal closes the countdown, and it stays closed: the page's own timer (drawn
        # with the old deadline) no longer writes "left" over it a second later.
        await countdown.filter(has_text="closed").wait_for(timeout=30_000)
        await agent.wait_for_timeout(2_500)
        assert "closed" in (await countdown.text_content() or "")
        assert await agent.get_by_test_id("fd-reply-input").is_hidden()
        assert (
            await agent.get_by_test_id("fd-timeline").get_by_text("Are you still there?").count()
            == 0
        )

        # The template goes instead, filled with its parameters.
        await agent.get_by_test_id("fd-template-select").select_option("order_update:en_US")
        await agent.get_by_test_id("fd-template-params").fill("Sheena\nA-17")
        await agent.get_by_test_id("fd-template-send").click()
        await (
            agent.get_by_test_id("fd-timeline")
            .get_by_text("Hello Sheena, your order A-17 has shipped.")
            .wait_for(timeout=10_000)
        )
        assert await axe_violations(agent) == []
        await agent.wait_for_function("() => true")
        for _ in range(50):
            if graph.sent("template"):
                break
            await agent.wait_for_timeout(100)
        [sent] = graph.sent("template")
        assert sent["template"]["name"] == "order_update"
        assert [m["text"]["body"] for m in graph.sent("text")] == ["Yes, it comes in purple"]


async def test_the_countdown_ticks_in_the_agent_s_digits(
    browser, live_server, client, runtime, cast
):
    """A Persian desktop counts the window down in Persian digits (the server's first render
    and every tick of the page's timer)."""
    base = f"http://{live_server}"
    graph = FakeGraphApi()
    async with serve_app(graph.app) as address:
        graph.address = address
        number = await create_number(client, runtime, cast, graph)
        hook = await deliver(client, number, notification("text", timestamp=now_stamp()))
        assert hook.status_code == 200
        conversation_id = (
            await client.get(
                f"/api/v1/conversations?inbox_id={number.id}", headers=cast.ada.headers
            )
        ).json()["items"][0]["id"]
        changed = await client.patch(
            f"/api/v1/agents/{cast.alice.id}", json={"language": "fa"}, headers=cast.ada.headers
        )
        assert changed.status_code == 200, changed.text
        agent = await agent_page(browser, base, cast.alice)
        await agent.goto(f"{base}/conversations/{conversation_id}")
        first = await agent.get_by_test_id("fd-reply-window").text_content()
        assert first is not None and "\u06f2\u06f3:\u06f5\u06f9:" in first
        # Two ticks later the timer has rewritten it, still in Persian digits.
        await agent.wait_for_timeout(2_100)
        ticked = await agent.get_by_test_id("fd-reply-window").text_content()
        assert ticked is not None and "\u06f2\u06f3:\u06f5\u06f9:" in ticked
        assert not any(c in ticked for c in "0123456789")

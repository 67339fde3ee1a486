"""Reply on WhatsApp instead (ADR 0007), in the browser: an agent in the customer's SMS
conversation picks WhatsApp in "Reply on", sends, lands in the WhatsApp conversation, and the
fake WhatsApp server gets the message; once WhatsApp's window has closed the same choice offers
WhatsApp's templates instead of the box (said in the agent's language), a template sent from
there reaches WhatsApp, and going back to "this conversation" brings the SMS box back."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from frontdesk.conversations.models import Message
from frontdesk.db import utcnow
from tests.channels.sms import conftest as sms_kit
from tests.channels.whatsapp import conftest as wa_kit
from tests.conftest import serve_app
from tests.web.browser.conftest import agent_page, axe_violations

WA_ID = "971501234567"  # the SMS fixture's sender
CLOSED_AR = "أُغلقت نافذة الرد: أرسل أحد قوالب هذا الصندوق."


async def test_reply_on_whatsapp_instead_then_refused_in_arabic_once_closed(
    browser, live_server, client, runtime, cast
):
    base = f"http://{live_server}"
    graph, twilio = wa_kit.FakeGraphApi(), sms_kit.FakeTwilio()
    async with serve_app(graph.app) as wa_address, serve_app(twilio.app) as sms_address:
        graph.address, twilio.address = wa_address, sms_address
        sms = await sms_kit.create_sms_inbox(client, runtime, cast, twilio)
        number = await wa_kit.create_number(client, runtime, cast, graph)
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
        hook = await sms_kit.deliver(client, sms, sms_kit.fixture("incoming_sms", Body="Hi"))
        assert hook.status_code == 200
        payload = wa_kit.notification("text", sender=WA_ID, timestamp=wa_kit.now_stamp())
        assert (await wa_kit.deliver(client, number, payload)).status_code == 200
        listed = await client.get(
            f"/api/v1/conversations?inbox_id={sms.id}", headers=cast.ada.headers
        )
        on_sms = listed.json()["items"][0]["id"]

        agent = await agent_page(browser, base, cast.alice)
        await agent.goto(f"{base}/conversations/{on_sms}")
        choice = agent.get_by_test_id("fd-reply-channel")
        option = choice.locator('option[data-channel="whatsapp"][data-state="open"]')
        await agent.select_option(
            '[data-testid="fd-reply-channel"]', await option.get_attribute("value")
        )
        await agent.get_by_test_id("fd-reply-input").fill("Let us continue on WhatsApp")
        await agent.get_by_test_id("fd-reply-send").click()
        # Taken to the WhatsApp conversation, which shows where the reply came from.
        await agent.wait_for_url(lambda url: f"/conversations/{on_sms}" not in url, timeout=10_000)
        await agent.get_by_test_id("fd-switched").first.wait_for(timeout=10_000)
        await (
            agent.get_by_test_id("fd-timeline")
            .get_by_text("Let us continue on WhatsApp")
            .wait_for(timeout=10_000)
        )
        for _ in range(100):  # the embedded runner delivers it
            if graph.sent("text"):
                break
            await agent.wait_for_timeout(100)
        [sent] = graph.sent("text")
        assert sent["to"] == WA_ID and sent["text"]["body"] == "Let us continue on WhatsApp"
        assert twilio.sent == []
        assert await axe_violations(agent) == []

        # A day later WhatsApp's window has closed; Alice now works in Arabic.
        async with runtime.db.session() as session:
            old = utcnow() - timedelta(hours=25)
            await session.execute(
                update(Message)
                .where(Message.direction == "inbound", Message.inbox_id == number.id)
                .values(sent_at=old, created_at=old)
            )
            await session.commit()
        changed = await client.patch(
            f"/api/v1/agents/{cast.alice.id}", json={"language": "ar"}, headers=cast.ada.headers
        )
        assert changed.status_code == 200, changed.text
        await agent.goto(f"{base}/conversations/{on_sms}")
        closed = choice.locator('option[data-channel="whatsapp"][data-state="window_closed"]')
        value = await closed.get_attribute("value")
        await agent.select_option('[data-testid="fd-reply-channel"]', value)
        # WhatsApp's window has closed: its templates take the reply box's place, said in
        # Alice's language (the SMS conversation's own window is not concerned).
        offer = agent.locator(f'[data-reply-on-templates="{value}"]')
        await offer.wait_for(state="visible", timeout=10_000)
        assert CLOSED_AR in (await offer.text_content() or "")
        assert await agent.get_by_test_id("fd-reply-input").is_hidden()
        assert await axe_violations(agent) == []
        chosen = offer.get_by_test_id("fd-reply-on-template-select")
        await chosen.select_option("order_update:en_US")
        await offer.get_by_test_id("fd-reply-on-template-params").fill("Layla\nA-17")
        await offer.get_by_test_id("fd-reply-on-template-send").click()
        # Sent on WhatsApp (a template may go outside the window): taken to that conversation.
        await agent.wait_for_url(lambda url: f"/conversations/{on_sms}" not in url, timeout=10_000)
        await (
            agent.get_by_test_id("fd-timeline")
            .get_by_text("Hello Layla, your order A-17 has shipped.")
            .wait_for(timeout=10_000)
        )
        for _ in range(100):
            if graph.sent("template"):
                break
            await agent.wait_for_timeout(100)
        [template] = graph.sent("template")
        assert template["to"] == WA_ID and template["template"]["name"] == "order_update"
        # Back on SMS, choosing "this conversation" again brings the SMS box back.
        await agent.goto(f"{base}/conversations/{on_sms}")
        await agent.select_option('[data-testid="fd-reply-channel"]', value)
        await offer.wait_for(state="visible", timeout=10_000)
        await agent.select_option('[data-testid="fd-reply-channel"]', "")
        await offer.wait_for(state="hidden", timeout=10_000)
        assert await agent.get_by_test_id("fd-reply-input").is_visible()
        assert [m["text"]["body"] for m in graph.sent("text")] == ["Let us continue on WhatsApp"]
        assert twilio.sent == []

        # A free-form reply posted anyway (an old page) is still refused by the server.
        refused = await client.post(
            f"/api/v1/conversations/{on_sms}/messages",
            json={"text": "Still there?", "inbox_id": number.id},
            headers=cast.alice.headers,
        )
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"]["code"] == "reply_window_closed"

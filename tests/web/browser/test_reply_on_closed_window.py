"""When a WhatsApp conversation's 24-hour window has closed its free-form reply box is hidden
(only templates may go there), but "Reply on" stays: the agent picks the customer's SMS
number, the box comes back for it, and the reply reaches SMS (and not WhatsApp)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from frontdesk.conversations.models import Message
from frontdesk.db import utcnow
from tests.channels.sms import conftest as sms_kit
from tests.channels.whatsapp import conftest as wa_kit
from tests.conftest import serve_app
from tests.web.browser.conftest import agent_page, axe_violations

WA_ID = "971501234567"  # the SMS fixture's sender: one customer on both channels


async def test_reply_on_stays_visible_when_the_window_closed_and_switches_to_sms(
    browser, live_server, client, runtime, cast
):
    base = f"http://{live_server}"
    graph, twilio = wa_kit.FakeGraphApi(), sms_kit.FakeTwilio()
    async with serve_app(graph.app) as wa_address, serve_app(twilio.app) as sms_address:
        graph.address, twilio.address = wa_address, sms_address
        sms = await sms_kit.create_sms_inbox(client, runtime, cast, twilio)
        number = await wa_kit.create_number(client, runtime, cast, graph)
        hook = await sms_kit.deliver(client, sms, sms_kit.fixture("incoming_sms", Body="Hi"))
        assert hook.status_code == 200
        payload = wa_kit.notification("text", sender=WA_ID, timestamp=wa_kit.now_stamp())
        assert (await wa_kit.deliver(client, number, payload)).status_code == 200
        # A day later: WhatsApp's window has closed.
        async with runtime.db.session() as session:
            old = utcnow() - timedelta(hours=25)
            await session.execute(
                update(Message)
                .where(Message.direction == "inbound", Message.inbox_id == number.id)
                .values(sent_at=old, created_at=old)
            )
            await session.commit()
        listed = await client.get(
            f"/api/v1/conversations?inbox_id={number.id}", headers=cast.ada.headers
        )
        on_wa = listed.json()["items"][0]["id"]

        agent = await agent_page(browser, base, cast.alice)
        await agent.goto(f"{base}/conversations/{on_wa}")
        # The box is hidden and the (empty) template offer shown; "Reply on" is still there.
        assert await agent.get_by_test_id("fd-reply-input").is_hidden()
        assert await agent.get_by_test_id("fd-template-form").is_visible()
        choice = agent.get_by_test_id("fd-reply-channel")
        assert await choice.is_visible()
        option = choice.locator('option[data-channel="sms"][data-state="open"]')
        value = await option.get_attribute("value")
        assert value and value.startswith(f"{sms.id}:")
        await agent.select_option('[data-testid="fd-reply-channel"]', value)
        # Picking SMS brings the box back, and WhatsApp's template offer steps aside.
        await agent.get_by_test_id("fd-reply-input").wait_for(state="visible", timeout=5_000)
        assert await agent.get_by_test_id("fd-template-form").is_hidden()
        assert await axe_violations(agent) == []
        # Back to "this conversation": hidden again (WhatsApp's window is still closed).
        await agent.select_option('[data-testid="fd-reply-channel"]', "")
        await agent.get_by_test_id("fd-reply-input").wait_for(state="hidden", timeout=5_000)
        assert await agent.get_by_test_id("fd-template-form").is_visible()

        await agent.select_option('[data-testid="fd-reply-channel"]', value)
        await agent.get_by_test_id("fd-reply-input").fill("Let us carry on by SMS")
        await agent.get_by_test_id("fd-reply-send").click()
        # Taken to the SMS conversation, where the reply is.
        await agent.wait_for_url(lambda url: f"/conversations/{on_wa}" not in url, timeout=10_000)
        await (
            agent.get_by_test_id("fd-timeline")
            .get_by_text("Let us carry on by SMS")
            .wait_for(timeout=10_000)
        )
        for _ in range(100):  # the embedded runner delivers it
            if twilio.sent:
                break
            await agent.wait_for_timeout(100)
        [sent] = twilio.sent
        assert sent["Body"] == "Let us carry on by SMS" and sent["To"] == f"+{WA_ID}"
        assert graph.sent("text") == []

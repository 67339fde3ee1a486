"""The SMS segment counter in the reply box, as the agent types (headless Chromium)."""

from __future__ import annotations

from sqlalchemy import select

from frontdesk.conversations.models import Message
from tests.channels.sms.conftest import create_sms_inbox, deliver, fixture, twilio  # noqa: F401
from tests.web.browser.conftest import agent_page


async def test_the_counter_follows_what_the_agent_types(
    browser,
    live_server,
    cast,
    client,
    runtime,
    twilio,  # noqa: F811
):
    sms = await create_sms_inbox(client, runtime, cast, twilio)
    response = await deliver(client, sms, fixture("incoming_sms", Body="سلام"))
    assert response.status_code == 200, response.text
    async with runtime.db.session() as session:
        conversation_id = (await session.scalars(select(Message.conversation_id))).first()
    base = f"http://{live_server}"
    page = await agent_page(browser, base, cast.alice)
    await page.goto(f"{base}/conversations/{conversation_id}")
    counter = page.get_by_test_id("fd-sms-count")
    assert await counter.get_attribute("data-segments") == "1"
    box = page.get_by_test_id("fd-reply-input")
    await box.fill("a" * 161)
    await page.wait_for_function(
        "() => document.querySelector('[data-testid=fd-sms-count]').dataset.segments === '2'"
    )
    assert "161 characters" in await counter.inner_text()
    await box.fill("سفارش شما فردا می‌رسد")
    await page.wait_for_function(
        "() => document.querySelector('[data-testid=fd-sms-count]').dataset.encoding === 'UCS-2'"
    )
    assert "1 SMS segments (UCS-2)" in await page.get_by_test_id("fd-sms-count").inner_text()

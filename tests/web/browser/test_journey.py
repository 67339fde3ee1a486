"""The customer journey on the conversation page in Arabic: lanes per channel, bars linking
to each conversation, mirrored time, axe clean; a screenshot is kept in test-artifacts/."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from frontdesk.conversations.models import Conversation, Message
from frontdesk.db import utcnow
from frontdesk.inboxes.models import Inbox
from frontdesk.kit import uow
from tests.conftest import inbound_payload, post_inbound
from tests.web.browser.conftest import agent_page, axe_violations


async def chat_weeks_ago(runtime, cast, customer_id: int) -> int:  # type: ignore[no-untyped-def]
    """A webchat conversation of the same customer three weeks ago, answered (an inbox no
    team serves: Ada, an admin, sees it)."""
    async with runtime.db.session() as session:
        inbox = Inbox(name="Chat", channel="webchat", settings={}, secret="s" * 32)
        session.add(inbox)
        await session.flush()
        at = utcnow() - timedelta(weeks=3)
        conversation = Conversation(
            inbox_id=inbox.id, customer_id=customer_id, status="resolved", created_at=at,
            updated_at=at, last_message_at=at + timedelta(minutes=20),
        )  # fmt: skip
        session.add(conversation)
        await session.flush()
        for minutes, direction, author in ((0, "inbound", "customer"), (20, "outbound", "agent")):
            session.add(
                Message(
                    conversation_id=conversation.id, inbox_id=inbox.id, customer_id=customer_id,
                    channel="webchat", direction=direction, author_kind=author, text="…",
                    delivery_status="delivered", created_at=at + timedelta(minutes=minutes),
                )
            )  # fmt: skip
        await uow.commit(session)
        return conversation.id


async def test_journey_in_arabic(browser, live_server, client, cast, runtime, artifacts: Path):
    answer = await post_inbound(
        client, cast.website, inbound_payload("j1", "layla@example.com", "أين طلبي؟")
    )
    customer_id, current = answer.json()["customer_id"], answer.json()["conversation_id"]
    earlier = await chat_weeks_ago(runtime, cast, customer_id)
    await client.patch(
        f"/api/v1/agents/{cast.ada.id}", json={"language": "ar"}, headers=cast.ada.headers
    )
    base = f"http://{live_server}"
    page = await agent_page(browser, base, cast.ada)
    await page.goto(f"{base}/conversations/{current}")
    picture = page.get_by_test_id("fd-journey")
    await picture.wait_for()
    stages = picture.locator("rect.stage")
    assert await stages.count() == 2
    old = await picture.locator(f"a[href='/conversations/{earlier}'] rect").bounding_box()
    new = await picture.locator(f"a[href='/conversations/{current}'] rect").bounding_box()
    assert old is not None and new is not None
    assert old["x"] > new["x"]  # right to left: the older conversation on the right
    assert old["y"] != new["y"]  # webchat and api lanes
    assert "current" in (await stages.nth(1).get_attribute("class") or "")
    await picture.scroll_into_view_if_needed()
    await page.screenshot(path=str(artifacts / "journey-ar.png"), full_page=True)
    assert await axe_violations(page) == []
    await picture.locator(f"a[href='/conversations/{earlier}']").click()
    await page.wait_for_url(f"{base}/conversations/{earlier}")

"""A CSAT card answered in the chat widget: the conversation is resolved, the card arrives
live in the customer's widget, one tap answers it (once), and the answer is in the API."""

from __future__ import annotations

from pathlib import Path

from tests.surveys.helpers import configure, surveys
from tests.web.browser.conftest import customer_page, widget_say


async def test_csat_card_answered_in_the_widget(
    browser, live_server, cast, chat, client, artifacts: Path
):
    base = f"http://{live_server}"
    await configure(client, cast, chat.id, kind="csat")
    customer = await customer_page(browser, base)
    await widget_say(customer, "Where is my parcel?")
    await customer.wait_for_selector("[data-testid=fd-widget-message][data-id]")
    [row] = (await client.get("/api/v1/conversations", headers=cast.ada.headers)).json()["items"]
    resolved = await client.patch(
        f"/api/v1/conversations/{row['id']}", json={"status": "resolved"},
        headers=cast.ada.headers,
    )  # fmt: skip
    assert resolved.status_code == 200
    card = customer.get_by_test_id("fd-survey-card")
    await card.wait_for(timeout=15_000)
    scores = card.get_by_test_id("fd-survey-score")
    assert await scores.count() == 5
    assert "How satisfied are you" in (
        await customer.get_by_test_id("fd-widget-messages").inner_text()
    )
    await scores.nth(3).click()  # 4
    await customer.wait_for_selector("[data-testid=fd-survey-card][data-answered='4']")
    assert await scores.nth(0).is_disabled()
    await customer.screenshot(path=str(artifacts / "survey-card-widget.png"))
    # After a reload the card shows the answer it took, and takes no other.
    await customer.reload()
    await customer.wait_for_selector(
        "[data-testid=fd-survey-card][data-answered='4']", timeout=15_000
    )
    assert await customer.get_by_test_id("fd-survey-score").nth(0).is_disabled()
    [survey] = await surveys(client, cast)
    assert (survey["score"], survey["answered_via"], survey["status"]) == (4, "widget", "answered")

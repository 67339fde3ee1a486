"""The bot in the desktop: the hand-off context at the top of a conversation (in the agent's
language, right to left for Persian), agent assist with its warning and insert button, and
Settings → Bot, where an admin turns the bot on for an inbox."""

from __future__ import annotations

from tests.bot.test_service import PASSWORD, UNKNOWN, Customer, article, enable_bot
from tests.conftest import run_jobs
from tests.web.test_settings import open_as
from tests.web.test_views import csrf_of


async def test_the_agent_sees_the_hand_off_and_the_failed_article(client, cast, runtime):
    password = await article(client, cast, PASSWORD)
    await enable_bot(client, cast, cast.website.id)
    maya = Customer(client, cast, runtime)
    await maya.says("I forgot my password")
    await maya.says("no")
    await maya.says(UNKNOWN)
    page = await open_as(client, cast.alice, f"/conversations/{maya.conversation_id}")
    assert f'hx-get="/conversations/{maya.conversation_id}/handoff"' in page
    panel = (await client.get(f"/conversations/{maya.conversation_id}/handoff")).text
    assert 'data-testid="fd-handoff"' in panel and 'data-status="handed_off"' in panel
    assert 'data-reason="low_confidence"' in panel
    assert f'data-article-id="{password}" data-verdict="not_helpful"' in panel
    assert UNKNOWN in panel
    assist = (await client.get(f"/conversations/{maya.conversation_id}/assist")).text
    assert 'data-testid="fd-assist-warning"' in assist
    assert "Reset your password" in assist

    await client.post("/me/language", data={"language": "fa", "csrf": csrf_of(page)})
    persian = (await client.get(f"/conversations/{maya.conversation_id}/handoff")).text
    assert "ربات این گفتگو را واگذار کرد" in persian
    assert "ربات پاسخ را نمی‌دانست." in persian


async def test_no_panel_without_the_bot_and_none_for_other_teams(client, cast, runtime):
    maya = Customer(client, cast, runtime)
    await maya.says("hello")
    await open_as(client, cast.alice, "/")
    panel = await client.get(f"/conversations/{maya.conversation_id}/handoff")
    assert panel.status_code == 200 and "fd-handoff" not in panel.text
    await open_as(client, cast.bob, "/")
    assert (await client.get(f"/conversations/{maya.conversation_id}/handoff")).status_code == 404
    assert (await client.get(f"/conversations/{maya.conversation_id}/assist")).status_code == 404


async def test_admin_turns_the_bot_on_for_an_inbox(client, cast, runtime):
    await open_as(client, cast.alice, "/")
    assert (await client.get("/settings/bot")).status_code == 403
    html = await open_as(client, cast.ada, "/settings/bot")
    assert 'data-testid="fd-bot-row"' in html
    saved = await client.post(
        f"/settings/bot/{cast.website.id}",
        data={"csrf": csrf_of(html), "enabled": "on", "threshold": "0.4"},
    )
    assert saved.status_code == 303
    read = await client.get(f"/api/v1/inboxes/{cast.website.id}/bot", headers=cast.ada.headers)
    assert (read.json()["enabled"], read.json()["threshold"]) == (True, 0.4)
    bad = await client.post(
        f"/settings/bot/{cast.website.id}", data={"csrf": csrf_of(html), "threshold": "7"}
    )
    assert bad.status_code == 303 and "error=" in bad.headers["location"]
    read = await client.get(f"/api/v1/inboxes/{cast.website.id}/bot", headers=cast.ada.headers)
    assert read.json()["enabled"] is True  # the refused form changed nothing
    await run_jobs(runtime)

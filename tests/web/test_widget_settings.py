"""The website chat widget is administrable in Settings -> Inboxes: colours, greeting,
language, and the embed snippet to copy."""

from __future__ import annotations

from markupsafe import escape

from tests.web.test_views import csrf_of, log_in


async def test_colours_greeting_language_and_the_snippet(client, cast):
    await log_in(client, cast.ada)
    form = (await client.get("/settings/inboxes/new?channel=webchat")).text
    for field in ("s.color", "s.text_color", "s.greeting", "s.language"):
        assert f'name="{field}"' in form, field
    assert 'type="color" name="s.color"' in form
    created = await client.post(
        "/settings/inboxes/new",
        data={"csrf": csrf_of(form), "channel": "webchat", "name": "Shop chat",
              "s.color": "#0a7d4f", "s.text_color": "#ffffff", "s.greeting": "مرحبًا! كيف نساعدك؟",
              "s.language": "ar"},
    )  # fmt: skip
    assert created.status_code == 303, created.text
    inbox_id = int(created.headers["location"].split("/")[-1].split("?")[0])
    page = (await client.get(f"/settings/inboxes/{inbox_id}")).text
    assert str(escape(f'data-inbox="{inbox_id}"')) in page and 'data-testid="fd-embed"' in page
    assert 'data-copy="fd-embed"' in page
    stored = (await client.get(f"/api/v1/inboxes/{inbox_id}", headers=cast.ada.headers)).json()
    settings = stored["settings"]
    assert (settings["color"], settings["language"]) == ("#0a7d4f", "ar")
    assert settings["greeting"] == "مرحبًا! كيف نساعدك؟"

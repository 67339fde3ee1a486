"""The desktop shows a frustrated customer (inbox row and conversation, in every language)
and each message's sentiment; admins set the rule on Settings -> Sentiment."""

from __future__ import annotations

from tests.conftest import inbound_payload, post_inbound, run_jobs
from tests.web.test_views import csrf_of, log_in

ANGRY = "This is terrible, my order never arrived and nobody answers. I am very angry."
CALM = "Thank you so much, excellent service, I love it!"


async def say(client, cast, external_id: str, text: str, address: str) -> int:  # type: ignore[no-untyped-def]
    response = await post_inbound(client, cast.website, inbound_payload(external_id, address, text))
    assert response.status_code == 202, response.text
    return int(response.json()["conversation_id"])


class TestBadge:
    async def test_only_the_frustrated_row_has_the_badge(self, client, cast, runtime):
        angry = await say(client, cast, "a1", ANGRY, "angry@example.com")
        calm = await say(client, cast, "c1", CALM, "calm@example.com")
        await run_jobs(runtime)
        await log_in(client, cast.alice)
        page = (await client.get("/")).text
        rows = {
            cid: page.split(f'data-conversation-id="{cid}"')[1].split("</li>")[0]
            for cid in (angry, calm)
        }
        assert 'data-testid="fd-frustrated-badge"' in rows[angry]
        assert 'data-testid="fd-frustrated-badge"' not in rows[calm]

    async def test_conversation_page_shows_badge_and_labels_in_persian(self, client, cast, runtime):
        cid = await say(client, cast, "a1", ANGRY, "angry@example.com")
        await run_jobs(runtime)
        await log_in(client, cast.alice)
        page = await client.get("/")
        await client.post("/me/language", data={"language": "fa", "csrf": csrf_of(page.text)})
        html = (await client.get(f"/conversations/{cid}")).text
        assert '<html lang="fa" dir="rtl">' in html
        assert 'data-testid="fd-frustrated-badge"' in html and "ناراضی" in html
        assert 'data-sentiment="negative"' in html and "احساس: منفی" in html


class TestSettingsPage:
    async def test_admin_saves_the_rule_and_it_applies(self, client, cast, runtime):
        await log_in(client, cast.ada)
        page = (await client.get("/settings/sentiment")).text
        assert 'data-testid="fd-sentiment-form"' in page
        assert 'href="/settings/sentiment"' in (await client.get("/settings")).text
        response = await client.post(
            "/settings/sentiment",
            data={"csrf": csrf_of(page), "frustrated_below": "-0.2", "raise_to": "urgent",
                  "raise_priority": "1"},
        )  # fmt: skip
        assert response.status_code == 303
        rule = (await client.get("/api/v1/sentiment/rule", headers=cast.ada.headers)).json()
        assert rule == {"raise_priority": True, "raise_to": "urgent", "frustrated_below": -0.2}
        cid = await say(client, cast, "a1", ANGRY, "angry@example.com")
        await run_jobs(runtime)
        found = await client.get(f"/api/v1/conversations/{cid}", headers=cast.ada.headers)
        assert found.json()["priority"] == "urgent"

    async def test_a_bad_value_is_shown_not_saved(self, client, cast):
        await log_in(client, cast.ada)
        page = (await client.get("/settings/sentiment")).text
        response = await client.post(
            "/settings/sentiment",
            data={"csrf": csrf_of(page), "frustrated_below": "5", "raise_to": "high"},
        )
        assert response.status_code == 422
        assert 'data-testid="fd-sentiment-problem"' in response.text
        rule = (await client.get("/api/v1/sentiment/rule", headers=cast.ada.headers)).json()
        assert rule["frustrated_below"] == -0.35

    async def test_agents_cannot_open_it(self, client, cast):
        await log_in(client, cast.alice)
        response = await client.get("/settings/sentiment")
        assert response.status_code in (303, 403, 404)

"""Settings → Surveys in the desktop (admins only, the same rules as the API), and the
demo's seeded survey history."""

from __future__ import annotations

from collections import Counter

from frontdesk.kit.i18n import translator
from frontdesk.seed import seed
from tests.web.test_settings import open_as
from tests.web.test_views import csrf_of


class TestSettingsPage:
    async def test_admin_sets_an_inboxs_survey(self, client, cast):
        html = await open_as(client, cast.ada, "/settings/surveys")
        assert html.count('data-testid="fd-survey-form"') == 2
        form = {
            "csrf": csrf_of(html), "enabled": "on", "kind": "nps", "trigger": "delay",
            "delay_hours": "6", "sample_percent": "40", "dedupe_days": "10",
            "expiry_hours": "48", "low_threshold": "", "alert_agent_id": str(cast.sara.id),
        }  # fmt: skip
        saved = await client.post(f"/settings/surveys/{cast.website.id}", data=form)
        assert saved.status_code == 303
        read = await client.get(
            f"/api/v1/inboxes/{cast.website.id}/survey", headers=cast.ada.headers
        )
        body = read.json()
        assert (body["kind"], body["trigger"], body["delay_hours"], body["sample_percent"]) == (
            "nps", "delay", 6, 40,
        )  # fmt: skip
        assert body["low_threshold"] is None and body["alert_agent_id"] == cast.sara.id
        page = (await client.get(saved.headers["location"])).text
        assert 'data-testid="fd-survey-saved"' in page

    async def test_a_refused_form_says_why_and_saves_nothing(self, client, cast):
        html = await open_as(client, cast.ada, "/settings/surveys")
        form = {"csrf": csrf_of(html), "enabled": "on", "kind": "csat", "trigger": "delay",
                "delay_hours": "0"}  # fmt: skip
        refused = await client.post(f"/settings/surveys/{cast.website.id}", data=form)
        assert refused.status_code == 422 and 'data-testid="fd-survey-error"' in refused.text
        read = await client.get(
            f"/api/v1/inboxes/{cast.website.id}/survey", headers=cast.ada.headers
        )
        assert read.status_code == 404

    async def test_only_admins(self, client, cast):
        await open_as(client, cast.alice, "/")
        assert (await client.get("/settings/surveys")).status_code == 403

    async def test_right_to_left_for_persian_admins(self, client, cast):
        await open_as(client, cast.ada, "/")
        html = await open_as(client, cast.ada, "/settings/surveys")
        csrf = csrf_of(html)
        await client.post("/me/language", data={"csrf": csrf, "language": "fa"})
        page = (await client.get("/settings/surveys")).text
        assert 'dir="rtl"' in page and translator("fa")("Surveys") in page


async def test_the_demo_has_survey_answers(client, runtime):
    seeded = await seed(runtime)
    headers = {"Authorization": f"Bearer {seeded.token}"}
    items = []
    cursor = None
    while True:
        params = {"limit": 200, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/api/v1/surveys", params=params, headers=headers)).json()
        items += page["items"]
        if not (cursor := page["next_cursor"]):
            break
    answered = [s for s in items if s["status"] == "answered"]
    assert len(items) > 50 and len(answered) > 25
    assert set(Counter(s["kind"] for s in answered)) == {"csat", "ces", "nps"}
    assert {"en", "ar", "fa"} <= {s["language"] for s in items}
    assert any(s["low"] for s in answered) and any(s["comment"] for s in answered)

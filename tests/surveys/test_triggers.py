"""When a survey is sent: on resolve or N hours after (not if reopened meanwhile), to the
sampled share, never to machine senders, never twice to one customer within the window."""

from __future__ import annotations

from frontdesk.surveys.service import sampled
from tests.conftest import run_jobs
from tests.surveys.helpers import LINK, configure, make_due, messages, resolve, surveys, wrote


class TestOnResolve:
    async def test_a_resolved_conversation_is_asked_in_its_channel(self, client, runtime, cast):
        await configure(client, cast, cast.website.id, kind="csat")
        conversation = await wrote(client, cast.website, "kim@example.com", "m1")
        await resolve(client, runtime, cast, conversation)
        [survey] = await surveys(client, cast)
        assert (survey["conversation_id"], survey["kind"], survey["status"]) == (
            conversation, "csat", "sent",
        )  # fmt: skip
        asked = [
            m for m in await messages(client, cast, conversation) if m["direction"] == "outbound"
        ]
        assert len(asked) == 1 and asked[0]["author_kind"] == "system"
        assert "How satisfied are you" in asked[0]["text"]
        assert LINK.search(asked[0]["text"])  # the API channel gets the survey page's link

    async def test_no_survey_without_settings_or_when_disabled(self, client, runtime, cast):
        first = await wrote(client, cast.website, "kim@example.com", "m1")
        await resolve(client, runtime, cast, first)
        await configure(client, cast, cast.website.id, enabled=False)
        second = await wrote(client, cast.website, "lee@example.com", "m2")
        await resolve(client, runtime, cast, second)
        assert await surveys(client, cast) == []

    async def test_asked_once_per_conversation_even_if_resolved_again(self, client, runtime, cast):
        await configure(client, cast, cast.website.id, dedupe_days=0)
        conversation = await wrote(client, cast.website, "kim@example.com", "m1")
        await resolve(client, runtime, cast, conversation)
        await resolve(client, runtime, cast, conversation, status="open")
        await resolve(client, runtime, cast, conversation)
        assert len(await surveys(client, cast)) == 1

    async def test_arabic_conversation_is_asked_in_arabic(self, client, runtime, cast):
        await configure(client, cast, cast.website.id, kind="nps")
        conversation = await wrote(client, cast.website, "kim@example.com", "m1")
        await resolve(client, runtime, cast, conversation, language="ar")
        [survey] = await surveys(client, cast)
        assert survey["language"] == "ar"
        [asked] = [
            m for m in await messages(client, cast, conversation) if m["direction"] == "outbound"
        ]
        assert "ما مدى احتمال" in asked["text"]


class TestMachineSenders:
    async def test_no_survey_to_a_no_reply_address(self, client, runtime, cast):
        await configure(client, cast, cast.website.id)
        for n, address in enumerate(("noreply@shop.example", "MAILER-DAEMON@mx.example")):
            conversation = await wrote(client, cast.website, address, f"m{n}")
            await resolve(client, runtime, cast, conversation)
        assert await surveys(client, cast) == []


class TestDedupeWindow:
    async def test_same_customer_is_not_asked_twice_within_the_window(self, client, runtime, cast):
        for inbox in (cast.website, cast.app):
            await configure(client, cast, inbox.id, dedupe_days=30)
        first = await wrote(client, cast.website, "kim@example.com", "m1")
        await resolve(client, runtime, cast, first)
        second = await wrote(client, cast.app, "kim@example.com", "m2")  # another inbox
        await resolve(client, runtime, cast, second)
        other = await wrote(client, cast.app, "lee@example.com", "m3")
        await resolve(client, runtime, cast, other)
        assert sorted(s["conversation_id"] for s in await surveys(client, cast)) == [first, other]

    async def test_a_window_of_zero_days_asks_every_time(self, client, runtime, cast):
        await configure(client, cast, cast.app.id, dedupe_days=0)
        first = await wrote(client, cast.app, "kim@example.com", "m1")
        await resolve(client, runtime, cast, first)
        second = await wrote(client, cast.app, "kim@example.com", "m2")
        assert second != first  # a message after the resolve opens a new conversation
        await resolve(client, runtime, cast, second)
        assert sorted(s["conversation_id"] for s in await surveys(client, cast)) == [first, second]


class TestSampling:
    async def test_a_share_of_zero_asks_nobody(self, client, runtime, cast):
        await configure(client, cast, cast.website.id, sample_percent=0)
        conversation = await wrote(client, cast.website, "kim@example.com", "m1")
        await resolve(client, runtime, cast, conversation)
        assert await surveys(client, cast) == []

    def test_the_sample_is_stable_and_near_its_share(self):
        chosen = [n for n in range(1, 4001) if sampled(n, 25)]
        assert 850 <= len(chosen) <= 1150
        assert chosen == [n for n in range(1, 4001) if sampled(n, 25)]


class TestDelayed:
    async def test_asked_hours_later(self, client, runtime, cast):
        await configure(client, cast, cast.website.id, trigger="delay", delay_hours=4)
        conversation = await wrote(client, cast.website, "kim@example.com", "m1")
        await resolve(client, runtime, cast, conversation)
        assert await surveys(client, cast) == []  # not yet
        await make_due(runtime, "surveys.send")
        await run_jobs(runtime)
        assert [s["conversation_id"] for s in await surveys(client, cast)] == [conversation]

    async def test_not_asked_if_reopened_meanwhile(self, client, runtime, cast):
        await configure(client, cast, cast.website.id, trigger="delay", delay_hours=4)
        conversation = await wrote(client, cast.website, "kim@example.com", "m1")
        await resolve(client, runtime, cast, conversation)
        await resolve(client, runtime, cast, conversation, status="open")
        await make_due(runtime, "surveys.send")
        await run_jobs(runtime)
        assert await surveys(client, cast) == []

    async def test_delay_needs_hours(self, client, cast):
        response = await client.put(
            f"/api/v1/inboxes/{cast.website.id}/survey",
            json={"trigger": "delay", "delay_hours": 0}, headers=cast.ada.headers,
        )  # fmt: skip
        assert response.status_code == 422


class TestSettingsApi:
    async def test_only_admins_configure(self, client, cast):
        response = await client.put(
            f"/api/v1/inboxes/{cast.website.id}/survey", json={}, headers=cast.alice.headers
        )
        assert response.status_code == 403

    async def test_unknown_fields_are_refused(self, client, cast):
        response = await client.put(
            f"/api/v1/inboxes/{cast.website.id}/survey", json={"colour": "red"},
            headers=cast.ada.headers,
        )  # fmt: skip
        assert response.status_code == 422 and "colour" in response.text

    async def test_agents_see_only_their_inboxes_surveys(self, client, runtime, cast):
        for inbox in (cast.website, cast.app):
            await configure(client, cast, inbox.id)
        website = await wrote(client, cast.website, "kim@example.com", "m1")
        app = await wrote(client, cast.app, "lee@example.com", "m2")
        for conversation in (website, app):
            await resolve(client, runtime, cast, conversation)
        seen = (await client.get("/api/v1/surveys", headers=cast.alice.headers)).json()["items"]
        assert [s["conversation_id"] for s in seen] == [website]
        other = next(s for s in await surveys(client, cast) if s["conversation_id"] == app)
        hidden = await client.get(f"/api/v1/surveys/{other['id']}", headers=cast.alice.headers)
        assert hidden.status_code == 404

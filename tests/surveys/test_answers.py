"""One answer per survey through a signed, expiring token: the one-click link and its
comment page, the widget card's route; a forged, reused or expired token gets a clear page
(in the survey's language); a low score becomes a supervisor's follow-up."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from frontdesk.analytics import journey as journeys
from frontdesk.conversations.models import Note
from frontdesk.db import utcnow
from frontdesk.kit import uow
from frontdesk.surveys import tokens
from frontdesk.surveys.alerts import negative_run
from frontdesk.surveys.models import Survey
from tests.surveys.helpers import LINK, click, configure, messages, resolve, surveys, wrote
from tests.web.test_views import csrf_of


async def asked(client, runtime, cast, *, language: str = "en", **settings) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    """A resolved conversation's survey: (conversation id, its token)."""
    await configure(client, cast, cast.website.id, **settings)
    conversation = await wrote(client, cast.website, "kim@example.com", "m1")
    await resolve(client, runtime, cast, conversation, language=language)
    outbound = [
        m for m in await messages(client, cast, conversation) if m["direction"] == "outbound"
    ]
    found = LINK.search(outbound[0]["text"])
    assert found is not None
    return conversation, found.group(1)


class TestOneClickLink:
    async def test_score_then_comment(self, client, runtime, cast):
        _, token = await asked(client, runtime, cast)
        page = await client.get(f"/surveys/r/{token}")
        assert page.status_code == 200 and 'data-score="5"' in page.text
        clicked = await click(client, token, 4, follow=True)
        assert clicked.status_code == 200 and 'data-testid="fd-survey-comment-form"' in clicked.text
        sent = await client.post(
            f"/surveys/r/{token}/comment",
            data={"csrf": csrf_of(clicked.text), "comment": "Quick and kind"},
            follow_redirects=True,
        )
        assert 'data-testid="fd-survey-comment-saved"' in sent.text
        [survey] = await surveys(client, cast)
        assert (survey["score"], survey["comment"], survey["status"], survey["answered_via"]) == (
            4, "Quick and kind", "answered", "link",
        )  # fmt: skip
        assert survey["low"] is False

    async def test_opening_the_link_records_nothing_until_its_page_posts(
        self, client, runtime, cast
    ):
        # A mail scanner opens every link of the message without running scripts.
        _, token = await asked(client, runtime, cast)
        for score in (1, 2, 3, 4, 5):
            page = await client.get(f"/surveys/r/{token}?score={score}")
            assert page.status_code == 200 and 'data-testid="fd-survey-confirm-form"' in page.text
            assert f'name="score" value="{score}"' in page.text
            assert '<script src="/static/survey.js"></script>' in page.text
        [survey] = await surveys(client, cast)
        assert survey["status"] == "sent" and survey["score"] is None
        assert (await click(client, token, 2)).status_code == 303  # the customer's own click
        [survey] = await surveys(client, cast)
        assert survey["score"] == 2

    async def test_the_score_post_needs_the_pages_form_token(self, client, runtime, cast):
        _, token = await asked(client, runtime, cast)
        refused = await client.post(f"/surveys/r/{token}", data={"csrf": "x", "score": "5"})
        assert refused.status_code in (401, 403)
        page = await client.get(f"/surveys/r/{token}?score=5")
        edited = await client.post(
            f"/surveys/r/{token}", data={"csrf": csrf_of(page.text), "score": "9"}
        )
        assert edited.status_code == 404 and 'data-reason="forged"' in edited.text
        [survey] = await surveys(client, cast)
        assert survey["score"] is None

    async def test_the_comment_is_taken_once(self, client, runtime, cast):
        _, token = await asked(client, runtime, cast)
        page = await click(client, token, 5, follow=True)
        csrf = csrf_of(page.text)
        await client.post(f"/surveys/r/{token}/comment", data={"csrf": csrf, "comment": "one"})
        again = await client.post(
            f"/surveys/r/{token}/comment", data={"csrf": csrf, "comment": "two"}
        )
        assert again.status_code == 409 and 'data-reason="answered"' in again.text
        [survey] = await surveys(client, cast)
        assert survey["comment"] == "one"


class TestRefusedTokens:
    async def test_forged_token_is_refused_with_a_clear_page(self, client, runtime, cast):
        _, token = await asked(client, runtime, cast)
        survey_id, expires, mac = token.split(".")
        forgeries = [
            f"{survey_id}.{expires}.{'0' * len(mac)}",  # wrong signature
            f"{survey_id}.{int(expires) + 86400}.{mac}",  # a later expiry
            f"{int(survey_id) + 1}.{expires}.{mac}",  # another survey
            tokens.issue("some-other-secret-key-123", int(survey_id), utcnow()),
            "garbage",
        ]
        for forged in forgeries:
            page = await client.get(f"/surveys/r/{forged}?score=1")
            assert page.status_code == 404, forged
            assert 'data-reason="forged"' in page.text
            assert "This survey link is not valid" in page.text
        [survey] = await surveys(client, cast)
        assert survey["status"] == "sent" and survey["score"] is None

    async def test_reused_token_is_refused(self, client, runtime, cast):
        _, token = await asked(client, runtime, cast)
        assert (await click(client, token, 5)).status_code == 303
        again = await client.get(f"/surveys/r/{token}?score=1")
        assert again.status_code == 409 and 'data-reason="answered"' in again.text
        assert "This survey has already been answered" in again.text
        [survey] = await surveys(client, cast)
        assert survey["score"] == 5  # the first answer stands

    async def test_expired_token_is_refused(self, client, runtime, cast):
        _, token = await asked(client, runtime, cast)
        survey_id = int(token.split(".")[0])
        past = (utcnow() - timedelta(minutes=1)).replace(microsecond=0)
        async with runtime.db.session() as session:
            await session.execute(
                update(Survey).where(Survey.id == survey_id).values(expires_at=past)
            )
            await session.commit()
        expired = tokens.issue(runtime.settings.secret_key, survey_id, past)
        page = await client.get(f"/surveys/r/{expired}?score=5")
        assert page.status_code == 410 and 'data-reason="expired"' in page.text
        assert "This survey has expired" in page.text
        assert (await client.get(f"/surveys/r/{expired}")).status_code == 410
        [survey] = await surveys(client, cast)
        assert survey["score"] is None

    async def test_refusals_speak_the_surveys_language(self, client, runtime, cast):
        _, token = await asked(client, runtime, cast, language="fa")
        await click(client, token, 5)
        again = await client.get(f"/surveys/r/{token}?score=5")
        assert 'dir="rtl"' in again.text and "به این نظرسنجی قبلاً پاسخ داده شده است" in again.text

    async def test_a_score_outside_the_scale_changes_nothing(self, client, runtime, cast):
        _, token = await asked(client, runtime, cast)
        for bad in ("9", "x", "-1"):
            assert (await client.get(f"/surveys/r/{token}?score={bad}")).status_code < 500
        [survey] = await surveys(client, cast)
        assert survey["status"] == "sent"


class TestWidgetRoute:
    async def test_answer_once_then_refused(self, client, runtime, cast):
        _, token = await asked(client, runtime, cast)
        first = await client.post("/surveys/answer", content=f'{{"token": "{token}", "score": 5}}')
        assert first.status_code == 200 and first.json()["score"] == 5
        assert first.headers["access-control-allow-origin"] == "*"
        again = await client.post("/surveys/answer", json={"token": token, "score": 1})
        assert again.status_code == 409 and again.json()["error"]["code"] == "answered"
        forged = await client.post("/surveys/answer", json={"token": token + "0", "score": 1})
        assert forged.status_code == 409 and forged.json()["error"]["code"] == "forged"
        for body in (b"not json", b'{"token": "x", "extra": 1}', b"[]"):
            assert (await client.post("/surveys/answer", content=body)).status_code == 422


class TestAtRisk:
    async def test_low_score_flags_and_assigns_to_a_supervisor(self, client, runtime, cast):
        conversation, token = await asked(client, runtime, cast, kind="csat")
        await click(client, token, 1)
        read = (
            await client.get(f"/api/v1/conversations/{conversation}", headers=cast.ada.headers)
        ).json()
        assert read["assignee_id"] == cast.sara.id and read["priority"] == "high"
        assert "at-risk" in read["tags"]
        async with runtime.db.session() as session:
            notes = (
                await session.scalars(select(Note).where(Note.conversation_id == conversation))
            ).all()
        assert [n.text for n in notes] == ["At risk: CSAT score 1"]
        [survey] = await surveys(client, cast, low="true")
        assert survey["low"] is True

    async def test_the_inbox_names_who_follows_up(self, client, runtime, cast):
        conversation, token = await asked(client, runtime, cast, kind="nps", low_threshold=8,
                                          alert_agent_id=cast.alice.id)  # fmt: skip
        await click(client, token, 8)
        read = (
            await client.get(f"/api/v1/conversations/{conversation}", headers=cast.ada.headers)
        ).json()
        assert read["assignee_id"] == cast.alice.id

    async def test_a_good_score_changes_nothing(self, client, runtime, cast):
        conversation, token = await asked(client, runtime, cast, kind="csat")
        await click(client, token, 3)
        read = (
            await client.get(f"/api/v1/conversations/{conversation}", headers=cast.ada.headers)
        ).json()
        assert read["assignee_id"] is None and "at-risk" not in read["tags"]

    async def test_a_run_of_negative_sentiment_flags_once(self, client, runtime, cast):
        conversation = await wrote(client, cast.website, "kim@example.com", "m1")
        async with runtime.db.session() as session:
            assert not await negative_run(session, conversation, labels=["negative", "neutral"])
            assert not await negative_run(
                session, conversation, labels=["negative", "neutral", "negative", "negative"]
            )
            assert await negative_run(session, conversation, labels=["negative"] * 3)
            await uow.commit(session)
        async with runtime.db.session() as session:
            assert not await negative_run(session, conversation, labels=["negative"] * 4)
        read = (
            await client.get(f"/api/v1/conversations/{conversation}", headers=cast.ada.headers)
        ).json()
        assert read["assignee_id"] == cast.sara.id and "at-risk" in read["tags"]


class TestOnTheJourney:
    async def test_an_answer_is_a_marker_on_its_stage_and_its_low_score_is_negative(
        self, client, runtime, cast
    ):
        conversation, token = await asked(client, runtime, cast)
        customer = int((await surveys(client, cast))[0]["customer_id"])

        async def markers() -> list[tuple[str, str, str | None]]:
            async with runtime.db.session() as session:
                found = await journeys.journey(session, customer, visible=None)
            [stage] = [s for s in found.stages if s.conversation_id == conversation]
            return [(m.kind, m.label, m.tone) for m in stage.markers]

        assert await markers() == []  # asked, not answered
        await click(client, token, 1, follow=True)
        assert await markers() == [("survey", "CSAT 1/5", "negative")]

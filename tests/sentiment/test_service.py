"""Sentiment through the product path: a customer's message is stored, the job labels it
after commit, the conversation's trend and frustrated flag follow, the rule raises the
priority once, and all of it is readable in the API and announced on the event log."""

from __future__ import annotations

from sqlalchemy import select

from frontdesk.kit.events import Event
from frontdesk.sentiment.service import trend_of
from tests.conftest import inbound_payload, post_inbound, run_jobs

ANGRY = [
    "This is terrible, my order never arrived and nobody answers. I am very angry.",
    "الخدمة سيئة جدا، لم يصل طلبي وأنا غاضب",
    "خیلی بد بود، غذا سرد رسید و پشتیبانی جواب نداد",
]
HAPPY = "Thank you so much, excellent service, I love it!"


async def say(client, cast, external_id: str, text: str, address="layla@example.com") -> int:  # type: ignore[no-untyped-def]
    response = await post_inbound(client, cast.website, inbound_payload(external_id, address, text))
    assert response.status_code == 202, response.text
    return int(response.json()["conversation_id"])


async def conversation(client, cast, conversation_id: int) -> dict:  # type: ignore[no-untyped-def]
    response = await client.get(
        f"/api/v1/conversations/{conversation_id}", headers=cast.alice.headers
    )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def messages(client, cast, conversation_id: int) -> list[dict]:  # type: ignore[no-untyped-def]
    response = await client.get(
        f"/api/v1/conversations/{conversation_id}/messages", headers=cast.alice.headers
    )
    assert response.status_code == 200, response.text
    return response.json()["items"]  # type: ignore[no-any-return]


async def events(runtime, type: str) -> list[Event]:  # type: ignore[no-untyped-def]
    async with runtime.db.session() as session:
        return list((await session.scalars(select(Event).where(Event.type == type))).all())


class TestAnalysis:
    async def test_each_language_is_labelled_after_commit(self, client, cast, runtime):
        for n, text in enumerate(ANGRY):
            cid = await say(client, cast, f"a{n}", text, address=f"c{n}@example.com")
            # Stored and acknowledged before any analysis: the job runs after commit.
            assert (await messages(client, cast, cid))[0]["sentiment"] is None
            await run_jobs(runtime)
            [message] = await messages(client, cast, cid)
            assert message["sentiment"] == "negative", text
            assert -1 <= message["sentiment_score"] < 0

    async def test_a_frustrated_conversation_is_flagged_and_raised_once(
        self, client, cast, runtime
    ):
        cid = await say(client, cast, "m1", ANGRY[0])
        await run_jobs(runtime)
        found = await conversation(client, cast, cid)
        assert found["frustrated"] is True and found["sentiment_trend"] < -0.35
        assert found["priority"] == "high"
        changed = await events(runtime, "conversation.sentiment_changed")
        assert [e.payload["frustrated"] for e in changed] == [True]
        assert changed[0].conversation_id == cid and changed[0].inbox_id == cast.website.id
        raised = [e for e in await events(runtime, "conversation.updated") if e.payload["rule"]]
        assert [(e.payload["changed"], e.payload["rule"]) for e in raised] == [
            (["priority"], "sentiment")
        ]
        # Still angry: no second raise; an agent's choice of urgent is never lowered.
        response = await client.patch(
            f"/api/v1/conversations/{cid}", json={"priority": "urgent"}, headers=cast.alice.headers
        )
        assert response.status_code == 200
        await say(client, cast, "m2", ANGRY[0])
        await run_jobs(runtime)
        assert (await conversation(client, cast, cid))["priority"] == "urgent"

    async def test_thanks_after_anger_calms_the_trend(self, client, cast, runtime):
        cid = await say(client, cast, "m1", ANGRY[0])
        await run_jobs(runtime)
        for n in range(3):
            await say(client, cast, f"h{n}", HAPPY)
            await run_jobs(runtime)
        found = await conversation(client, cast, cid)
        assert found["frustrated"] is False and found["sentiment_trend"] > 0

    async def test_agents_and_machines_are_not_analysed(self, client, cast, runtime):
        cid = await say(client, cast, "m1", HAPPY)
        response = await client.post(
            f"/api/v1/conversations/{cid}/messages",
            json={"text": "This is terrible news, sorry"},
            headers=cast.alice.headers,
        )
        assert response.status_code == 201, response.text
        await run_jobs(runtime)
        labels = {m["direction"]: m["sentiment"] for m in await messages(client, cast, cid)}
        assert labels == {"inbound": "positive", "outbound": None}

    async def test_the_job_is_idempotent(self, client, cast, runtime):
        from frontdesk.kit import uow
        from frontdesk.sentiment import service

        cid = await say(client, cast, "m1", ANGRY[0])
        await run_jobs(runtime)
        [message] = await messages(client, cast, cid)
        async with runtime.db.session() as session:
            assert await service.analyse_message(session, message["id"]) is None
            await uow.commit(session)
        assert len(await events(runtime, "conversation.sentiment_changed")) == 1


class TestRule:
    async def test_admin_turns_the_priority_rule_off(self, client, cast, runtime):
        url = "/api/v1/sentiment/rule"
        assert (await client.get(url, headers=cast.alice.headers)).json() == {
            "raise_priority": True, "raise_to": "high", "frustrated_below": -0.35,
        }  # fmt: skip
        refused = await client.patch(
            url, json={"raise_priority": False}, headers=cast.alice.headers
        )
        assert refused.status_code == 403
        response = await client.patch(url, json={"raise_priority": False}, headers=cast.ada.headers)
        assert response.status_code == 200 and response.json()["raise_priority"] is False
        cid = await say(client, cast, "m1", ANGRY[0])
        await run_jobs(runtime)
        found = await conversation(client, cast, cid)
        assert found["frustrated"] is True and found["priority"] == "normal"

    async def test_raise_to_urgent_and_a_stricter_threshold(self, client, cast, runtime):
        response = await client.patch(
            "/api/v1/sentiment/rule",
            json={"raise_to": "urgent", "frustrated_below": -0.99},
            headers=cast.ada.headers,
        )
        assert response.status_code == 200, response.text
        cid = await say(client, cast, "m1", ANGRY[0])
        await run_jobs(runtime)
        found = await conversation(client, cast, cid)
        assert found["frustrated"] is (found["sentiment_trend"] <= -0.99)
        assert found["priority"] == ("urgent" if found["frustrated"] else "normal")

    async def test_bad_values_are_refused_with_422(self, client, cast):
        for body in (
            {"raise_to": "sky-high"},
            {"frustrated_below": 0.5},
            {"frustrated_below": None},
            {"unknown": 1},
        ):
            response = await client.patch(
                "/api/v1/sentiment/rule", json=body, headers=cast.ada.headers
            )
            assert response.status_code == 422, body


class TestTrend:
    def test_newest_weighs_most(self):
        assert trend_of([]) is None
        assert trend_of([-1.0]) == -1.0
        assert trend_of([1.0, -1.0]) > 0 > trend_of([-1.0, 1.0])  # type: ignore[operator]
        assert trend_of([0.5] * 5) == 0.5


class TestAtRisk:
    async def test_a_run_of_negative_messages_makes_a_follow_up_once(self, client, cast, runtime):
        cid = await say(client, cast, "r1", ANGRY[0])
        await say(client, cast, "r2", HAPPY)
        await say(client, cast, "r3", ANGRY[1])
        await say(client, cast, "r4", ANGRY[2])
        await run_jobs(runtime)
        assert "at-risk" not in (await conversation(client, cast, cid))["tags"]  # broken run
        await say(client, cast, "r5", ANGRY[0])
        await run_jobs(runtime)
        found = await conversation(client, cast, cid)
        assert "at-risk" in found["tags"] and found["assignee_id"] is not None
        flagged = await events(runtime, "conversation.at_risk")
        assert [(e.conversation_id, e.payload["reason"]) for e in flagged] == [
            (cid, "negative_sentiment")
        ]
        await say(client, cast, "r6", ANGRY[1])  # still angry: not flagged twice
        await run_jobs(runtime)
        assert len(await events(runtime, "conversation.at_risk")) == 1

"""Reports over HTTP, from conversations made through the real API: the rollups follow the
event log, agents see only their teams' inboxes, a rebuild gives the same rollups."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx

from frontdesk.analytics import rollup_repository as repository
from frontdesk.analytics import service
from frontdesk.runtime import Runtime
from tests.conftest import Cast, InboxInfo, Person, inbound_payload, post_inbound


async def customer_writes(
    client: httpx.AsyncClient, inbox: InboxInfo, n: int, again: str = ""
) -> int:
    answer = await post_inbound(
        client,
        inbox,
        inbound_payload(f"m{n}-{inbox.id}{again}", f"c{n}@example.com", "help", thread=f"t{n}"),
    )
    assert answer.status_code == 202, answer.text
    return int(answer.json()["conversation_id"])


async def reply(client: httpx.AsyncClient, person: Person, conversation_id: int) -> None:
    answer = await client.post(
        f"/api/v1/conversations/{conversation_id}/messages",
        json={"text": "on it"},
        headers=person.headers,
    )
    assert answer.status_code in (200, 201), answer.text


async def change(client: httpx.AsyncClient, person: Person, cid: int, **fields: Any) -> None:
    answer = await client.patch(f"/api/v1/conversations/{cid}", json=fields, headers=person.headers)
    assert answer.status_code == 200, answer.text


async def history(client: httpx.AsyncClient, cast: Cast) -> list[int]:
    """Website: one resolved at first contact, one reopened and resolved again, one open
    (tagged vip). App: one open."""
    first = await customer_writes(client, cast.website, 1)
    await reply(client, cast.alice, first)
    await change(client, cast.alice, first, status="resolved", assignee_id=cast.alice.id)
    second = await customer_writes(client, cast.website, 2)
    await reply(client, cast.alice, second)
    await change(client, cast.alice, second, status="resolved")
    assert await customer_writes(client, cast.website, 2, "again") == second  # reopens it
    await reply(client, cast.alice, second)
    await change(client, cast.alice, second, status="resolved")
    third = await customer_writes(client, cast.website, 3)
    await change(client, cast.alice, third, tags=["vip"])
    fourth = await customer_writes(client, cast.app, 4)
    return [first, second, third, fourth]


async def summary(client: httpx.AsyncClient, person: Person, **params: Any) -> dict[str, Any]:
    answer = await client.get("/api/v1/reports/summary", params=params, headers=person.headers)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


class TestSummary:
    async def test_metrics_follow_the_conversations(
        self, client: httpx.AsyncClient, cast: Cast, runtime: Runtime
    ) -> None:
        await history(client, cast)
        await service.catch_up_all(runtime.db)
        current = (await summary(client, cast.ada))["current"]
        assert current["volume"] == 4
        assert current["resolved"] == 2
        assert current["reopen_rate"] == 0.5
        assert current["first_contact_resolution_rate"] == 0.5
        assert current["first_responses"] == 2
        assert (await summary(client, cast.ada))["backlog"]["open"] == 2

    async def test_filters_by_inbox_channel_agent_and_tag(
        self, client: httpx.AsyncClient, cast: Cast, runtime: Runtime
    ) -> None:
        await history(client, cast)
        await service.catch_up_all(runtime.db)
        assert (await summary(client, cast.ada, inbox_id=cast.app.id))["current"]["volume"] == 1
        assert (await summary(client, cast.ada, channel="api"))["current"]["volume"] == 4
        assert (await summary(client, cast.ada, channel="sms"))["current"]["volume"] == 0
        mine = await summary(client, cast.ada, agent_id=cast.alice.id)
        assert mine["current"]["resolved"] == 1
        assert (await summary(client, cast.ada, tag="vip"))["current"]["volume"] == 1
        assert (await summary(client, cast.ada, tag="nope"))["current"]["volume"] == 0

    async def test_agents_see_only_their_teams_inboxes(
        self, client: httpx.AsyncClient, cast: Cast, runtime: Runtime
    ) -> None:
        await history(client, cast)
        await service.catch_up_all(runtime.db)
        assert (await summary(client, cast.alice))["current"]["volume"] == 3
        assert (await summary(client, cast.bob))["current"]["volume"] == 1
        hidden = await client.get(
            "/api/v1/reports/summary",
            params={"inbox_id": cast.website.id},
            headers=cast.bob.headers,
        )
        assert hidden.status_code == 404
        by_inbox = await client.get(
            "/api/v1/reports/breakdown", params={"by": "inbox"}, headers=cast.bob.headers
        )
        assert [item["label"] for item in by_inbox.json()["items"]] == ["App"]

    async def test_previous_period_is_compared(
        self, client: httpx.AsyncClient, cast: Cast, runtime: Runtime
    ) -> None:
        await history(client, cast)
        await service.catch_up_all(runtime.db)
        body = await summary(client, cast.ada, start="2020-01-01", end="2020-01-08")
        assert body["current"]["volume"] == 0
        assert body["previous"]["volume"] == 0
        assert body["change"]["volume"] is None


class TestRebuild:
    async def test_backfill_gives_the_rollups_the_follower_kept(
        self, client: httpx.AsyncClient, cast: Cast, runtime: Runtime
    ) -> None:
        ids = await history(client, cast)
        await service.catch_up_all(runtime.db)  # part of it incrementally...
        await change(client, cast.ada, ids[2], team_id=None, assignee_id=cast.alice.id)
        await reply(client, cast.bob, ids[3])
        await service.catch_up_all(runtime.db)  # ...then the rest
        async with runtime.db.session() as session:
            kept = await repository.rollup_rows(session)
            kept_daily = await repository.rollup_rows(session, daily=True)
        seen: list[tuple[int, int]] = []
        folded = await service.backfill(runtime.db, progress=lambda d, t: seen.append((d, t)))
        async with runtime.db.session() as session:
            assert await repository.rollup_rows(session) == kept
            assert await repository.rollup_rows(session, daily=True) == kept_daily
            assert await service.lag(session) == 0
        assert folded > 0 and seen[-1][0] == seen[-1][1]


class TestCharts:
    async def test_histogram_heatmap_timeseries_and_breakdowns(
        self, client: httpx.AsyncClient, cast: Cast, runtime: Runtime
    ) -> None:
        await history(client, cast)
        await service.catch_up_all(runtime.db)
        h = (await client.get("/api/v1/reports/first-response-histogram",
                              headers=cast.ada.headers)).json()  # fmt: skip
        assert sum(b["count"] for b in h["items"]) == 2
        heat = (await client.get("/api/v1/reports/heatmap", headers=cast.ada.headers)).json()
        assert sum(map(sum, heat["cells"])) == 4 and heat["max"] >= 1
        series = (await client.get("/api/v1/reports/timeseries", params={"interval": "hour"},
                                   headers=cast.ada.headers)).json()  # fmt: skip
        assert sum(p["volume"] for p in series["items"]) == 4
        for by in ("channel", "inbox", "team", "agent", "tag"):
            answer = await client.get(
                "/api/v1/reports/breakdown", params={"by": by}, headers=cast.ada.headers
            )
            assert answer.status_code == 200, answer.text
        tags = (await client.get("/api/v1/reports/breakdown", params={"by": "tag"},
                                 headers=cast.ada.headers)).json()  # fmt: skip
        assert [(i["label"], i["metrics"]["volume"]) for i in tags["items"]] == [("vip", 1)]

    async def test_csv_export(
        self, client: httpx.AsyncClient, cast: Cast, runtime: Runtime
    ) -> None:
        await history(client, cast)
        await service.catch_up_all(runtime.db)
        answer = await client.get(
            "/api/v1/reports/export.csv", params={"report": "breakdown", "by": "inbox"},
            headers=cast.ada.headers,
        )  # fmt: skip
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(answer.text)))
        assert rows[0][:4] == ["inbox", "label", "volume", "messages_in"]
        assert sorted((r[1], r[2]) for r in rows[1:]) == [("App", "1"), ("Website", "3")]


class TestBadInput:
    async def test_refuses_bad_periods_and_dimensions(
        self, client: httpx.AsyncClient, cast: Cast
    ) -> None:
        for params in (
            {"start": "yesterday"},
            {"start": "2026-02-01", "end": "2026-01-01"},
            {"start": "2020-01-01", "end": "2026-01-01"},
            {"channel": "DROP TABLE"},
            {"team_id": "-1"},
        ):
            answer = await client.get(
                "/api/v1/reports/summary", params=params, headers=cast.ada.headers
            )
            assert answer.status_code == 422, (params, answer.text)
            assert "error" in answer.json()
        wrong = await client.get(
            "/api/v1/reports/breakdown", params={"by": "mood"}, headers=cast.ada.headers
        )
        assert wrong.status_code == 422
        assert (await client.get("/api/v1/reports/summary")).status_code == 401

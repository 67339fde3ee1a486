"""Content gaps: misses from every source are counted (answered ones are not), similar
wordings cluster (Arabic and Persian spelling variants too) and unrelated ones stay apart,
the public endpoints cannot flood the table, and only admins read the report."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from frontdesk.kit import uow
from frontdesk.knowledge import gaps, service
from frontdesk.knowledge.models import Gap
from frontdesk.knowledge.views import GAPS_PER_MINUTE
from frontdesk.runtime import Runtime
from tests.bot.test_service import Customer, enable_bot
from tests.knowledge.test_search import PASSWORD, create

UNKNOWN = "Can your company repair a vintage harpsichord?"


async def rows(runtime: Runtime) -> list[Gap]:
    async with runtime.db.session() as session:
        return list((await session.scalars(select(Gap).order_by(Gap.id))).all())


async def record(runtime: Runtime, text: str, *, language: str | None = "en",
                 source: str = "answer", now: datetime | None = None) -> None:  # fmt: skip
    async with runtime.db.session() as session:
        await service.record_miss(session, text, language=language, source=source, now=now)
        await uow.commit(session)


class TestRecording:
    async def test_agent_search_with_no_results(self, client, cast, runtime):
        await create(client, cast, PASSWORD)
        found = await client.get(
            "/api/v1/kb/search", params={"q": "reset password"}, headers=cast.alice.headers
        )
        assert found.json()["items"]
        assert await rows(runtime) == []  # answered: nothing recorded
        missed = await client.get(
            "/api/v1/kb/search", params={"q": "Harpsichord tuning", "language": "en"},
            headers=cast.alice.headers,
        )  # fmt: skip
        assert missed.status_code == 200 and missed.json()["items"] == []
        [row] = await rows(runtime)
        assert (row.source, row.key, row.language, row.count) == (
            "search", "harpsichord tuning", "en", 1,
        )  # fmt: skip
        assert row.example == "Harpsichord tuning"

    async def test_the_answer_decision_below_the_threshold(self, client, cast, runtime):
        await create(client, cast, PASSWORD)
        answered = await client.post(
            "/api/v1/kb/answer", json={"text": "I forgot my password"}, headers=cast.alice.headers
        )
        assert answered.json()["answer"] is not None
        assert await rows(runtime) == []
        for _ in range(2):
            unknown = await client.post(
                "/api/v1/kb/answer", json={"text": UNKNOWN, "language": "en"},
                headers=cast.alice.headers,
            )  # fmt: skip
            assert unknown.json()["answer"] is None
        [row] = await rows(runtime)
        assert (row.source, row.count) == ("answer", 2)  # the same day: one row, counted

    async def test_public_autocomplete_counts_one_typed_question_once(self, client, cast, runtime):
        await create(client, cast, PASSWORD)
        url = "/api/v1/public/kb/autocomplete"
        assert (await client.get(url, params={"q": "forg"})).json()["items"]
        for typed in ("harps", "harpsich", "harpsichord rep", "harpsichord repair"):
            response = await client.get(url, params={"q": typed, "language": "en"})
            assert response.status_code == 200 and response.json()["items"] == []
        [row] = await rows(runtime)
        assert (row.source, row.key, row.count) == ("autocomplete", "harpsichord repair", 1)

    async def test_help_centre_search(self, client, cast, runtime):
        await create(client, cast, PASSWORD)
        page = await client.get("/help/fa/search", params={"q": "تعمیر هارپسیکورد"})
        assert page.status_code == 200
        [row] = await rows(runtime)
        assert (row.source, row.language) == ("portal", "fa")

    async def test_the_bots_hand_off(self, client, cast, runtime):
        await create(client, cast, PASSWORD)
        await enable_bot(client, cast, cast.website.id)
        maya = Customer(client, cast, runtime)
        await maya.says("I forgot my password")
        assert await rows(runtime) == []
        await maya.says(UNKNOWN)
        [row] = await rows(runtime)
        assert row.source == "bot" and row.example == UNKNOWN


class TestFlood:
    async def test_one_client_records_only_a_few_misses_a_minute(self, client, cast, runtime):
        url = "/api/v1/public/kb/autocomplete"
        for n in range(3 * GAPS_PER_MINUTE):
            response = await client.get(url, params={"q": f"zzq{n} nothing"})
            assert response.status_code == 200  # still answered
        # At most two windows if the burst straddled a minute boundary.
        assert GAPS_PER_MINUTE <= len(await rows(runtime)) <= 2 * GAPS_PER_MINUTE

    async def test_public_sources_stop_at_the_daily_cap(self, runtime, cast, monkeypatch):
        monkeypatch.setattr(service, "PUBLIC_GAPS_PER_DAY", 3)
        for n in range(5):
            await record(runtime, f"word{n} other{n}", source="portal")
        await record(runtime, "still counted", source="bot")
        recorded = await rows(runtime)
        assert [r.source for r in recorded] == ["portal"] * 3 + ["bot"]


class TestReport:
    async def test_variants_cluster_and_unrelated_stay_apart(self, client, cast, runtime):
        for text in (
            "How do I repair my harpsichord?", "how to repair my harpsichord",
            "How do I repair my harpsichord?", "كيف أصلح الهاربسيكورد",
            "کیف اصلح الهاربسیکورد", "Do you ship to Mars?", "do you ship to mars",
        ):  # fmt: skip
            await record(runtime, text, language="ar" if text[0] in "كک" else "en")
        response = await client.get("/api/v1/kb/gaps", headers=cast.ada.headers)
        assert response.status_code == 200, response.text
        items = response.json()["items"]
        assert [i["count"] for i in items] == [3, 2, 2]  # most missed first
        assert items[0]["text"] == "How do I repair my harpsichord?"
        assert items[0]["languages"] == ["en"]
        assert items[0]["examples"] == [
            "How do I repair my harpsichord?", "how to repair my harpsichord",
        ]  # fmt: skip
        assert items[0]["first_seen"] <= items[0]["last_seen"]
        [arabic] = [i for i in items if i["languages"] == ["ar"]]
        assert len(arabic["examples"]) == 1  # both spellings are one normalised key
        assert arabic["examples"][0] in ("كيف أصلح الهاربسيكورد", "کیف اصلح الهاربسیکورد")
        [mars] = [i for i in items if "mars" in i["text"].lower()]
        assert mars["count"] == 2 and mars["languages"] == ["en"]

    async def test_since_and_language_filter(self, client, cast, runtime):
        old = datetime.now(UTC) - timedelta(days=40)
        await record(runtime, "an old miss", now=old)
        await record(runtime, "a new miss", language="fa-IR")
        await record(runtime, "another one", language="en")
        every = await client.get("/api/v1/kb/gaps", headers=cast.ada.headers)
        assert sorted(i["text"] for i in every.json()["items"]) == ["a new miss", "another one"]
        since = (old - timedelta(days=1)).isoformat()
        older = await client.get(
            "/api/v1/kb/gaps", params={"since": since}, headers=cast.ada.headers
        )
        assert len(older.json()["items"]) == 3
        persian = await client.get(
            "/api/v1/kb/gaps", params={"language": "fa"}, headers=cast.ada.headers
        )
        assert [i["text"] for i in persian.json()["items"]] == ["a new miss"]

    async def test_admins_only(self, client, cast):
        assert (await client.get("/api/v1/kb/gaps", headers=cast.alice.headers)).status_code == 403
        assert (await client.get("/api/v1/kb/gaps")).status_code == 401
        bad = await client.get(
            "/api/v1/kb/gaps", params={"since": "yesterday"}, headers=cast.ada.headers
        )
        assert bad.status_code == 422


@pytest.mark.parametrize(
    ("a", "b", "together"),
    [
        ("reset my password", "reset password", True),
        ("reset my password", "ship to mars", False),
        ("رمز عبورم را چطور عوض کنم", "رمز عبور را چطور عوض كنم", True),
    ],
)
def test_clustering_is_by_shared_words(a: str, b: str, together: bool) -> None:
    from frontdesk.kit.text import search_tokens

    now = datetime.now(UTC)
    rows_ = [(" ".join(search_tokens(t)), "en", t, 1, now, now) for t in (a, b)]
    assert len(gaps.cluster(rows_)) == (1 if together else 2)


def test_prefix_filtering_finds_what_comparing_every_pair_finds() -> None:
    import random

    chooser = random.Random(12)
    vocabulary = [f"w{n}" for n in range(30)]
    now = datetime.now(UTC)
    rows_ = [
        (" ".join(chooser.sample(vocabulary, chooser.randint(1, 6))), "en", f"t{n}", 100 - n,
         now, now)
        for n in range(200)
    ]  # fmt: skip
    # The same greedy rule, comparing every row with every cluster.
    seeds: list[frozenset[str]] = []
    totals: list[int] = []
    for key, _, _, count, _, _ in rows_:
        words = frozenset(key.split())
        scores = [gaps.jaccard(words, seed) for seed in seeds]
        best = max(range(len(seeds)), key=lambda i: (scores[i], -i), default=None)
        if best is None or scores[best] < gaps.SIMILAR:
            seeds.append(words)
            totals.append(0)
            best = len(seeds) - 1
        totals[best] += count
    found = gaps.cluster(rows_)
    assert 1 < len(found) < len(rows_)  # the sample does cluster
    assert sorted(c.count for c in found) == sorted(totals)
    first = {row[2]: frozenset(row[0].split()) for row in rows_}
    assert sorted(sorted(first[c.examples[0]]) for c in found) == sorted(sorted(s) for s in seeds)


async def test_addresses_and_long_numbers_are_not_kept(runtime):
    await record(
        runtime, "Where is order 12345678? Write to maya@example.com or ۰۹۱۲۳۴۵۶۷۸۹", source="bot"
    )
    [row] = await rows(runtime)
    assert row.example == "Where is order [number]? Write to [email] or [number]"
    assert "maya" not in row.key and "12345678" not in row.key
    await record(
        runtime, "Where is order 87654321? Write to ali@example.org or 0912 345 6789", source="bot"
    )
    assert [r.count for r in await rows(runtime)] == [2]  # one question, whoever asked it

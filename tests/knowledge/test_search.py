# ruff: noqa: RUF001  (Arabic and Persian samples)
"""Search, the bot's answer and autocomplete through the contract API: Arabic and Persian
spellings meet, a question in a language without a translation finds the article in another,
typos are forgiven, and only what the asker may see is found."""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

import httpx
import numpy as np

from frontdesk.kit import uow
from frontdesk.kit.text import search_tokens
from frontdesk.knowledge import index as knowledge_index
from frontdesk.knowledge import intents, search, service
from frontdesk.knowledge.embedding import to_blob
from frontdesk.knowledge.schemas import ArticleCreate
from frontdesk.runtime import Runtime
from tests.conftest import Cast
from tests.knowledge.test_index import Unit, unit

PASSWORD = {
    "language": "en",
    "title": "Reset your password",
    "body": "Open **Settings**, choose *Security* and press Reset password.\nA link arrives.",
    "status": "published",
    "questions": ["I forgot my password", "How do I change my password?", "can't log in"],
}
SHIPPING = {
    "language": "en",
    "title": "Shipping times",
    "body": "Parcels arrive within 3 working days in Europe and 10 elsewhere.",
    "status": "published",
    "questions": ["When will my parcel arrive?", "How long does delivery take?"],
}
BOOK = {
    "language": "fa",
    "title": "خرید کتاب",
    "body": "کتاب‌ها را از فروشگاه ما بخرید. ارسال ۱۲۳ تومان است.",
    "status": "published",
    "questions": ["می‌خواهم کتاب بخرم"],
}


async def create(
    client: httpx.AsyncClient, cast: Cast, article: dict[str, Any], **changes: Any
) -> int:
    response = await client.post(
        "/api/v1/kb/articles", json={**article, **changes}, headers=cast.ada.headers
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


async def find(
    client: httpx.AsyncClient, cast: Cast, q: str, **params: Any
) -> list[dict[str, Any]]:
    response = await client.get(
        "/api/v1/kb/search", params={"q": q, **params}, headers=cast.alice.headers
    )
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


class TestSearch:
    async def test_best_match_first_with_a_snippet(self, client, cast):
        password = await create(client, cast, PASSWORD)
        await create(client, cast, SHIPPING)
        items = await find(client, cast, "reset password")
        assert items[0]["article_id"] == password
        assert items[0]["language"] == "en"
        assert items[0]["title"] == "Reset your password"
        assert "Reset password" in items[0]["snippet"]
        assert items[0]["score"] > 0
        assert [i["score"] for i in items] == sorted((i["score"] for i in items), reverse=True)

    async def test_arabic_and_persian_spellings_meet(self, client, cast):
        book = await create(client, cast, BOOK)
        for q in ("كتاب", "کتاب", "ميخواهم كتاب", "١٢٣", "123"):
            items = await find(client, cast, q)
            assert [i["article_id"] for i in items][:1] == [book], q

    async def test_typos_are_forgiven(self, client, cast):
        password = await create(client, cast, PASSWORD)
        await create(client, cast, SHIPPING)
        items = await find(client, cast, "pasword resset")
        assert items[0]["article_id"] == password

    async def test_the_askers_language_is_preferred(self, client, cast):
        password = await create(client, cast, PASSWORD)
        await client.post(
            f"/api/v1/kb/articles/{password}/translations",
            json={
                "language": "fa",
                "title": "بازنشانی گذرواژه",
                "body": "به تنظیمات بروید و گذرواژه را بازنشانی کنید.",
            },
            headers=cast.ada.headers,
        )
        items = await find(client, cast, "password", language="fa")
        assert (items[0]["article_id"], items[0]["language"]) == (password, "fa")
        assert items[0]["title"] == "بازنشانی گذرواژه"

    async def test_without_a_translation_any_language_is_found_and_named(self, client, cast):
        shipping = await create(client, cast, SHIPPING)
        items = await find(client, cast, "delivery", language="fa")
        assert (items[0]["article_id"], items[0]["language"]) == (shipping, "en")

    async def test_agents_find_internal_articles_but_never_drafts(self, client, cast):
        internal = await create(client, cast, PASSWORD, status="internal")
        await create(client, cast, SHIPPING, status="draft")
        assert [i["article_id"] for i in await find(client, cast, "password")] == [internal]
        assert await find(client, cast, "parcels") == []

    async def test_nothing_to_search_for_finds_nothing(self, client, cast):
        await create(client, cast, PASSWORD)
        assert await find(client, cast, " ?! ") == []

    async def test_a_bad_language_tag_is_refused(self, client, cast):
        response = await client.get(
            "/api/v1/kb/search",
            params={"q": "x", "language": "no such"},
            headers=cast.alice.headers,
        )
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "invalid"

    async def test_needs_a_token(self, client, cast):
        assert (await client.get("/api/v1/kb/search", params={"q": "x"})).status_code == 401


class TestAnswer:
    async def ask(self, client, cast, text: str, **extra: Any) -> dict[str, Any]:
        response = await client.post(
            "/api/v1/kb/answer", json={"text": text, **extra}, headers=cast.alice.headers
        )
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def test_a_known_question_is_answered(self, client, cast):
        password = await create(client, cast, PASSWORD)
        await create(client, cast, SHIPPING)
        result = await self.ask(client, cast, "I forgot my pasword")
        assert result["answer"]["article_id"] == password
        assert result["answer"]["language"] == "en"
        assert result["answer"]["confidence"] >= search.ANSWER_THRESHOLD
        assert result["candidates"][0]["article_id"] == password

    async def test_an_unknown_question_gets_no_answer(self, client, cast):
        await create(client, cast, PASSWORD)
        await create(client, cast, SHIPPING)
        result = await self.ask(client, cast, "what is the capital of mongolia")
        assert result["answer"] is None
        assert all(c["confidence"] < search.ANSWER_THRESHOLD for c in result["candidates"])

    async def test_the_bot_answers_only_from_published_articles(self, client, cast):
        await create(client, cast, PASSWORD, status="internal")
        result = await self.ask(client, cast, "I forgot my password")
        assert result == {"answer": None, "candidates": []}

    async def test_persian_question_in_persian_spelling_variants(self, client, cast):
        book = await create(client, cast, BOOK)
        result = await self.ask(client, cast, "مي‌خواهم كتاب بخرم", language="fa")
        assert (result["answer"]["article_id"], result["answer"]["language"]) == (book, "fa")


class TestAutocomplete:
    async def suggest(self, client, q: str, **params: Any) -> list[dict[str, Any]]:
        response = await client.get("/api/v1/public/kb/autocomplete", params={"q": q, **params})
        assert response.status_code == 200, response.text
        return list(response.json()["items"])

    async def test_suggests_questions_and_titles_by_prefix_without_auth(self, client, cast):
        password = await create(client, cast, PASSWORD)
        items = await self.suggest(client, "how do I ch")
        assert items[0] == {
            "kind": "question",
            "text": "How do I change my password?",
            "article_id": password,
            "language": "en",
        }
        titles = await self.suggest(client, "rese")
        assert {
            "kind": "article",
            "text": "Reset your password",
            "article_id": password,
            "language": "en",
        } in titles

    async def test_only_published_articles_are_suggested(self, client, cast):
        await create(client, cast, PASSWORD, status="internal")
        await create(client, cast, SHIPPING, status="draft")
        assert await self.suggest(client, "pass") == []
        assert await self.suggest(client, "ship") == []

    async def test_persian_prefix_in_arabic_letters(self, client, cast):
        book = await create(client, cast, BOOK)
        items = await self.suggest(client, "ميخواهم ك", language="fa")
        assert [(i["article_id"], i["text"]) for i in items] == [(book, "می‌خواهم کتاب بخرم")]

    async def test_changes_show_at_once(self, client, cast):
        password = await create(client, cast, PASSWORD)
        assert await self.suggest(client, "forgot")
        await client.patch(
            f"/api/v1/kb/articles/{password}", json={"status": "draft"}, headers=cast.ada.headers
        )
        assert await self.suggest(client, "forgot") == []

    async def test_rate_limited_per_client(self, client, cast):
        from frontdesk.knowledge.views import AUTOCOMPLETE_PER_MINUTE

        url = "/api/v1/public/kb/autocomplete"
        for _ in range(2):  # a second try if the burst straddled a minute boundary
            minute = time.time() // 60
            answers = [
                await client.get(url, params={"q": "a"}) for _ in range(AUTOCOMPLETE_PER_MINUTE + 1)
            ]
            if time.time() // 60 == minute:
                break
        assert answers[0].status_code == 200
        assert answers[-1].status_code == 429
        assert answers[-1].json()["error"]["code"] == "rate_limited"
        assert int(answers[-1].headers["retry-after"]) >= 1


class TestOtherProcesses:
    async def test_a_write_elsewhere_reaches_this_processs_index(
        self, runtime: Runtime, cast, monkeypatch
    ):
        monkeypatch.setattr(search, "FRESHNESS_SECONDS", 0.2)
        other = Runtime.build(runtime.settings, with_runner=False)
        try:
            async with runtime.db.session() as session:
                assert await search.autocomplete(session, "forgot", language=None) == []
            async with other.db.session() as session:
                await service.create_article(session, ArticleCreate(**PASSWORD), author=None)
                await uow.commit(session)
            async with runtime.db.session() as session:
                # The bot's decision always reads the stamp: at once.
                assert (await search.answer(session, "I forgot my password", language=None)).answer
            await asyncio.sleep(0.25)  # autocomplete and search: within FRESHNESS_SECONDS
            async with runtime.db.session() as session:
                found = await search.autocomplete(session, "forgot", language=None)
                assert [s.text for s in found] == ["I forgot my password"]
        finally:
            await other.db.dispose()

    async def test_the_index_is_rebuilt_beside_the_event_loop_not_on_it(
        self, runtime: Runtime, cast, monkeypatch
    ):
        """Seconds of CPU at 10,000 articles: the loop keeps serving while a write is indexed."""
        import threading

        built_on: list[int] = []
        build = knowledge_index.KnowledgeIndex.build

        def recording(*args: Any, **kwargs: Any) -> knowledge_index.KnowledgeIndex:
            built_on.append(threading.get_ident())
            return build(*args, **kwargs)

        monkeypatch.setattr(knowledge_index.KnowledgeIndex, "build", staticmethod(recording))
        async with runtime.db.session() as session:
            await service.create_article(session, ArticleCreate(**PASSWORD), author=None)
            await uow.commit(session)
        async with runtime.db.session() as session:
            answered = await search.answer(session, "I forgot my password", language=None)
        assert answered.answer is not None
        assert built_on and threading.get_ident() not in built_on

    async def test_autocomplete_trusts_a_recent_stamp_read(
        self, runtime: Runtime, cast, monkeypatch
    ):
        monkeypatch.setattr(search, "FRESHNESS_SECONDS", 60.0)
        other = Runtime.build(runtime.settings, with_runner=False)
        try:
            async with runtime.db.session() as session:
                assert await search.autocomplete(session, "forgot", language=None) == []
            async with other.db.session() as session:
                await service.create_article(session, ArticleCreate(**PASSWORD), author=None)
                await uow.commit(session)
            async with runtime.db.session() as session:
                # Another process's write is not read within the window (no SQL per keystroke)...
                assert await search.autocomplete(session, "forgot", language=None) == []
                # ...this process's own write is, at once.
                await service.create_article(session, ArticleCreate(**SHIPPING), author=None)
                await uow.commit(session)
            async with runtime.db.session() as session:
                assert await search.autocomplete(session, "forgot", language=None)
                assert await search.autocomplete(session, "when will", language=None)
        finally:
            await other.db.dispose()


class TestFullText:
    async def test_a_title_word_outranks_a_body_word_and_edits_are_found_at_once(
        self, client, cast, runtime
    ):
        """The full-text document (PostgreSQL: a stored, generated column; SQLite: the FTS5
        table kept in step) weighs the title over the body and follows every edit."""
        in_body = await create(client, cast, SHIPPING, title="Delivery", body="Refunds too.")
        in_title = await create(client, cast, SHIPPING, title="Refunds", body="Money back.")

        async def found(token: str) -> list[int]:
            async with runtime.db.session() as session:
                idx = await knowledge_index.current(session)
                hits = await search.full_text(
                    session, idx, [token], statuses=["published"], limit=10
                )
            return [hit.article_id for hit in hits]

        assert await found("refunds") == [in_title, in_body]
        edited = await client.patch(
            f"/api/v1/kb/articles/{in_title}",
            json={"title": "Returns", "body": "Money back."},
            headers=cast.ada.headers,
        )
        assert edited.status_code == 200, edited.text
        assert await found("refunds") == [in_body]
        assert await found("returns") == [in_title]

    async def test_ranks_a_query_as_the_engine_ranks_its_words_together(
        self, client, cast, runtime
    ):
        """The per-word scores summed (knowledge.lexical) give the order the engine's own OR
        query gives (FTS5's bm25; PostgreSQL's ts_rank), and a word's scores are kept."""
        from sqlalchemy import text

        words = ["parcel", "refund", "label", "courier"]
        for n in range(8):
            title = " ".join(words[(n + k) % 4] for k in range(1 + n % 3))
            body = " ".join(words[(n * k) % 4] for k in range(2, 5 + n)) + f" filler{n}"
            await create(client, cast, SHIPPING, title=title, body=body, questions=[])
        postgres = runtime.db.is_postgres
        for query in (["parcel", "refund"], ["label", "courier", "parcel"], ["courier"]):
            async with runtime.db.session() as session:
                idx = await knowledge_index.current(session)
                ours = await search.full_text(session, idx, query, statuses=["published"], limit=50)
                assert all(idx.words.get(word) is not None for word in query)
                if postgres:
                    sql = (
                        "SELECT id, ts_rank(search_document, to_tsquery('simple', :q))"
                        " FROM kb_translations WHERE search_document @@ to_tsquery('simple', :q)"
                    )
                    q = " | ".join(f"'{w}'" for w in query)
                else:
                    sql = "SELECT rowid, -rank FROM kb_fts WHERE kb_fts MATCH :q"
                    q = " OR ".join(f'"{w}"' for w in query)
                engine = {int(i): float(v) for i, v in await session.execute(text(sql), {"q": q})}
            ranked = [hit.translation_id for hit in ours]
            assert sorted(ranked) == sorted(engine)
            # Best first by the engine's own score of the whole query (PostgreSQL's is in
            # single precision: equal within its rounding).
            got = [engine[i] for i in ranked]
            assert all(a >= b - 1e-6 for a, b in itertools.pairwise(got)), got
            if not postgres:
                assert ranked == sorted(engine, key=lambda i: (-engine[i], i))

    async def test_another_form_of_an_arabic_word_is_found_by_its_light_stem(
        self, client, cast, runtime
    ):
        libraries = await create(
            client, cast, BOOK, language="ar", title="المكتبات العامة", body="ساعات العمل."
        )
        async with runtime.db.session() as session:
            idx = await knowledge_index.current(session)
            # "library" (with ta marbuta) finds "the libraries": both are stemmed to one word.
            hits = await search.full_text(
                session, idx, search_tokens("مكتبة"), statuses=["published"], limit=10
            )
        assert [hit.article_id for hit in hits] == [libraries]

    async def test_the_first_search_of_an_index_scores_its_commonest_words(
        self, client, cast, runtime, monkeypatch
    ):
        monkeypatch.setattr(search, "WARM_SHARE", 0.5)
        for n in range(4):
            await create(client, cast, SHIPPING, title=f"Parcel label {n}", questions=[])
        await create(client, cast, PASSWORD)
        async with runtime.db.session() as session:
            idx = await knowledge_index.current(session)
            assert idx.words.get("parcel") is None
            await search.full_text(session, idx, ["reset"], statuses=["published"], limit=10)
        # In four of the eight titles and questions: scored before any query asked for it.
        assert idx.words.get("parcel") is not None
        assert idx.words.get("label") is not None
        assert idx.words.get("reset") is not None  # asked for
        assert idx.words.get("your") is None  # in one of eight: only when asked


class TestSnippet:
    def test_starts_near_a_word_of_the_query_or_another_form_of_it(self):
        filler = " ".join(f"w{n}" for n in range(40))
        text = f"{filler} تفتح المكتبات العامة يوميا {filler}"
        # "library" matches "the libraries" by their light stem, as the full text did.
        assert "المكتبات" in search.snippet(text, search_tokens("مكتبة"))
        assert search.snippet(text, search_tokens("nothing")).startswith("w0 w1")


class TestHeadScores:
    def test_ranks_the_shortlist_by_the_combined_score_as_defined(self):
        # The array version of the head's ranking against its definition: among the head's
        # and the nearest entries' best SHORTLIST articles, 0.25 x probability + 0.75 x
        # nearest-question score (nearest entry and centroid), best first, ties to the lower id.
        rng = np.random.default_rng(13)
        translations = [
            (a, a, "en", "published", f"title {a}", to_blob(unit(rng))) for a in range(1, 31)
        ]
        questions = [
            (a, "en", "published", f"question {a} {k}", to_blob(unit(rng)))
            for a in range(1, 31)
            for k in range(3)
        ]
        idx = knowledge_index.KnowledgeIndex.build("s", Unit(), translations, questions)
        x, articles, texts = idx.training_rows()
        head = intents.train(x, articles, fingerprint=idx.fingerprint, floor=0.5, texts=texts)
        idx.adopt(head)
        assert idx.head is not None and search.SHORTLIST < 30
        for _ in range(30):
            query = unit(rng)
            got, rejected = search._head_scores(idx, idx.head, query, "question 7", 3)
            probabilities = idx.head.probabilities(query, ["question 7"])[0]
            sims = idx.similarities(query)
            centroids = idx.centroid_similarities(query)
            near = {}
            for a in range(1, 31):
                mine = [p for p, e in enumerate(idx.entries) if e.article_id == a]
                nearest = max(float(sims[p]) for p in mine)
                near[a] = (nearest + float(centroids[idx.centroid_position[a]])) / 2
            by_head = sorted(range(1, 31), key=lambda a: -probabilities[a - 1])[:10]
            by_near = sorted(range(1, 31), key=lambda a: (-near[a], a))[:10]
            combined = {
                a: float(intents.combine(probabilities[a - 1], near[a]))
                for a in set(by_head) | set(by_near)
            }
            ranked = sorted(combined, key=lambda a: (-combined[a], a))[:3]
            assert list(got) == ranked and not rejected  # no questions no article answers
            for a in ranked:
                assert abs(got[a][0] - idx.head.confidence(combined[a])) < 1e-5
                assert got[a][1] == "en"


class Wide(Unit):
    floor = -1.0  # most entries above the vector floor, some below


class TestNearestEntries:
    def test_the_most_similar_entry_of_each_article_with_a_status_asked_for(self):
        # The array version against its definition: entries by similarity, none below the
        # vector floor, only the statuses asked for, one per article, at most `depth`.
        rng = np.random.default_rng(14)
        statuses = ("published", "internal", "published", "draft")
        translations = [
            (a, a, "en" if a % 2 else "ar", statuses[a % 4], f"t {a}", to_blob(unit(rng)))
            for a in range(1, 41)
        ]
        questions = [
            (a, "fa", statuses[a % 4], f"q {a} {k}", to_blob(unit(rng)))
            for a in range(1, 41)
            for k in range(4)
        ]
        idx = knowledge_index.KnowledgeIndex.build("s", Wide(), translations, questions)
        found = 0
        for asked in (("published",), ("published", "internal")):
            for depth in (1, 3, 5):
                near = idx.vectors[:, int(rng.integers(idx.vectors.shape[1]))]
                query = near + 0.3 * unit(rng)
                query /= np.linalg.norm(query)
                sims = idx.similarities(query)
                expected: dict[int, str] = {}
                for position in np.argsort(-sims, kind="stable")[: depth * 8]:
                    entry = idx.entries[int(position)]
                    if sims[position] < search.VECTOR_FLOOR:
                        break
                    if entry.status in asked:
                        expected.setdefault(entry.article_id, entry.language)
                        if len(expected) >= depth:
                            break
                assert search._nearest(idx, query, asked, depth) == list(expected.items())
                found += len(expected)
        assert found >= 12  # several articles per query above the floor

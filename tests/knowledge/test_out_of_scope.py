"""Questions no article answers: admins mark them (API, desktop, content gaps), the intent
head learns them as its "none of these" output and the bot refuses questions like them;
marked questions leave the content-gaps report. A head without them is the head as before."""

from __future__ import annotations

import numpy as np
from sqlalchemy import select

from frontdesk.kit import uow
from frontdesk.knowledge import index as knowledge_index
from frontdesk.knowledge import intents, search, service
from frontdesk.knowledge.models import IntentModel, OutOfScopeQuestion
from frontdesk.knowledge.schemas import OutOfScopeCreate
from tests.conftest import run_jobs
from tests.knowledge.test_intents import OPENING, REFUND, add, centres, clusters, dense, scores
from tests.knowledge.test_search import PASSWORD, SHIPPING

__all__ = ["dense"]  # the fixture, used by name

PARKING = [
    "can you refund my parking ticket",
    "who pays back a parking fine",
    "parking ticket appeal",
    "is the car park open at night",
    "where can I park my car",
    "how much is parking",
]


class TestHead:
    def test_learns_to_refuse_questions_like_the_rejected_ones(self):
        # Unknown questions close to known articles: the head without examples of them
        # answers nearly all; with some of them as "none of these", it refuses most and
        # still answers the known questions.
        rng = np.random.default_rng(21)
        known = centres(rng, 8)
        near = known[:4] + 0.6 * centres(rng, 4)
        near /= np.linalg.norm(near, axis=1, keepdims=True)
        x, y = clusters(rng, known, 25)
        rejected, _ = clusters(rng, near, 15)
        plain = intents.train(x, y.tolist(), fingerprint="f", floor=0.0)
        head = intents.train(x, y.tolist(), fingerprint="g", floor=0.0, rejects=rejected)
        assert plain is not None and head is not None
        assert head.rejects and not plain.rejects
        assert head.probabilities(x).shape == (len(x), 8)  # the articles' outputs only
        fresh, truth = clusters(rng, known, 10)
        unknown, _ = clusters(rng, near, 10)

        def refused(h: intents.IntentHead) -> float:
            top = scores(h, unknown, x, y).max(axis=1)
            if h.rejects:
                outputs = h.outputs(unknown)
                top = intents.refused(
                    top, intents.reject_scores(outputs[:, -1], unknown, rejected, 0.0)
                )
            return float(np.mean(top < h.threshold))

        assert refused(plain) <= 0.1
        assert refused(head) >= 0.9
        known_scores = scores(head, fresh, x, y)
        answered = known_scores.max(axis=1) >= head.threshold
        assert np.mean(answered & (known_scores.argmax(axis=1) == truth)) >= 0.95

    def test_without_rejected_questions_the_head_and_fingerprint_are_as_before(self):
        rng = np.random.default_rng(5)
        x, y = clusters(rng, centres(rng, 6), 20)
        one = intents.train(x, y.tolist(), fingerprint="f", floor=0.0)
        two = intents.train(x, y.tolist(), fingerprint="f", floor=0.0, rejects=x[:0])
        assert one is not None and two is not None
        assert one.to_bytes() == two.to_bytes()
        examples = [(1, "a"), (2, "b")]
        assert intents.fingerprint("e", examples) == intents.fingerprint("e", examples, [])
        assert intents.fingerprint("e", examples) != intents.fingerprint("e", examples, ["c"])

    def test_a_stored_head_keeps_its_rejected_output(self):
        rng = np.random.default_rng(6)
        x, y = clusters(rng, centres(rng, 5), 10)
        head = intents.train(x, y.tolist(), fingerprint="f", floor=0.0, rejects=x[:3] * -1)
        assert head is not None
        again = intents.IntentHead.from_bytes("f", head.to_bytes())
        assert again.rejects
        assert np.allclose(again.outputs(x[:4]), head.outputs(x[:4]))


async def mark(runtime, questions: list[str], language: str = "en") -> None:  # type: ignore[no-untyped-def]
    async with runtime.db.session() as session:
        await service.add_out_of_scope(
            session, OutOfScopeCreate(language=language, questions=questions), author=None
        )
        await uow.commit(session)


class TestBot:
    async def test_a_marked_question_retrains_the_head_and_is_refused(self, runtime, cast, dense):
        await add(runtime, PASSWORD, SHIPPING, REFUND, OPENING)
        await run_jobs(runtime)
        asked = "refund for my parking ticket"
        async with runtime.db.session() as session:
            before = await search.answer(session, asked, language="en", embedder=dense)
        assert before.answer is not None  # the nearest article ("Refunds") answers
        await mark(runtime, PARKING)
        async with runtime.db.session() as session:
            # Until the train job has run, the stored head no longer fits the examples.
            assert (await knowledge_index.current(session, dense)).head is None
        await run_jobs(runtime)
        async with runtime.db.session() as session:
            idx = await knowledge_index.current(session, dense)
            assert idx.head is not None and idx.head.rejects and len(idx.rejects) == 6
            model = await session.scalar(select(IntentModel))
            assert model is not None and model.examples == 11  # the articles' questions
            after = await search.answer(session, asked, language="en", embedder=dense)
            assert after.answer is None and after.candidates  # refused, candidates kept
            for text in ("I forgot my password", "give me my money back", "when do you open"):
                kept = await search.answer(session, text, language="en", embedder=dense)
                assert kept.answer is not None, text

    async def test_forgetting_them_retrains_the_head_without_its_rejected_output(
        self, runtime, cast, dense
    ):
        await add(runtime, PASSWORD, SHIPPING, REFUND, OPENING)
        await mark(runtime, PARKING[:2])
        await run_jobs(runtime)
        async with runtime.db.session() as session:
            assert (await knowledge_index.current(session, dense)).head.rejects  # type: ignore[union-attr]
            for row in await service.list_out_of_scope(session):
                await service.delete_out_of_scope(session, row.id)
            await uow.commit(session)
        await run_jobs(runtime)
        async with runtime.db.session() as session:
            head = (await knowledge_index.current(session, dense)).head
        assert head is not None and not head.rejects


class TestApi:
    async def test_admins_mark_list_and_forget(self, client, cast, runtime):
        questions = ["Do you sell cars?", "do you  sell CARS", "Weather?"]
        added = await client.post(
            "/api/v1/kb/out-of-scope",
            json={"language": "en", "questions": questions},
            headers=cast.ada.headers,
        )
        assert added.status_code == 201, added.text
        items = added.json()["items"]
        assert [i["text"] for i in items] == ["Do you sell cars?", "Weather?"]  # one per key
        again = await client.post(
            "/api/v1/kb/out-of-scope",
            json={"language": "en", "questions": ["Do you sell cars"]},
            headers=cast.ada.headers,
        )
        assert again.status_code == 201
        assert again.json()["items"][0]["id"] == items[0]["id"]  # the stored one
        arabic = await client.post(
            "/api/v1/kb/out-of-scope",
            json={"language": "ar", "questions": ["هل تبيعون السيارات؟"]},
            headers=cast.ada.headers,
        )
        assert arabic.status_code == 201
        listed = await client.get("/api/v1/kb/out-of-scope", headers=cast.ada.headers)
        assert [i["language"] for i in listed.json()["items"]] == ["en", "en", "ar"]
        only = await client.get(
            "/api/v1/kb/out-of-scope", params={"language": "ar"}, headers=cast.ada.headers
        )
        assert [i["text"] for i in only.json()["items"]] == ["هل تبيعون السيارات؟"]
        gone = await client.delete(
            f"/api/v1/kb/out-of-scope/{items[0]['id']}", headers=cast.ada.headers
        )
        assert gone.status_code == 204
        missing = await client.delete(
            f"/api/v1/kb/out-of-scope/{items[0]['id']}", headers=cast.ada.headers
        )
        assert missing.status_code == 404
        async with runtime.db.session() as session:
            assert len((await session.scalars(select(OutOfScopeQuestion))).all()) == 2

    async def test_only_admins(self, client, cast):
        body = {"language": "en", "questions": ["Do you sell cars?"]}
        headers = cast.alice.headers
        assert (
            await client.post("/api/v1/kb/out-of-scope", json=body, headers=headers)
        ).status_code == 403
        assert (await client.get("/api/v1/kb/out-of-scope", headers=headers)).status_code == 403
        assert (
            await client.delete("/api/v1/kb/out-of-scope/1", headers=headers)
        ).status_code == 403

    async def test_refuses_what_is_no_question(self, client, cast):
        for body in (
            {"language": "en", "questions": []},
            {"language": "not a tag", "questions": ["x"]},
            {"language": "en", "questions": ["x" * 501]},
        ):
            response = await client.post(
                "/api/v1/kb/out-of-scope", json=body, headers=cast.ada.headers
            )
            assert response.status_code == 422, body


class TestGaps:
    async def test_a_marked_question_leaves_the_report(self, runtime, cast):
        async with runtime.db.session() as session:
            for text in ("Do you repair harpsichords?", "Do you sell gift cards?"):
                await service.record_miss(session, text, language="en", source="bot")
            await uow.commit(session)
        await mark(runtime, ["do you repair HARPSICHORDS"])
        async with runtime.db.session() as session:
            report = await service.gap_report(session, since=None, language=None)
        assert [c.text for c in report.items] == ["Do you sell gift cards?"]

    async def test_vectors_of_a_model_are_computed_by_the_embed_job(self, runtime, cast):
        from tests.knowledge.test_embedding import Deferred

        deferred = Deferred()
        async with runtime.db.session() as session:
            await service.add_out_of_scope(
                session, OutOfScopeCreate(language="en", questions=["Weather?"]), author=None,
                embedder=deferred,
            )  # fmt: skip
            await uow.commit(session)
        async with runtime.db.session() as session:
            [row] = (await session.scalars(select(OutOfScopeQuestion))).all()
            assert row.vector == service.PENDING
            assert await service.embed_pending(session, embedder=deferred) == 1
            await uow.commit(session)
        async with runtime.db.session() as session:
            [row] = (await session.scalars(select(OutOfScopeQuestion))).all()
            assert len(row.vector) == deferred.dim * 4

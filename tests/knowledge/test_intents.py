"""The intent head: what it learns from example questions, the out-of-scope threshold it
learns by leaving articles out, and the train job that keeps it in step with the articles
(with a stand-in dense embedder: the hashing embedder's vectors presented as a model's)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from sqlalchemy import func, select

from frontdesk.kit import uow
from frontdesk.kit.jobs import Job
from frontdesk.knowledge import index as knowledge_index
from frontdesk.knowledge import intents, search, service
from frontdesk.knowledge.embedding import DEFAULT_EMBEDDER, HASHING, Kind
from frontdesk.knowledge.models import IntentModel
from frontdesk.knowledge.schemas import ArticleCreate, ArticleUpdate
from frontdesk.runtime import Runtime
from tests.conftest import run_jobs
from tests.knowledge.test_search import PASSWORD, SHIPPING

REFUND = {
    "language": "en",
    "title": "Refunds",
    "body": "Refunds reach your card within five days.",
    "status": "published",
    "questions": ["I want my money back", "refund my order please", "where is my refund"],
}
OPENING = {
    "language": "en",
    "title": "Opening hours",
    "body": "The shop opens at nine and closes at six.",
    "status": "published",
    "questions": ["when do you open", "what are your opening hours", "are you open on sunday"],
}


class Dense:
    """Hashed vectors without the index's idf weighting: dense enough to train a head on."""

    name, dim, reweight, inline, floor = "dense-test", HASHING.dim, False, True, 0.0

    def embed(self, texts: list[str], *, kind: Kind = "query") -> np.ndarray:
        return HASHING.embed(texts, kind=kind)


@pytest.fixture
def dense() -> Iterator[Dense]:
    chosen = Dense()
    DEFAULT_EMBEDDER.choose(chosen)
    try:
        yield chosen
    finally:
        DEFAULT_EMBEDDER.choose(None)


def clusters(
    rng: np.random.Generator, centres: np.ndarray, per: int, noise: float = 0.12
) -> tuple[np.ndarray, np.ndarray]:
    """`per` unit vectors around each centre, and their classes."""
    rows = np.repeat(centres, per, axis=0) + noise * rng.standard_normal((len(centres) * per, 32))
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    return rows.astype(np.float32), np.repeat(np.arange(len(centres)), per)


def centres(rng: np.random.Generator, n: int) -> np.ndarray:
    c = rng.standard_normal((n, 32))
    return c / np.linalg.norm(c, axis=1, keepdims=True)


def scores(head: intents.IntentHead, x: np.ndarray, examples: np.ndarray, y: np.ndarray):
    """The combined score of every class, as the answer decision computes it."""
    nearest = intents.nearest_scores(x, examples, y, len(head.articles), 0.0)
    return intents.combine(head.probabilities(x), nearest)


class TestTrain:
    def test_learns_which_article_a_new_wording_belongs_to(self):
        rng = np.random.default_rng(1)
        known = centres(rng, 6)
        x, y = clusters(rng, known, 20)
        head = intents.train(x, (y + 100).tolist(), fingerprint="f", floor=0.0)
        assert head is not None
        assert head.articles.tolist() == [100, 101, 102, 103, 104, 105]
        fresh, truth = clusters(rng, known, 10)
        assert np.mean(head.probabilities(fresh).argmax(axis=1) == truth) >= 0.95

    def test_learns_a_threshold_that_sets_unknown_questions_apart(self):
        rng = np.random.default_rng(2)
        every = centres(rng, 12)
        x, y = clusters(rng, every[:8], 25)
        head = intents.train(x, y.tolist(), fingerprint="f", floor=0.0)
        assert head is not None and 0.0 < head.threshold < 1.0
        fresh, truth = clusters(rng, every[:8], 10)
        unknown, _ = clusters(rng, every[8:], 10)
        known_scores = scores(head, fresh, x, y)
        unknown_scores = scores(head, unknown, x, y).max(axis=1)
        answered = known_scores.max(axis=1) >= head.threshold
        assert np.mean(answered & (known_scores.argmax(axis=1) == truth)) >= 0.9
        assert np.mean(unknown_scores < head.threshold) >= 0.8

    def test_refuses_few_known_questions_when_the_articles_are_alike(self):
        # Articles close to each other: a left-out one looks known, and the threshold best
        # against those would refuse many known questions; at most about 1 % are refused.
        rng = np.random.default_rng(9)
        base = centres(rng, 1)
        near = base + 0.35 * centres(rng, 10)
        x, y = clusters(rng, near / np.linalg.norm(near, axis=1, keepdims=True), 40, 0.1)
        head = intents.train(x, y.tolist(), fingerprint="f", floor=0.0)
        assert head is not None
        fresh, truth = clusters(rng, near / np.linalg.norm(near, axis=1, keepdims=True), 30, 0.1)
        known = scores(head, fresh, x, y)
        right = known.argmax(axis=1) == truth
        assert np.mean(known.max(axis=1)[right] >= head.threshold) >= 0.93  # 0.89 uncapped

    def test_nothing_to_learn_from_fewer_than_three_articles(self):
        rng = np.random.default_rng(3)
        x, y = clusters(rng, centres(rng, 2), 10)
        assert intents.train(x, y.tolist(), fingerprint="f", floor=0.0) is None

    def test_the_same_examples_give_the_same_head(self):
        rng = np.random.default_rng(4)
        x, y = clusters(rng, centres(rng, 5), 12)
        first = intents.train(x, y.tolist(), fingerprint="f", floor=0.0)
        second = intents.train(x, y.tolist(), fingerprint="f", floor=0.0)
        assert first is not None and second is not None
        assert first.threshold == second.threshold
        assert np.array_equal(first.weights, second.weights)

    def test_a_stored_head_answers_as_the_trained_one(self):
        rng = np.random.default_rng(5)
        x, y = clusters(rng, centres(rng, 4), 10)
        head = intents.train(x, (y * 7).tolist(), fingerprint="abc", floor=0.0)
        assert head is not None
        loaded = intents.IntentHead.from_bytes("abc", head.to_bytes())
        assert loaded.threshold == head.threshold and loaded.position == {0: 0, 7: 1, 14: 2, 21: 3}
        assert np.allclose(loaded.probabilities(x), head.probabilities(x))


def near_duplicates(rng: np.random.Generator) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Questions of four articles where two share one vector cluster and differ only in a
    word (arrived / working), as a sentence vector blurs them; texts and classes."""
    known = centres(rng, 3)
    subjects = ["my card", "the new card", "card", "my debit card", "the card you sent"]
    texts, classes = [], []
    for subject in subjects:
        for template in (
            "{s} has not arrived yet",
            "{s} still not arrived",
            "why has {s} not arrived",
        ):
            texts.append(template.format(s=subject))
            classes.append(0)
        for template in ("{s} is not working", "{s} stopped working", "why is {s} not working"):
            texts.append(template.format(s=subject))
            classes.append(1)
    for k, words in ((2, "opening hours today"), (3, "refund my order")):
        for n in range(15):
            texts.append(f"{words} {n}")
            classes.append(k)
    y = np.array(classes)
    x, _ = clusters(rng, known[np.maximum(y - 1, 0)], 1)
    return x, texts, y


class TestLetterGroups:
    def test_tell_apart_wordings_that_the_vectors_confuse(self):
        rng = np.random.default_rng(7)
        x, texts, y = near_duplicates(rng)
        with_grams = intents.train(x, y.tolist(), fingerprint="f", floor=0.0, texts=texts)
        vectors_only = intents.train(x, y.tolist(), fingerprint="f", floor=0.0)
        assert with_grams is not None and vectors_only is not None
        fresh = ["my replacement card has not arrived", "my replacement card is not working"]
        # One vector for both (a sentence vector that blurs them): only the words differ.
        query, _ = clusters(rng, centres(np.random.default_rng(7), 3)[:1], 1)
        queries = np.repeat(query, 2, axis=0)
        assert with_grams.probabilities(queries, fresh).argmax(axis=1).tolist() == [0, 1]
        assert vectors_only.probabilities(queries).argmax(axis=1).tolist() != [0, 1]

    def test_a_head_with_letter_groups_needs_the_texts_and_keeps_them_when_stored(self):
        rng = np.random.default_rng(8)
        x, texts, y = near_duplicates(rng)
        head = intents.train(x, y.tolist(), fingerprint="g", floor=0.0, texts=texts)
        assert head is not None and head.idf.shape == (intents.GRAM_DIM,)
        with pytest.raises(ValueError):
            head.probabilities(x)
        loaded = intents.IntentHead.from_bytes("g", head.to_bytes())
        assert np.allclose(loaded.probabilities(x, texts), head.probabilities(x, texts))

    def test_another_version_of_the_head_has_another_fingerprint(self, monkeypatch):
        examples = [(1, "where is my card")]
        before = intents.fingerprint("e5", examples)
        monkeypatch.setattr(intents, "VERSION", "next")
        assert intents.fingerprint("e5", examples) != before


class TestThreshold:
    def test_falls_between_answered_and_unknown_questions(self):
        in_scope = np.linspace(0.7, 0.9, 50)
        out_of_scope = np.linspace(0.1, 0.3, 50)
        t = intents.best_threshold(in_scope, np.ones(50, dtype=bool), out_of_scope)
        assert 0.3 < t <= 0.7

    def test_an_in_scope_question_answered_wrongly_is_still_not_out_of_scope(self):
        # Refusing it would not make it right, and would be a false out-of-scope: the
        # threshold stays below it (as CLINC150's scoring counts).
        in_scope = np.r_[np.full(40, 0.9), np.full(10, 0.6)]
        right = np.r_[np.ones(40, dtype=bool), np.zeros(10, dtype=bool)]
        t = intents.best_threshold(in_scope, right, np.full(20, 0.2))
        assert 0.2 < t <= 0.6

    def test_the_confidence_puts_the_threshold_at_the_decision(self):
        rng = np.random.default_rng(6)
        x, y = clusters(rng, centres(rng, 4), 10)
        head = intents.train(x, y.tolist(), fingerprint="f", floor=0.0)
        assert head is not None
        assert head.confidence(head.threshold) == pytest.approx(intents.DECISION)
        assert head.confidence(0.0) == 0.0 and head.confidence(1.0) == pytest.approx(1.0)
        values = [head.confidence(v) for v in np.linspace(0, 1, 21)]
        assert values == sorted(values)


async def add(runtime: Runtime, *articles: dict) -> list[int]:
    async with runtime.db.session() as session:
        created = [
            await service.create_article(session, ArticleCreate(**a), author=None) for a in articles
        ]
        await uow.commit(session)
    return [a.id for a in created]


async def stored(runtime: Runtime) -> list[IntentModel]:
    async with runtime.db.session() as session:
        return list(await session.scalars(select(IntentModel)))


class TestTrainJob:
    async def test_a_save_trains_a_head_that_the_answer_uses(self, runtime, cast, dense):
        password, shipping, refund, _ = await add(runtime, PASSWORD, SHIPPING, REFUND, OPENING)
        async with runtime.db.session() as session:
            assert (await knowledge_index.current(session, dense)).head is None
        await run_jobs(runtime)
        [model] = await stored(runtime)
        assert (model.embedder, model.articles, model.examples) == ("dense-test", 4, 11)
        async with runtime.db.session() as session:
            assert (await knowledge_index.current(session, dense)).head is not None
            assert await search.answer_threshold(session, dense) == intents.DECISION
            for text, article in (
                ("I forgot my password", password),
                ("how long does delivery take", shipping),
                ("give me my money back", refund),
            ):
                result = await search.answer(session, text, language="en", embedder=dense)
                assert result.answer is not None, text
                assert result.answer.article_id == article, text
                assert result.answer.confidence >= intents.DECISION

    async def test_an_unknown_question_is_not_answered(self, runtime, cast, dense):
        await add(runtime, PASSWORD, SHIPPING, REFUND, OPENING)
        await run_jobs(runtime)
        async with runtime.db.session() as session:
            result = await search.answer(
                session, "quantum chromodynamics lecture notes", language="en", embedder=dense
            )
        assert result.answer is None
        assert result.candidates and result.candidates[0].confidence < intents.DECISION

    async def test_changed_questions_retire_the_head_until_it_is_retrained(
        self, runtime, cast, dense
    ):
        password, *_ = await add(runtime, PASSWORD, SHIPPING, REFUND, OPENING)
        await run_jobs(runtime)
        [before] = await stored(runtime)
        async with runtime.db.session() as session:
            article = await service.get_or_raise(session, password, statuses=service.STAFF)
            await service.update_article(
                session, article, ArticleUpdate(questions=["lost my login"]), author=None
            )
            await uow.commit(session)
        async with runtime.db.session() as session:
            assert (await knowledge_index.current(session, dense)).head is None
        await run_jobs(runtime)
        [after] = await stored(runtime)
        assert after.fingerprint != before.fingerprint and after.examples == 9
        async with runtime.db.session() as session:
            assert (await knowledge_index.current(session, dense)).head is not None
            result = await search.answer(session, "lost my login", language="en", embedder=dense)
        assert result.answer is not None and result.answer.article_id == password

    async def test_nothing_is_retrained_when_the_examples_did_not_change(
        self, runtime, cast, dense
    ):
        await add(runtime, PASSWORD, SHIPPING, REFUND, OPENING)
        await run_jobs(runtime)
        [first] = await stored(runtime)
        async with runtime.db.session() as session:
            head = await service.train_intents(session, embedder=dense)
            await uow.commit(session)
        [second] = await stored(runtime)
        assert head is not None and head.fingerprint == first.fingerprint
        assert second.trained_at == first.trained_at

    async def test_one_train_job_per_transaction(self, runtime, cast, dense):
        await add(runtime, PASSWORD, SHIPPING, REFUND, OPENING)
        async with runtime.db.session() as session:
            count = await session.scalar(
                select(func.count()).select_from(Job).where(Job.kind == service.TRAIN_JOB)
            )
        assert count == 1

    async def test_hashed_vectors_keep_nearest_question_scoring(self, runtime, cast):
        DEFAULT_EMBEDDER.choose(HASHING)
        try:
            await add(runtime, PASSWORD, SHIPPING, REFUND, OPENING)
            await run_jobs(runtime)
            async with runtime.db.session() as session:
                assert (await knowledge_index.current(session, HASHING)).head is None
        finally:
            DEFAULT_EMBEDDER.choose(None)
        assert await stored(runtime) == []

    async def test_too_few_articles_train_nothing(self, runtime, cast, dense):
        await add(runtime, PASSWORD, SHIPPING)
        await run_jobs(runtime)
        assert await stored(runtime) == []
        async with runtime.db.session() as session:
            result = await search.answer(
                session, "I forgot my password", language="en", embedder=dense
            )
        assert result.answer is not None  # the nearest-question scoring answers alone


class TestSparseLetterGroups:
    def test_a_questions_probabilities_are_those_of_its_full_feature_row(self):
        # The answer reads only the rows of the weights its letter groups use: the same
        # probabilities as the full product over all GRAM_DIM features.
        rng = np.random.default_rng(12)
        x, texts, y = near_duplicates(rng)
        head = intents.train(x, y.tolist(), fingerprint="s", floor=0.0, texts=texts)
        assert head is not None
        asked = ["my replacement card has not arrived", "opening hours 3", "", "zzz qqq"]
        vectors = np.repeat(x[:1], len(asked), axis=0)
        grams = intents.gram_features(asked, head.idf)
        full = np.hstack([(vectors - head.mean) / head.scale, grams])
        expected = intents._softmax((full @ head.weights + head.biases).astype(np.float32))
        assert np.allclose(head.probabilities(vectors, asked), expected, atol=1e-6)

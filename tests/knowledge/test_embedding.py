"""Choosing the embedder, and the embed job that computes a slow embedder's vectors after the
commit (with a stand-in that is the hashing embedder run as a job: the model's own tests are
tests/knowledge/test_model.py)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from sqlalchemy import select

from frontdesk.kit import uow
from frontdesk.kit.jobs import Job
from frontdesk.knowledge import embedding, search, service
from frontdesk.knowledge.embedding import DEFAULT_EMBEDDER, HASHING, Kind, make_embedder
from frontdesk.knowledge.models import Question, Translation
from frontdesk.knowledge.schemas import ArticleCreate, TranslationWrite
from frontdesk.runtime import Runtime
from tests.conftest import run_jobs
from tests.knowledge.test_search import PASSWORD, SHIPPING


class Deferred:
    """The hashing embedder's vectors, computed as a model's are: by the job."""

    name, dim, reweight, inline, floor = "deferred", HASHING.dim, True, False, 0.0

    def __init__(self) -> None:
        self.calls: list[tuple[int, Kind]] = []

    def embed(self, texts: list[str], *, kind: Kind = "query") -> np.ndarray:
        self.calls.append((len(texts), kind))
        return HASHING.embed(texts, kind=kind)[:, : self.dim]


@pytest.fixture
def deferred() -> Iterator[Deferred]:
    chosen = Deferred()
    DEFAULT_EMBEDDER.choose(chosen)
    try:
        yield chosen
    finally:
        DEFAULT_EMBEDDER.choose(None)


async def stored_vectors(runtime: Runtime) -> list[bytes]:
    async with runtime.db.session() as session:
        rows = await session.scalars(select(Translation.vector))
        questions = await session.scalars(select(Question.vector))
        return [*rows, *questions]


class TestChoice:
    def test_hashing_and_auto(self, monkeypatch):
        assert make_embedder("hashing") is HASHING
        monkeypatch.setattr(embedding.ModelEmbedder, "available", staticmethod(lambda: False))
        assert make_embedder("auto") is HASHING

    def test_model_without_the_wheel_refuses_to_start(self, monkeypatch):
        monkeypatch.setattr(embedding.ModelEmbedder, "available", staticmethod(lambda: False))
        with pytest.raises(RuntimeError, match=r"requirements/model\.txt"):
            make_embedder("model")

    def test_an_unknown_choice_is_named(self):
        with pytest.raises(ValueError, match="FRONTDESK_KB_EMBEDDER"):
            make_embedder("word2vec")  # type: ignore[arg-type]

    def test_the_configured_embedder_follows_the_environment(self, monkeypatch):
        monkeypatch.setenv("FRONTDESK_KB_EMBEDDER", "hashing")
        DEFAULT_EMBEDDER.choose(None)
        assert DEFAULT_EMBEDDER.name == "hashing-v1" and DEFAULT_EMBEDDER.inline


class TestEmbedJob:
    async def test_a_save_stores_pending_vectors_and_the_job_fills_them(
        self, runtime, cast, deferred
    ):
        async with runtime.db.session() as session:
            article = await service.create_article(session, ArticleCreate(**PASSWORD), author=None)
            await uow.commit(session)
        assert deferred.calls == []  # nothing embedded inside the request
        assert set(await stored_vectors(runtime)) == {service.PENDING}
        async with runtime.db.session() as session:  # full text finds it meanwhile
            hits = await search.search(
                session, "password", language=None, statuses=service.STAFF, limit=5
            )
            assert [h.article_id for h in hits] == [article.id]
        await run_jobs(runtime)
        async with runtime.db.session() as session:  # one embed run (and the train job)
            kinds = list(await session.scalars(select(Job.kind).order_by(Job.id)))
        assert kinds.count(service.EMBED_JOB) == 1
        vectors = await stored_vectors(runtime)
        assert len(vectors) == 4 and all(len(v) == HASHING.dim * 4 for v in vectors)
        # The job: the title and opening as a passage, the three examples as questions.
        assert (1, "passage") in deferred.calls and (3, "query") in deferred.calls

    async def test_the_job_reaches_the_answer_decision(self, runtime, cast, deferred):
        async with runtime.db.session() as session:
            password = await service.create_article(session, ArticleCreate(**PASSWORD), author=None)
            await service.create_article(session, ArticleCreate(**SHIPPING), author=None)
            await uow.commit(session)
        async with runtime.db.session() as session:
            before = await search.answer(session, "I forgot my pasword", language="en")
        assert before.answer is None
        await run_jobs(runtime)
        async with runtime.db.session() as session:
            result = await search.answer(session, "I forgot my pasword", language="en")
        assert result.answer is not None and result.answer.article_id == password.id

    async def test_a_text_saved_again_while_its_vector_was_computed_stays_pending(
        self, runtime, cast, deferred
    ):
        async with runtime.db.session() as session:
            article = await service.create_article(session, ArticleCreate(**PASSWORD), author=None)
            await uow.commit(session)
        async with runtime.db.session() as session:
            seen = await service.repository.pending_translations(
                session, vector_bytes=HASHING.dim * 4, limit=10
            )
        async with runtime.db.session() as session:  # saved again meanwhile
            fresh = await service.get_or_raise(session, article.id, statuses=service.STAFF)
            await service.write_translation(
                session,
                fresh,
                TranslationWrite(language="en", title="Reset a password", body="New text."),
                author=None,
            )
            await uow.commit(session)
        async with runtime.db.session() as session:  # the old computation lands late
            await service.repository.store_translation_vectors(
                session, [(row[0], row[3], b"\0" * HASHING.dim * 4) for row in seen]
            )
            await uow.commit(session)
            pending = await service.repository.pending_translations(
                session, vector_bytes=HASHING.dim * 4, limit=10
            )
        assert [row[1] for row in pending] == ["Reset a password"]

    async def test_vectors_of_another_embedder_are_recomputed(self, runtime, cast, deferred):
        DEFAULT_EMBEDDER.choose(HASHING)  # written inline, 1,024 dimensions
        async with runtime.db.session() as session:
            await service.create_article(session, ArticleCreate(**PASSWORD), author=None)
            await uow.commit(session)
        async with runtime.db.session() as session:
            small = Deferred()
            small.dim = 64
            assert await service.embed_pending(session, embedder=small) == 4
            await uow.commit(session)
        assert all(len(v) == 64 * 4 for v in await stored_vectors(runtime))

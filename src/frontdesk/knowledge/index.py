"""The per-process search index: every non-draft article's vectors (translations and example
questions) as numpy matrices, and a prefix index of titles and questions for autocomplete.
Rebuilt from the database when the knowledge base's stamp changes (any process's write)."""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.kit.text import search_key
from frontdesk.knowledge import intents, lexical, repository
from frontdesk.knowledge.completion import Completer, completion
from frontdesk.knowledge.embedding import DEFAULT_EMBEDDER, Embedder, from_blobs


@dataclass(frozen=True, slots=True)
class Entry:
    """A row of the index: a translation (kind "article") or an example question."""

    kind: str
    article_id: int
    language: str
    status: str
    text: str  # the title or the question, as written
    key: str  # its search key


@dataclass
class KnowledgeIndex:
    stamp: str
    embedder: Embedder
    entries: list[Entry] = field(default_factory=list)
    # Entry vectors, dimension by dimension (dim x entries) once built.
    vectors: np.ndarray = field(default_factory=lambda: np.zeros((0, 1), dtype=np.float32))
    # Autocomplete over the published entries.
    completer: Completer = field(default_factory=lambda: Completer([]))
    # Which languages each article exists in (any status but draft), and its titles.
    languages: dict[int, set[str]] = field(default_factory=dict)
    titles: dict[tuple[int, str], str] = field(default_factory=dict)
    # Per-dimension weights (inverse document frequency over the entries) when the embedder
    # asks for them, and each article's centroid: the mean of its weighted entry vectors.
    weights: np.ndarray | None = None
    centroid_position: dict[int, int] = field(default_factory=dict)
    centroids: np.ndarray = field(default_factory=lambda: np.zeros((0, 1), dtype=np.float32))
    # The intent head's training rows (positions in `entries`) and their fingerprint, and the
    # stored head when it was trained on exactly these (else None: nearest-question scoring).
    examples: list[int] = field(default_factory=list)
    # Positions of each published article's entries (its nearest-question score).
    positions: dict[int, np.ndarray] = field(default_factory=dict)
    fingerprint: str = ""
    head: intents.IntentHead | None = None
    # The published articles (ascending ids) and their entries' positions grouped by article
    # (`published_order`, each article's group starting at `published_starts`), with each
    # one's centroid row: every article's nearest-question score in a few array operations.
    published_articles: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    published_order: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    published_starts: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    published_centroids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    # Each entry's article and status as arrays (the search's nearest entries, filtered and
    # deduplicated without a loop over them).
    entry_articles: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    entry_statuses: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=str))
    # The head's outputs as rows of `published_articles`, and each row's output or -1 (set
    # with the head).
    head_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    head_output: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    # Questions no article answers (with their vectors computed): the head's "none of these"
    # examples. Neither searched nor suggested.
    rejects: np.ndarray = field(default_factory=lambda: np.zeros((0, 1), dtype=np.float32))
    reject_texts: list[str] = field(default_factory=list)
    # Full-text scores per word, fetched from the database on first use (knowledge.lexical):
    # they hold for this version of the knowledge base only, so they live and die with it.
    words: lexical.TermScores = field(default_factory=lexical.TermScores)
    # Every non-draft translation by id: (article id, language, status); the full text's
    # best matches are filtered here, without another query (search never shows drafts).
    translation_keys: dict[int, tuple[int, str, str]] = field(default_factory=dict)

    @classmethod
    def build(
        cls, stamp: str, embedder: Embedder, translations: list[tuple[Any, ...]],
        questions: list[tuple[Any, ...]], rejected: list[tuple[str, bytes]] | None = None,
    ) -> KnowledgeIndex:  # fmt: skip
        """`translations`: (id, article id, language, status, title, vector) of each
        non-draft; `questions`: (article id, language, status, text, vector)."""
        entries = [
            Entry("article", a, lang, status, title, search_key(title))
            for _, a, lang, status, title, _ in translations
        ]
        entries += [
            Entry("question", a, lang, status, q, search_key(q))
            for a, lang, status, q, _ in questions
        ]
        blobs = [row[5] for row in translations] + [row[4] for row in questions]
        index = cls(stamp, embedder, entries, from_blobs(blobs, embedder.dim))
        index.translation_keys = {
            int(t): (int(a), str(lang), str(status)) for t, a, lang, status, *_ in translations
        }
        index.entry_articles = np.array([e.article_id for e in entries], dtype=np.int64)
        index.entry_statuses = np.array([e.status for e in entries], dtype=str)
        for entry in entries:
            index.languages.setdefault(entry.article_id, set()).add(entry.language)
            if entry.kind == "article":
                index.titles[(entry.article_id, entry.language)] = entry.text
        index.completer = Completer(
            [
                completion(e.kind, e.article_id, e.language, e.text, e.key)
                for e in entries
                if e.status == "published"
            ]
        )
        index._weigh()
        # A question whose vector is still being computed waits for the embed job.
        ready = [(t, v) for t, v in rejected or [] if len(v) == embedder.dim * 4]
        index.reject_texts = [t for t, _ in ready]
        index.rejects = from_blobs([v for _, v in ready], embedder.dim)
        index._choose_examples()
        return index

    def _choose_examples(self) -> None:
        """The published example questions that have a vector, and the title of each published
        article that has none (so the head knows every article the bot may answer with)."""
        if not self.entries:
            return
        present = np.any(self.vectors != 0, axis=0)
        with_questions = {
            e.article_id for e in self.entries if e.kind == "question" and e.status == "published"
        }
        self.examples = [
            position
            for position, e in enumerate(self.entries)
            if e.status == "published"
            and present[position]
            and (e.kind == "question" or e.article_id not in with_questions)
        ]
        by_article: dict[int, list[int]] = {}
        for position, e in enumerate(self.entries):
            if e.status == "published":
                by_article.setdefault(e.article_id, []).append(position)
        self.positions = {a: np.array(p, dtype=np.int64) for a, p in by_article.items()}
        published = sorted(by_article)
        if published:
            lengths = np.array([len(by_article[a]) for a in published], dtype=np.int64)
            self.published_articles = np.array(published, dtype=np.int64)
            self.published_order = np.concatenate([self.positions[a] for a in published])
            self.published_starts = np.r_[0, np.cumsum(lengths)[:-1]].astype(np.int64)
            self.published_centroids = np.array(
                [self.centroid_position[a] for a in published], dtype=np.int64
            )
        self.fingerprint = intents.fingerprint(
            self.embedder.name,
            [(self.entries[p].article_id, self.entries[p].text) for p in self.examples],
            rejects=self.reject_texts,
        )

    def text_hits(
        self, ranked: list[int], *, statuses: Sequence[str], limit: int
    ) -> list[lexical.TextHit]:
        """The translations `ranked` (ids, best first) whose article has one of `statuses`,
        in that order, at most `limit` (drafts and translations newer than the index: left out)."""
        hits = []
        for translation_id in ranked:
            key = self.translation_keys.get(translation_id)
            if key is not None and key[2] in statuses:
                hits.append(lexical.TextHit(translation_id, key[0], key[1]))
                if len(hits) >= limit:
                    break
        return hits

    def training_rows(self) -> tuple[np.ndarray, list[int], list[str]]:
        """The head's training vectors (weighted like queries), their articles and texts."""
        x = np.ascontiguousarray(self.vectors[:, self.examples].T)
        return (
            x,
            [self.entries[p].article_id for p in self.examples],
            [self.entries[p].text for p in self.examples],
        )

    def adopt(self, head: intents.IntentHead | None) -> None:
        """Use `head` if it was trained on exactly this index's examples."""
        self.head = head if head is not None and head.fingerprint == self.fingerprint else None
        if self.head is not None:
            rows = np.searchsorted(self.published_articles, self.head.articles)
            rows = np.minimum(rows, max(len(self.published_articles) - 1, 0))
            if not np.array_equal(self.published_articles[rows], self.head.articles):
                self.head = None  # cannot happen: the head's examples are published entries
            else:
                self.head_rows = rows.astype(np.int64)
                self.head_output = np.full(len(self.published_articles), -1, dtype=np.int64)
                self.head_output[rows] = np.arange(len(rows))

    def _weigh(self) -> None:
        if not self.entries:
            return  # the empty defaults answer every query with nothing
        if self.embedder.reweight:
            # The square root of idf: measured better than idf itself for short questions.
            df = np.count_nonzero(self.vectors, axis=0) + 1
            self.weights = np.sqrt(np.log((len(self.entries) + 1) / df)).astype(np.float32)
            self.vectors = _normalised(self.vectors * self.weights)
        articles = sorted(self.languages)
        rows = np.searchsorted(
            articles, np.array([entry.article_id for entry in self.entries], dtype=np.int64)
        )
        order = np.argsort(rows, kind="stable")
        starts = np.flatnonzero(np.r_[True, np.diff(rows[order]) != 0])
        sums = np.add.reduceat(self.vectors[order], starts, axis=0)
        self.centroid_position = {article_id: row for row, article_id in enumerate(articles)}
        # Stored by dimension (one contiguous row per dimension): a hashed query touches a few
        # dozen dimensions, so scoring reads those rows only, not the whole matrix (a full
        # matrix-vector product over 30,000 entries reads 120 MB and is memory-bound).
        self.vectors = np.ascontiguousarray(self.vectors.T)
        self.centroids = np.ascontiguousarray(_normalised(sums).T)

    async def embed_query(self, text: str) -> np.ndarray:
        """`query_vector`, off the event loop when the embedder is a model (a forward pass
        takes milliseconds; the loop keeps serving other requests meanwhile)."""
        if self.embedder.inline:
            return self.query_vector(text)
        return await asyncio.to_thread(self.query_vector, text)

    def query_vector(self, text: str) -> np.ndarray:
        """`text` embedded and weighted like the entries."""
        vector = self.embedder.embed([text], kind="query")[0]
        if self.weights is not None:
            vector = _normalised((vector * self.weights)[None, :])[0]
        return vector

    def similarities(self, query: np.ndarray) -> np.ndarray:
        """Similarity of one L2-normalised query vector with every entry: the cosine rescaled
        from [the embedder's floor, 1] to [0, 1] (below the floor: negative)."""
        if not self.entries:
            return np.zeros(0, dtype=np.float32)
        return self.rescaled(_dot(self.vectors, query))

    def centroid_similarities(self, query: np.ndarray) -> np.ndarray:
        """Similarity (rescaled like `similarities`) of the query with each article's centroid."""
        if not self.entries:
            return np.zeros(0, dtype=np.float32)
        return self.rescaled(_dot(self.centroids, query))

    def article_scores(self, query: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Every published article's nearest-question score (in `published_articles` order):
        the mean of the similarity to its nearest entry (example question or title) and to
        its centroid; and the similarities to every entry (for `nearest_language`)."""
        sims = self.similarities(query)
        if not len(self.published_articles):
            return np.zeros(0, dtype=np.float32), sims
        nearest = np.maximum.reduceat(sims[self.published_order], self.published_starts)
        to_centroid = self.centroid_similarities(query)[self.published_centroids]
        return (nearest + to_centroid) / 2, sims

    def nearest_language(self, sims: np.ndarray, article_id: int) -> str:
        """The language of the published article's entry most similar to the query."""
        positions = self.positions[article_id]
        return self.entries[int(positions[int(np.argmax(sims[positions]))])].language

    def rescaled(self, cosines: np.ndarray) -> np.ndarray:
        floor = self.embedder.floor
        if not floor:
            return cosines
        return np.asarray((cosines - floor) / (1.0 - floor), dtype=np.float32)


def _dot(by_dimension: np.ndarray, query: np.ndarray) -> np.ndarray:
    used = np.flatnonzero(query)
    if len(used) * 2 > len(query):  # a dense query: the whole product is as cheap
        return np.asarray(query @ by_dimension, dtype=np.float32)
    return np.asarray(query[used] @ by_dimension[used], dtype=np.float32)


def _normalised(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return (matrix / np.where(norms == 0, 1, norms)).astype(np.float32)


# One index per database engine in this process, dropped with the engine; when its stamp was
# last read (time.monotonic).
_INDEXES: weakref.WeakKeyDictionary[Any, KnowledgeIndex] = weakref.WeakKeyDictionary()
_LOCKS: weakref.WeakKeyDictionary[Any, asyncio.Lock] = weakref.WeakKeyDictionary()
_CHECKED: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()


def _assemble(
    stamp: str, embedder: Embedder, translations: list[tuple[Any, ...]],
    questions: list[tuple[Any, ...]], rejected: list[tuple[str, bytes]],
    stored: tuple[str, bytes] | None,
) -> KnowledgeIndex:  # fmt: skip
    """The index of the rows read, with the stored head (fingerprint, data) when it was trained
    on exactly its examples."""
    index = KnowledgeIndex.build(stamp, embedder, translations, questions, rejected)
    if stored is not None and stored[0] == index.fingerprint:
        index.adopt(intents.IntentHead.from_bytes(*stored))
    return index


def forget(engine: Any) -> None:
    """This process wrote to the knowledge base: its next query reads the stamp again."""
    _CHECKED.pop(engine, None)


async def current(
    session: AsyncSession, embedder: Embedder = DEFAULT_EMBEDDER, *, max_age: float = 0.0
) -> KnowledgeIndex:
    """This process's index, rebuilt first when another write has changed the knowledge base
    since it was built (costs one primary-key read when nothing changed). With `max_age`,
    a stamp read less than that many seconds ago is trusted without reading it again: another
    process's write is then seen up to `max_age` late (this process's own writes at once)."""
    engine = session.get_bind()
    index = _INDEXES.get(engine)
    if (
        max_age > 0
        and index is not None
        and index.embedder is embedder
        and time.monotonic() - _CHECKED.get(engine, -max_age) < max_age
    ):
        return index
    stamp = await repository.get_stamp(session)
    checked = time.monotonic()
    if index is not None and index.stamp == stamp and index.embedder is embedder:
        _CHECKED[engine] = checked
        return index
    lock = _LOCKS.setdefault(engine, asyncio.Lock())
    async with lock:
        index = _INDEXES.get(engine)
        if index is not None and index.stamp == stamp and index.embedder is embedder:
            return index
        translations = await repository.index_translations(session)
        questions = await repository.index_questions(session)
        rejected = await repository.index_out_of_scope(session)
        model = await repository.get_intent_model(session, embedder.name)
        stored = (model.fingerprint, model.data) if model is not None else None
        # Seconds of CPU at 10,000 articles: in a thread, so the event loop goes on serving
        # (webhooks, chat, searches on the previous index) while it is built.
        index = await asyncio.to_thread(
            _assemble, stamp, embedder, translations, questions, rejected, stored
        )
        _INDEXES[engine] = index
        _CHECKED[engine] = checked
        return index

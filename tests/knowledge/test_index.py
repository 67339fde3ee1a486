"""The per-process index's article scores (knowledge/index.py): computed for every published
article at once, they must equal the definition, article by article."""

from __future__ import annotations

import numpy as np

from frontdesk.knowledge import index as knowledge_index
from frontdesk.knowledge.embedding import to_blob


class Unit:
    name, dim, reweight, inline, floor = "unit-test", 16, False, True, 0.5

    def embed(self, texts: list[str], *, kind: str = "query") -> np.ndarray:
        raise AssertionError("not called")


def unit(rng: np.random.Generator) -> np.ndarray:
    v = rng.standard_normal(16).astype(np.float32)
    return v / np.linalg.norm(v)


def build(rng: np.random.Generator) -> knowledge_index.KnowledgeIndex:
    """Articles 3, 5, 8, 9 published (9 in two languages), 4 internal; one question of 5
    still without a vector."""
    translations = [
        (n, article, language, status, f"title {article} {language}", to_blob(unit(rng)))
        for n, (article, language, status) in enumerate(
            [(8, "en", "published"), (3, "en", "published"), (4, "en", "internal"),
             (5, "ar", "published"), (9, "en", "published"), (9, "fa", "published")]
        )
    ]  # fmt: skip
    questions = [
        (article, language, "internal" if article == 4 else "published", f"q{i}", to_blob(v))
        for i, (article, language) in enumerate(
            [(3, "en"), (8, "en"), (3, "en"), (4, "en"), (5, "ar"), (9, "fa"), (8, "en"),
             (5, "ar")]
        )
        for v in [unit(rng) if i != 7 else np.zeros(16, dtype=np.float32)]
    ]  # fmt: skip
    return knowledge_index.KnowledgeIndex.build("s", Unit(), translations, questions)


def test_every_published_articles_score_is_its_nearest_entry_and_centroid():
    rng = np.random.default_rng(11)
    idx = build(rng)
    query = unit(rng)
    scores, sims = idx.article_scores(query)
    assert idx.published_articles.tolist() == [3, 5, 8, 9]  # not the internal article 4
    centroids = idx.centroid_similarities(query)
    for row, article in enumerate(idx.published_articles.tolist()):
        mine = [p for p, e in enumerate(idx.entries) if e.article_id == article]
        nearest = max(float(sims[p]) for p in mine)
        expected = (nearest + float(centroids[idx.centroid_position[article]])) / 2
        assert abs(float(scores[row]) - expected) < 1e-6
        best = max(mine, key=lambda p: float(sims[p]))
        assert idx.nearest_language(sims, article) == idx.entries[best].language


def test_an_empty_index_scores_nothing():
    idx = knowledge_index.KnowledgeIndex.build("s", Unit(), [], [])
    scores, _ = idx.article_scores(np.ones(16, dtype=np.float32) / 4)
    assert scores.size == 0

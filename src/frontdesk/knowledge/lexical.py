"""Full-text ranking from per-word scores. The full-text engine scores one query word at a time
over every translation holding it (SQLite: FTS5's bm25; PostgreSQL: ts_rank), the scores are
kept with the process's index until the knowledge base changes, and a query's ranking is
their sum per translation, in numpy.

Why: both engines score every row that holds any query word before they sort, about 2 µs a
row, so a word in a third of 13,000 translations cost 8-18 ms a query (bench/kb_search.py's
p99), every time it was searched. Summing is exact: bm25 of an OR query is the sum over its
words of each word's bm25 (same idf, same weights, the same order of additions), and
ts_rank's is that sum divided by the number of words, the same for every row."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

# Postings (translation id, score) kept per process: 16 bytes each, so 16 MB. The least
# recently used words go first; a word's scores are fetched again when it comes back.
MAX_POSTINGS = 1_000_000

Scores = tuple[np.ndarray, np.ndarray]  # translation ids (int64), their scores (float64)


@dataclass(frozen=True, slots=True)
class TextHit:
    translation_id: int
    article_id: int
    language: str


class TermScores:
    """Each word's scores, for one version of the knowledge base (the index they live on)."""

    def __init__(self, budget: int = MAX_POSTINGS) -> None:
        self.budget = budget
        self.size = 0
        self.warmed = False  # the common words are scored (or being scored)
        self._words: OrderedDict[str, Scores] = OrderedDict()

    def get(self, word: str) -> Scores | None:
        scores = self._words.get(word)
        if scores is not None:
            self._words.move_to_end(word)
        return scores

    def put(self, word: str, scores: Scores) -> None:
        if word in self._words:
            return
        self._words[word] = scores
        self.size += len(scores[0])
        # The newest word stays even when it alone is over the budget (it is in use).
        while self.size > self.budget and len(self._words) > 1:
            _, (dropped, _) = self._words.popitem(last=False)
            self.size -= len(dropped)


def rank(parts: list[Scores], depth: int) -> list[int]:
    """The `depth` translations with the highest summed score, best first, ties to the lower
    id (the order the engines' own `ORDER BY score, id` gives)."""
    nonempty = [part for part in parts if len(part[0])]
    if not nonempty or depth <= 0:
        return []
    ids = np.concatenate([part[0] for part in nonempty])
    unique, inverse = np.unique(ids, return_inverse=True)
    # Summed in the query's word order, as the engines add them.
    sums = np.bincount(inverse, weights=np.concatenate([part[1] for part in nonempty]))
    if len(sums) > depth:
        # Every translation scoring at least the depth-th best (ties at the cut included),
        # then only those sorted.
        cut = np.partition(sums, len(sums) - depth)[len(sums) - depth]
        kept = np.flatnonzero(sums >= cut)
    else:
        kept = np.arange(len(sums))
    order = kept[np.lexsort((unique[kept], -sums[kept]))][:depth]
    return [int(i) for i in unique[order]]

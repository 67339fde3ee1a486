"""Content gaps: what customers and agents searched or asked that the knowledge base had no
good answer for, grouped into clusters of similar wordings so an author sees one line per
missing article. Greedy and deterministic: keys are visited most missed first and each joins
the cluster whose first key shares enough words with it (token-set Jaccard), else starts one.
Reads only; misses are written by knowledge.service.record_miss."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

from frontdesk.knowledge.schemas import GapCluster

# Two wordings are one gap when they share at least this share of their distinct words.
SIMILAR = 0.5
EXAMPLES = 3


@dataclass
class _Cluster:
    words: frozenset[str]
    text: str
    count: int = 0
    languages: set[str] = field(default_factory=set)
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    examples: list[str] = field(default_factory=list)


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


def cluster(
    rows: list[tuple[str, str, str, int, datetime, datetime]], *, similar: float = SIMILAR
) -> list[GapCluster]:
    """Clusters of (key, language, example, count, first seen, last seen) rows, most missed
    first. Rows must come most missed first (repository.gap_totals orders them so).

    Candidates are found by prefix filtering (Chaudhuri et al. 2006), exact for Jaccard:
    with the words of every set ordered rarest first, two sets with J >= t share a word
    among the first |x| - ceil(t|x|) + 1 of each, so common words ("how", "do") never make
    every cluster a candidate."""
    frequency: dict[str, int] = {}
    for row in rows:
        for word in set(row[0].split()):
            frequency[word] = frequency.get(word, 0) + 1
    clusters: list[_Cluster] = []
    by_word: dict[str, list[int]] = {}  # prefix word -> clusters whose first key has it
    for key, language, example, count, first, last in rows:
        words = frozenset(key.split())
        prefix = _prefix(words, frequency, similar)
        best, best_score = None, 0.0
        for position in sorted({p for w in prefix for p in by_word.get(w, ())}):
            score = jaccard(words, clusters[position].words)
            if score >= similar and score > best_score:  # ties: the earlier cluster
                best, best_score = position, score
        if best is None:
            best = len(clusters)
            clusters.append(_Cluster(words=words, text=example))
            for word in prefix:
                by_word.setdefault(word, []).append(best)
        group = clusters[best]
        group.count += count
        if language:
            group.languages.add(language)
        group.first_seen = first if group.first_seen is None else min(group.first_seen, first)
        group.last_seen = last if group.last_seen is None else max(group.last_seen, last)
        if len(group.examples) < EXAMPLES and example not in group.examples:
            group.examples.append(example)
    ordered = sorted(enumerate(clusters), key=lambda item: (-item[1].count, item[0]))
    return [
        GapCluster(
            text=c.text,
            count=c.count,
            languages=sorted(c.languages),
            first_seen=c.first_seen or datetime.min,
            last_seen=c.last_seen or datetime.min,
            examples=c.examples,
        )
        for _, c in ordered
    ]


def _prefix(words: frozenset[str], frequency: dict[str, int], similar: float) -> list[str]:
    ordered = sorted(words, key=lambda w: (frequency.get(w, 0), w))
    return ordered[: len(ordered) - math.ceil(similar * len(ordered)) + 1]

"""Autocomplete's in-memory structure: published example questions and titles numbered by
rank (shortest first), a sorted vocabulary with postings in rank order, and for every prefix
of one to three letters its best entries precomputed, so a keystroke costs a bisection and a
short scan however common the prefix is."""

from __future__ import annotations

import bisect
from dataclasses import dataclass

import numpy as np

from frontdesk.kit.text import search_tokens

# Best entries kept per short prefix; more than enough for one language's eight suggestions.
SHORT_PREFIX = 3
TOP_PER_PREFIX = 64
# Longer prefixes: at most this many words of the range are merged (the range is short in
# practice; a pathological one is cut, not slow).
MAX_WORDS_PER_PREFIX = 256
# Positions examined when the words typed so far narrow the candidates.
MAX_SCAN = 5_000


@dataclass(frozen=True, slots=True)
class Completion:
    kind: str  # "question" | "article"
    article_id: int
    language: str
    text: str
    key: str
    words: frozenset[str]


class Completer:
    def __init__(self, items: list[Completion]) -> None:
        # Rank order: shorter suggestions first (they read best as a completion).
        self.items = sorted(items, key=lambda c: (len(c.text), c.article_id, c.kind))
        by_word: dict[str, list[int]] = {}
        for position, item in enumerate(self.items):
            for word in item.words:
                by_word.setdefault(word, []).append(position)
        self.words = sorted(by_word)
        self.postings = [np.asarray(by_word[w], dtype=np.int32) for w in self.words]
        # Every (word, entry) pair as two flat arrays, word ids in vocabulary order: which
        # entries hold a word starting with a prefix is then one vectorised range test over
        # all pairs (a fraction of a millisecond for 30,000 entries), however many words the
        # prefix covers.
        sizes = [len(p) for p in self.postings]
        self.pair_words = np.repeat(np.arange(len(self.words), dtype=np.int32), sizes)
        self.pair_entries = (
            np.concatenate(self.postings) if self.postings else np.zeros(0, dtype=np.int32)
        )
        self.short: dict[str, np.ndarray] = {}
        grouped: dict[str, list[np.ndarray]] = {}
        for word, posting in zip(self.words, self.postings, strict=True):
            for size in range(1, min(SHORT_PREFIX, len(word)) + 1):
                grouped.setdefault(word[:size], []).append(posting[:TOP_PER_PREFIX])
        for prefix, lists in grouped.items():
            self.short[prefix] = np.unique(np.concatenate(lists))[:TOP_PER_PREFIX]

    def commonest(self, *, share: float, most: int) -> list[str]:
        """Up to `most` words held by at least `share` of the entries, commonest first."""
        sizes = np.array([len(posting) for posting in self.postings], dtype=np.int64)
        order = np.argsort(-sizes, kind="stable")[:most]
        return [self.words[i] for i in order if sizes[i] >= max(share * len(self.items), 1)]

    def _word(self, word: str) -> np.ndarray | None:
        position = bisect.bisect_left(self.words, word)
        if position < len(self.words) and self.words[position] == word:
            return self.postings[position]
        return None

    def _prefix(self, prefix: str) -> np.ndarray:
        if len(prefix) <= SHORT_PREFIX:
            return self.short.get(prefix, np.zeros(0, dtype=np.int32))
        start = bisect.bisect_left(self.words, prefix)
        end = bisect.bisect_left(self.words, prefix + "\U0010ffff", lo=start)
        lists = self.postings[start : min(end, start + MAX_WORDS_PER_PREFIX)]
        return np.unique(np.concatenate(lists)) if lists else np.zeros(0, dtype=np.int32)

    def _holding_prefix(self, prefix: str) -> np.ndarray:
        """A mask over the entries: those with a word that starts with `prefix`."""
        start = bisect.bisect_left(self.words, prefix)
        end = bisect.bisect_left(self.words, prefix + "\U0010ffff", lo=start)
        mask = np.zeros(len(self.items), dtype=bool)
        in_range = (self.pair_words >= start) & (self.pair_words < end)
        mask[self.pair_entries[in_range]] = True
        return mask

    def complete(self, q: str, *, preferred: str | None, limit: int) -> list[Completion]:
        """Entries holding every finished word and a word starting with the last one, best
        first, the `preferred` language's (primary subtag) before the others."""
        tokens = search_tokens(q)
        if not tokens:
            return []
        done, prefix = tokens[:-1], tokens[-1]
        if done:
            postings = [self._word(word) for word in dict.fromkeys(done)]
            if any(p is None for p in postings):
                return []
            # Intersected in numpy (positions are ranks, so the result stays in rank order):
            # the Python loop below then sees only entries holding every finished word and
            # the prefix, not the whole posting list of a common first word (that loop was
            # bench/kb_search.py's autocomplete p99).
            ordered = sorted((p for p in postings if p is not None), key=len)
            candidates = ordered[0]
            for posting in ordered[1:]:
                candidates = np.intersect1d(candidates, posting, assume_unique=True)
            candidates = candidates[self._holding_prefix(prefix)[candidates]]
        else:
            candidates = self._prefix(prefix)
        wanted = set(done)
        mine: list[Completion] = []
        others: list[Completion] = []
        seen: set[str] = set()
        language = preferred.split("-")[0] if preferred else None
        for position in candidates[:MAX_SCAN]:
            item = self.items[int(position)]
            if item.key in seen or not wanted <= item.words:
                continue
            seen.add(item.key)
            if language and item.language.split("-")[0] == language:
                mine.append(item)
                if len(mine) >= limit:
                    break
            elif len(others) < limit:
                others.append(item)
                if not language and len(others) >= limit:
                    break
        return (mine + others)[:limit]


def completion(kind: str, article_id: int, language: str, text: str, key: str) -> Completion:
    return Completion(kind, article_id, language, text, key, frozenset(search_tokens(key)))

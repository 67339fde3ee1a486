# ruff: noqa: E402  (the path fix below must run before the imports)
"""Does Arabic light stemming help the full text? A known-item measure, since no Arabic or
Persian set with relevance judgements is at hand: each text of a CSV (`text,label`, the
labels unused; ../shared/data/sentiment holds Arabic tweets and Persian reviews) with eight
words or more is cut in two; its first half is a document, its second half the query that
should find it. BM25 (k1 1.2, b 0.75) over the full text's words (`search_tokens`) ranks the
documents for every query, once on the words as they are and once light-stemmed
(`frontdesk.kit.text.light_stem`, both sides, as knowledge search indexes and asks).

    .venv/bin/python bench/stemming.py [FILE.csv ...]   (default: the four ar/fa sets)

Prints per file: texts, MRR@10 and recall@10 without -> with stems, how many queries found
their text higher and lower, and a 95 % bootstrap interval of the MRR gain. Asserts nothing."""

from __future__ import annotations

import sys
from pathlib import Path

# bench/email.py would shadow the standard library's `email`: drop this folder from the path.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import argparse
import csv
import math
from collections import Counter, defaultdict
from collections.abc import Callable

import numpy as np

from frontdesk.kit.text import light_stem, search_tokens

DATA = _HERE.parent.parent / "shared" / "data" / "sentiment"
SETS = (
    "sentiment_ar_arsarcasmv2_train.csv",
    "sentiment_ar_ajgt_train.csv",
    "sentiment_fa_snappfood_train.csv",
    "sentiment_fa_sentipers_train.csv",
)


def halves(path: Path) -> tuple[list[list[str]], list[list[str]]]:
    docs, queries = [], []
    with path.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            words = [w for w in search_tokens(row["text"]) if not w.isascii()]  # no links, tags
            if len(words) >= 8:
                docs.append(words[: len(words) // 2])
                queries.append(words[len(words) // 2 :])
    return docs, queries


def reciprocal_ranks(docs: list[list[str]], queries: list[list[str]]) -> np.ndarray:
    """1 / rank of each query's own document in BM25's top 10 (0 when not there)."""
    postings: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for i, doc in enumerate(docs):
        for word, count in Counter(doc).items():
            postings[word].append((i, count))
    lengths = np.array([len(d) for d in docs], dtype=np.float64)
    norm = 1.2 * (0.25 + 0.75 * lengths / lengths.mean())
    n = len(docs)
    out = np.zeros(len(queries))
    for q, query in enumerate(queries):
        scores: dict[int, float] = defaultdict(float)
        for word in set(query):
            hits = postings.get(word, [])
            idf = math.log(1 + (n - len(hits) + 0.5) / (len(hits) + 0.5))
            for i, count in hits:
                scores[i] += idf * count * 2.2 / (count + norm[i])
        top = sorted(scores, key=lambda i: (-scores[i], i))[:10]
        out[q] = 1 / (top.index(q) + 1) if q in top else 0.0
    return out


def measure(path: Path, stem: Callable[[str], str]) -> None:
    docs, queries = halves(path)
    plain = reciprocal_ranks(docs, queries)
    stemmed = reciprocal_ranks(
        [[stem(w) for w in d] for d in docs], [[stem(w) for w in q] for q in queries]
    )
    gain = stemmed - plain
    rng = np.random.default_rng(0)
    boot = [gain[rng.integers(0, len(gain), len(gain))].mean() for _ in range(2000)]
    low, high = np.percentile(boot, [2.5, 97.5])
    print(
        f"{path.name}: {len(docs)} texts; MRR@10 {plain.mean():.4f} -> {stemmed.mean():.4f}"
        f" (gain 95 % interval {low:+.4f} .. {high:+.4f}); recall@10 {np.mean(plain > 0):.4f}"
        f" -> {np.mean(stemmed > 0):.4f}; higher {int(np.sum(gain > 0))},"
        f" lower {int(np.sum(gain < 0))}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="*", type=Path)
    args = parser.parse_args()
    for path in args.files or [DATA / name for name in SETS]:
        measure(path, light_stem)


if __name__ == "__main__":
    main()

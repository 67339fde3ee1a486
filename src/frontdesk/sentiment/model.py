"""The sentiment classifier: multinomial logistic regression over hashed character n-grams
and word n-grams of the search key (kit/text.search_key: Arabic and Persian letter variants,
diacritics and digits folded the same way as search). Numpy only, CPU only; the weights ship
in this package (data/, with their training sets' licences in data/NOTICE.md) and nothing is
downloaded. One classification costs well under a millisecond (bench/sentiment.py)."""

from __future__ import annotations

import functools
import itertools
import math
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from frontdesk.kit.text import search_key, search_tokens

LABELS = ("negative", "neutral", "positive")
DIMENSIONS = 1 << 18
CHAR_NGRAMS = (2, 3, 4, 5)
# Longer text adds nothing a classifier of single messages can use, and costs time.
MAX_CHARS = 2000
WEIGHTS = Path(__file__).parent / "data" / "sentiment-v1.npz"


@dataclass(frozen=True)
class Analysis:
    label: str  # negative | neutral | positive
    # P(positive) - P(negative): -1 (surely negative) to +1 (surely positive).
    score: float
    probabilities: tuple[float, float, float]


def features(text: str) -> tuple[np.ndarray, np.ndarray]:
    """(hashed feature indices, weights) of `text`: log-scaled counts, L2-normalised."""
    key = " ".join(search_key(text[:MAX_CHARS]).split())
    padded = f" {key} "
    grams = [padded[i : i + n] for n in CHAR_NGRAMS for i in range(max(len(padded) - n + 1, 0))]
    words = search_tokens(key)
    grams += [f"w {w}" for w in words]
    grams += [f"b {a} {b}" for a, b in itertools.pairwise(words)]
    if not grams:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    hashed = np.fromiter(
        (zlib.crc32(g.encode("utf-8")) for g in grams), dtype=np.int64, count=len(grams)
    )
    indices, counts = np.unique(hashed % DIMENSIONS, return_counts=True)
    values = np.log1p(counts).astype(np.float32)
    values /= math.sqrt(float(values @ values))
    return indices, values


class Classifier:
    """Weights (DIMENSIONS x 3) and biases (3), as trained by frontdesk.sentiment.training."""

    def __init__(self, weights: np.ndarray, bias: np.ndarray) -> None:
        self.weights = weights.astype(np.float32)
        self.bias = bias.astype(np.float32)

    @classmethod
    def load(cls, path: Path = WEIGHTS) -> Classifier:
        with np.load(path) as data:
            return cls(data["weights"], data["bias"])

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # float16 halves the file; the scores move by less than 1e-3.
        np.savez_compressed(path, weights=self.weights.astype(np.float16), bias=self.bias)

    def probabilities(self, text: str) -> np.ndarray:
        indices, values = features(text)
        logits = values @ self.weights[indices] + self.bias
        exp = np.exp(logits - logits.max())
        return np.asarray(exp / exp.sum())

    def analyse(self, text: str) -> Analysis | None:
        """The label and score of `text`; None when it has no words to judge."""
        if not search_tokens(text[:MAX_CHARS]):
            return None
        p = self.probabilities(text)
        return Analysis(
            label=LABELS[int(p.argmax())],
            score=round(float(p[2] - p[0]), 4),
            probabilities=(float(p[0]), float(p[1]), float(p[2])),
        )


@functools.cache
def shipped() -> Classifier:
    """The classifier shipped in this package, loaded once per process (~1.5 MB)."""
    return Classifier.load()


def analyse(text: str) -> Analysis | None:
    return shipped().analyse(text)

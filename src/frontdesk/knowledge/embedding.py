"""The embedder port and its default: a deterministic hashing embedder over character
n-grams and words of the search key. No model, no download, the same vector in every process;
it finds typos and shared word stems, not meaning (a model embedder is an optional extra)."""

from __future__ import annotations

import zlib
from functools import lru_cache
from typing import Protocol

import numpy as np

from frontdesk.kit.text import search_tokens

DTYPE = np.float32


class Embedder(Protocol):
    name: str
    dim: int
    # Whether the index should weight dimensions by inverse document frequency (hashed
    # features are words and letter groups, where it helps; a model's dimensions are not).
    reweight: bool

    def embed(self, texts: list[str]) -> np.ndarray:
        """One L2-normalised row per text (shape len(texts) by dim, float32); an empty text
        gives a zero row."""
        ...


class HashingEmbedder:
    """Words (weight 1) and the character 3- and 4-grams of each word with its boundaries
    (weight 0.5 each, so a misspelt word still shares most of its mass), hashed into `dim`
    signed buckets, L2-normalised. The weights and n-gram sizes were chosen on HWU64 and
    CLINC150 validation data (nearest example question + intent centroid, docs/knowledge.md)."""

    name = "hashing-v1"
    reweight = True

    def __init__(self, dim: int = 1024) -> None:
        self.dim = dim

    def embed(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=DTYPE)
        for row, text in enumerate(texts):
            counts: dict[int, float] = {}
            for token in search_tokens(text):
                for bucket, weight in _features(token, self.dim):
                    counts[bucket] = counts.get(bucket, 0.0) + weight
            if not counts:
                continue
            buckets = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
            values = np.fromiter(counts.values(), dtype=DTYPE, count=len(counts))
            signs = np.where(buckets & 1, -1.0, 1.0).astype(DTYPE)
            vector = out[row]
            np.add.at(vector, buckets >> 1, signs * values)
            norm = float(np.linalg.norm(vector))
            if norm:
                vector /= norm
        return out


@lru_cache(maxsize=200_000)
def _features(token: str, dim: int) -> tuple[tuple[int, float], ...]:
    """(2 * bucket + sign bit, weight) of one word; words repeat, so this is cached."""
    features = [(_bucket("w:" + token, dim), WORD_WEIGHT)]
    features.extend((_bucket(gram, dim), GRAM_WEIGHT) for gram in _char_grams(f"<{token}>"))
    return tuple(features)


WORD_WEIGHT = 1.0
GRAM_WEIGHT = 0.5


def _char_grams(word: str) -> list[str]:
    return [word[i : i + n] for n in (3, 4) for i in range(len(word) - n + 1)]


def _bucket(feature: str, dim: int) -> int:
    # crc32 is stable across processes and Python versions (hash() is salted per process).
    value = zlib.crc32(feature.encode("utf-8"))
    return ((value % dim) << 1) | ((value >> 31) & 1)


def to_blob(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype=DTYPE).tobytes()


def from_blobs(blobs: list[bytes], dim: int) -> np.ndarray:
    """Stored vectors as one matrix; a vector of another dimension (written by another
    embedder) is a zero row until the article is saved again."""
    matrix = np.zeros((len(blobs), dim), dtype=DTYPE)
    for row, blob in enumerate(blobs):
        if len(blob) == dim * 4:
            matrix[row] = np.frombuffer(blob, dtype=DTYPE)
    return matrix


DEFAULT_EMBEDDER: Embedder = HashingEmbedder()

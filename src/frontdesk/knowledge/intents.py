"""The intent head: a linear classifier over the articles' example questions, trained in the
product (knowledge.tasks, after the example questions or their vectors change) and stored per
knowledge base and embedder, with an out-of-scope threshold learned from the articles
themselves. Pure numpy; no database here (knowledge.service trains and stores it).

The head reads two things of a question: the embedder's vector and, beside it, the letter
groups of its words (hashed character n-gram TF-IDF of the search key). The vector knows
meaning across languages; the letter groups tell apart near-duplicate intents whose wordings
differ in one word ("card not arrived" / "card not working"), which a sentence vector blurs."""

from __future__ import annotations

import hashlib
import io
import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np

from frontdesk.kit.text import search_tokens

DTYPE = np.float32
# Multinomial logistic regression over the standardised vectors (each dimension centred and
# scaled to unit variance over the examples: e5's vectors all sit in a narrow cone, cosines of
# unrelated questions 0.7-0.8, which a linear model on raw vectors learns slowly).
# Chosen on a split of BANKING77's training rows (never its test rows): full-batch Adam,
# 100 steps at 0.03 with an L2 penalty of 1e-3 per example matched 200-300 steps at 0.01
# within 0.2 points, at half the time; softmax over ridge regression or LDA lost 3-5 points,
# and hashed character n-grams beside the vectors did not help (docs/knowledge.md).
L2 = 1e-3
STEPS = 100
# The letter-group features: every 2- to 5-letter group of each word with its boundaries, the
# words and the pairs of neighbouring words of the search key, hashed (crc32) into GRAM_DIM
# buckets; sublinear term frequency times inverse document frequency over the examples,
# L2-normalised, then multiplied by GRAM_WEIGHT beside the standardised vector (whose squared
# norm is about its dimension). Chosen on splits of the training rows only (BANKING77: 9,000
# rows less 10 % held out; HWU64: its training rows less 10 %): the head with the vector
# alone 90.9 % / 90.3 %, with the letter groups 92.2 % / 91.9 %; combined with the
# nearest-question score 91.7 % → 92.7 % and 90.9 % → 92.5 % (weight 20: 0.3 points less).
GRAM_DIM = 4096
GRAM_WEIGHT = 10.0
GRAM_SIZES = (2, 3, 4, 5)
# Characters of a text read for its letter groups (a long e-mail costs no more than a
# question; the model embedder reads as many: ModelEmbedder.MAX_CHARS).
GRAM_CHARS = 600
# Part of what a head was trained on: a head of another version is retrained.
VERSION = "grams-v1"
LEARNING_RATE = 0.03
# A dimension whose spread is below this share of the median spread is scaled as if it had
# the floor (hashed features: a word seen once must not become a giant weight).
SCALE_FLOOR = 0.1
# The out-of-scope threshold is learned by leaving whole articles out: the head is trained
# on the others, and the left-out articles' questions play unknown questions (seeded, so
# training twice on the same questions gives the same head).
CALIBRATION_SHARE = 0.2
CALIBRATION_HELD_OUT = 0.2
# The share of unknown questions in the pool the threshold is chosen on: a prior that most
# questions a bot is asked are in scope. Leaving a fifth of the articles out gives far more
# unknown questions than held-out known ones (55 % on CLINC150's training rows), and an F1
# over such a pool rewards refusing (CLINC150 test: 97 % out-of-scope recall but 81 %
# in-scope accuracy); a random subset of them is scored so they are this share.
UNKNOWN_SHARE = 0.2
# The left-out articles are harder to tell from the known ones than most questions nobody
# wrote an article for (they come from the same knowledge base: the same domain, the same
# words), so the threshold best against them refuses too many known questions. It is capped
# at the score below which this share of the held-out known questions answered right falls.
# Chosen on CLINC150's validation split (never its test split), with the letter groups: the
# threshold best against the left-out articles (0.69) left 92.0 % of the in-scope questions
# answered right; the cap (0.62) 95.1 %, with out-of-scope F1 0.89 when the out-of-scope
# questions are weighted to the test split's share (18 %, val has 3 %); a 2 % budget (0.66)
# 93.8 %.
REFUSAL_BUDGET = 0.01
# Questions no article answers (knowledge.service: marked out of scope by an admin) are
# learned as one more output of the head. For the threshold, this share of them is held out
# of the calibration's training and scored as unknown questions, weighed (REJECT_POOL) as
# much as the left-out articles' questions together ("both"), instead of them ("rejects"),
# or not at all ("articles").
REJECT_HELD_OUT = 0.5
REJECT_POOL = "both"
# Whether a question is refused outright when the "none of these" output scores at least as
# high as the best article (its score: `reject_scores`, its nearest-question part over the
# rejected questions' nearest ("nearest") or nearest and centroid ("both") as an article's).
REJECT_WINS = True
REJECT_NEAREST = "nearest"
SEED = 20261206
# An article's score is this share of the head's probability plus the rest of the
# nearest-question score (knowledge.search: the mean of the similarity to the nearest
# example and to the centroid, rescaled from the embedder's floor). On a split of BANKING77's
# training rows: the head alone 90.9 %, nearest alone 88.6 %, 0.25 of the head 91.3 %
# (0.5: 91.1 %); the nearest-question part also keeps the cross-lingual match (xSID).
HEAD_SHARE = 0.25
# The answer's confidence is rescaled so the learned threshold is always this value: a bot's
# own threshold (bot.threshold) keeps one meaning whatever was learned.
DECISION = 0.5
# Below this many articles with questions there is nothing to learn a threshold from.
MIN_ARTICLES = 3


def fingerprint(
    embedder_name: str, examples: Sequence[tuple[int, str]], rejects: Sequence[str] = ()
) -> str:
    """What a head was trained on: the embedder, every (article id, question) pair and the
    questions no article answers (none: the fingerprint heads had before there were any)."""
    digest = hashlib.sha256(f"{embedder_name}\x00{VERSION}".encode())
    for article_id, text in sorted(examples):
        digest.update(f"\x00{article_id}\x01{text}".encode())
    for text in sorted(rejects):
        digest.update(f"\x00\x02{text}".encode())
    return digest.hexdigest()[:32]


def _grams(text: str) -> list[str]:
    words = search_tokens(text)
    out = [f"w:{a}" for a in words] + [f"b:{a} {b}" for a, b in pairwise(words)]
    for word in words:
        bounded = f"<{word}>"
        out += [bounded[i : i + n] for n in GRAM_SIZES for i in range(len(bounded) - n + 1)]
    return out


def _term_counts(texts: Sequence[str]) -> list[dict[int, float]]:
    """Each text's hashed letter groups with their sublinear term frequency."""
    rows = []
    for text in texts:
        counts: dict[int, int] = {}
        for gram in _grams(text[:GRAM_CHARS]):
            bucket = zlib.crc32(gram.encode("utf-8")) % GRAM_DIM
            counts[bucket] = counts.get(bucket, 0) + 1
        rows.append({bucket: 1.0 + math.log(c) for bucket, c in counts.items()})
    return rows


def _sparse_grams(texts: Sequence[str], idf: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each text's letter-group features as (buckets, values): the non-zero entries of its
    `gram_features` row, the same numbers."""
    out = []
    for counts in _term_counts(texts):
        buckets = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
        values = np.fromiter(counts.values(), dtype=DTYPE, count=len(counts)) * idf[buckets]
        norm = float(np.linalg.norm(values)) if len(values) else 0.0
        out.append((buckets, values * DTYPE(GRAM_WEIGHT / max(norm, 1e-9))))
    return out


def _idf(counts: list[dict[int, float]]) -> np.ndarray:
    df = np.zeros(GRAM_DIM, dtype=np.float64)
    for row in counts:
        df[list(row)] += 1
    return (np.log((len(counts) + 1) / (df + 1)) + 1).astype(DTYPE)


def gram_features(texts: Sequence[str], idf: np.ndarray) -> np.ndarray:
    """The letter-group features of `texts` (rows L2-normalised, then GRAM_WEIGHT)."""
    out = np.zeros((len(texts), GRAM_DIM), dtype=DTYPE)
    for row, counts in enumerate(_term_counts(texts)):
        if counts:
            buckets = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
            out[row, buckets] = np.fromiter(counts.values(), dtype=DTYPE, count=len(counts))
    out *= idf
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    out *= GRAM_WEIGHT / np.maximum(norms, 1e-9)
    return out


def _standardiser(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = x.mean(axis=0)
    spread = x.std(axis=0)
    floor = SCALE_FLOOR * float(np.median(spread[spread > 0])) if np.any(spread > 0) else 1.0
    return mean.astype(DTYPE), np.maximum(spread, floor).astype(DTYPE)


def _train(x: np.ndarray, y: np.ndarray, classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Multinomial logistic regression by full-batch Adam: (weights d x k, biases k)."""
    n, d = x.shape
    w = np.zeros((d, classes), dtype=DTYPE)
    b = np.zeros(classes, dtype=DTYPE)
    onehot = np.zeros((n, classes), dtype=DTYPE)
    onehot[np.arange(n), y] = 1.0
    mw, vw = np.zeros_like(w), np.zeros_like(w)
    mb, vb = np.zeros_like(b), np.zeros_like(b)
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    for step in range(1, STEPS + 1):
        p = _softmax(x @ w + b)
        p -= onehot
        p /= n
        gw = x.T @ p + L2 * w
        gb = p.sum(axis=0)
        for param, grad, m, v in ((w, gw, mw, vw), (b, gb, mb, vb)):
            m *= beta1
            m += (1 - beta1) * grad
            v *= beta2
            v += (1 - beta2) * grad * grad
            m_hat = m / (1 - beta1**step)
            v_hat = v / (1 - beta2**step)
            param -= LEARNING_RATE * m_hat / (np.sqrt(v_hat) + eps)
    return w, b


def _softmax(logits: np.ndarray) -> np.ndarray:
    logits = logits - logits.max(axis=-1, keepdims=True)
    np.exp(logits, out=logits)
    logits /= logits.sum(axis=-1, keepdims=True)
    return logits


@dataclass(frozen=True)
class IntentHead:
    """The standardiser and weights over the embedder's vectors, the article each output
    stands for, and the learned out-of-scope threshold on the top combined score."""

    fingerprint: str
    articles: np.ndarray  # int64, one per output
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray  # dimensions x articles
    biases: np.ndarray
    threshold: float
    # The letter groups' inverse document frequencies (GRAM_DIM), or empty: a head trained on
    # the vectors alone (no texts given), whose weights have only the vector's rows.
    idf: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=DTYPE))
    # Article id -> its output.
    position: dict[int, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        position = {int(a): i for i, a in enumerate(self.articles)}
        object.__setattr__(self, "position", position)

    def probabilities(self, vectors: np.ndarray, texts: Sequence[str] | None = None) -> np.ndarray:
        """Softmax over the articles, one row per vector (and its text: a head trained with
        letter groups needs the texts the vectors were made of). With questions no article
        answers, their output's share is left out (the articles' no longer sum to one)."""
        return self.outputs(vectors, texts)[:, : len(self.articles)]

    def outputs(self, vectors: np.ndarray, texts: Sequence[str] | None = None) -> np.ndarray:
        """Softmax over every output: the articles, then "none of these" when trained with
        questions no article answers (`rejects`)."""
        rows = np.asarray((np.atleast_2d(vectors) - self.mean) / self.scale, dtype=DTYPE)
        logits = rows @ self.weights[: len(self.mean)] + self.biases
        if self.idf.size:
            if texts is None or len(texts) != len(rows):
                raise ValueError("this head reads the texts beside their vectors")
            # A question has a few dozen letter groups of the 4,096: only their rows of the
            # weights are read (the dense product read all 4,096 x articles of them).
            for row, (buckets, values) in enumerate(_sparse_grams(texts, self.idf)):
                logits[row] += values @ self.weights[len(self.mean) + buckets]
        return _softmax(np.asarray(logits, dtype=DTYPE))

    @property
    def rejects(self) -> bool:
        """Whether the head was trained with an output for questions no article answers."""
        return int(self.biases.shape[0]) > len(self.articles)

    def confidence(self, probability: float) -> float:
        """A score (`combine`) rescaled piecewise linearly so the threshold maps to DECISION."""
        t = min(max(self.threshold, 1e-6), 1 - 1e-6)
        probability = min(max(probability, 0.0), 1.0)
        if probability < t:
            return DECISION * probability / t
        return DECISION + (1 - DECISION) * (probability - t) / (1 - t)

    def to_bytes(self) -> bytes:
        out = io.BytesIO()
        np.savez(
            out,
            articles=self.articles,
            mean=self.mean,
            scale=self.scale,
            weights=self.weights,
            biases=self.biases,
            threshold=np.array([self.threshold], dtype=np.float64),
            idf=self.idf,
        )
        return out.getvalue()

    @classmethod
    def from_bytes(cls, fingerprint: str, data: bytes) -> IntentHead:
        with np.load(io.BytesIO(data), allow_pickle=False) as stored:
            return cls(
                fingerprint=fingerprint,
                articles=stored["articles"].astype(np.int64),
                mean=stored["mean"].astype(DTYPE),
                scale=stored["scale"].astype(DTYPE),
                weights=stored["weights"].astype(DTYPE),
                biases=stored["biases"].astype(DTYPE),
                threshold=float(stored["threshold"][0]),
                idf=(stored["idf"] if "idf" in stored.files else np.zeros(0)).astype(DTYPE),
            )


def train(
    vectors: np.ndarray,
    article_ids: Sequence[int],
    *,
    fingerprint: str,
    floor: float,
    texts: Sequence[str] | None = None,
    rejects: np.ndarray | None = None,
    reject_texts: Sequence[str] | None = None,
) -> IntentHead | None:
    """A head over the examples' vectors (and, given their texts, their letter groups)
    labelled with their articles; None with fewer than MIN_ARTICLES articles (the
    nearest-question scoring answers alone then). `rejects` (with `reject_texts` when
    `texts` are given) are questions no article answers: one more output learns them, and
    the threshold is calibrated on some of them (see _calibrate)."""
    labels = np.asarray(article_ids, dtype=np.int64)
    articles, y = np.unique(labels, return_inverse=True)
    if len(articles) < MIN_ARTICLES:
        return None
    reject = np.zeros(len(y), dtype=bool)
    if rejects is not None and len(rejects):
        vectors = np.vstack([vectors, rejects]).astype(DTYPE)
        y = np.r_[y, np.full(len(rejects), len(articles), dtype=y.dtype)]
        reject = np.r_[reject, np.ones(len(rejects), dtype=bool)]
        if texts is not None:
            if reject_texts is None or len(reject_texts) != len(rejects):
                raise ValueError("the rejected questions' texts are needed beside their vectors")
            texts = [*texts, *reject_texts]
    mean, scale = _standardiser(vectors)
    x = ((vectors - mean) / scale).astype(DTYPE)
    idf = np.zeros(0, dtype=DTYPE)
    if texts is not None:
        idf = _idf(_term_counts(texts))
        x = np.hstack([x, gram_features(texts, idf)])
    threshold = _calibrate(x, vectors, y, len(articles), floor, reject)
    weights, biases = _train(x, y, len(articles) + int(reject.any()))
    return IntentHead(fingerprint, articles, mean, scale, weights, biases, threshold, idf)


def combine(probability: np.ndarray, nearest: np.ndarray) -> np.ndarray:
    """An article's score from the head's probability and its nearest-question score."""
    return HEAD_SHARE * probability + (1 - HEAD_SHARE) * nearest


def reject_scores(
    probability: np.ndarray, queries: np.ndarray, rejects: np.ndarray, floor: float
) -> np.ndarray:
    """The "none of these" output's score, as an article's (`combine`): its probability with
    the nearest-question score over the questions no article answers."""
    if not len(rejects):
        return np.zeros(len(queries), dtype=DTYPE)
    if REJECT_NEAREST == "nearest":
        nearest = (np.max(queries @ rejects.T, axis=1) - floor) / (1 - floor)
    else:
        zeros = np.zeros(len(rejects), dtype=np.int64)
        nearest = nearest_scores(queries, rejects, zeros, 1, floor)[:, 0]
    return combine(probability, nearest)


def refused(top: np.ndarray, rejected: np.ndarray) -> np.ndarray:
    """Top article scores with those the "none of these" output beats set to 0: questions
    refused whatever the threshold (REJECT_WINS)."""
    if not REJECT_WINS:
        return top
    return np.where(rejected >= top, 0.0, top).astype(DTYPE)


def nearest_scores(
    queries: np.ndarray, examples: np.ndarray, y: np.ndarray, classes: int, floor: float
) -> np.ndarray:
    """knowledge.search's nearest-question score of each query for each class, over
    `examples` (L2-normalised vectors): the mean of the rescaled similarity to the class's
    nearest example and to its centroid. In blocks of queries (memory: block x examples)."""
    centroids = np.zeros((classes, examples.shape[1]), dtype=DTYPE)
    np.add.at(centroids, y, examples)
    centroids /= np.maximum(np.linalg.norm(centroids, axis=1, keepdims=True), 1e-9)
    order = np.argsort(y, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(y[order]) != 0])
    out = np.empty((len(queries), classes), dtype=DTYPE)
    for start in range(0, len(queries), 512):
        block = queries[start : start + 512]
        nearest = np.maximum.reduceat(block @ examples[order].T, starts, axis=1)
        out[start : start + 512] = (nearest + block @ centroids.T) / 2
    return (out - floor) / (1 - floor)


def _calibrate(
    x: np.ndarray,
    vectors: np.ndarray,
    y: np.ndarray,
    classes: int,
    floor: float,
    reject: np.ndarray | None = None,
) -> float:
    """The top-score threshold that best separates questions of articles the head
    knows from questions of articles it has never seen: train on the kept articles minus a
    share of their questions, then score those held-out questions (in scope) and every
    question of the left-out articles (out of scope). Rows marked `reject` (label
    `classes`: questions no article answers) are learned as one more output; a share of
    them is held out and scored as out-of-scope questions too (REJECT_POOL)."""
    if reject is None:
        reject = np.zeros(len(y), dtype=bool)
    rng = np.random.default_rng(SEED)
    left_out = rng.permutation(classes)[: max(1, round(classes * CALIBRATION_SHARE))]
    left = np.isin(y, left_out) & ~reject
    # The article rows come first: without rejects the same draws as ever (the same head).
    held = np.zeros(len(y), dtype=bool)
    held[~reject] = rng.random(int((~reject).sum())) < CALIBRATION_HELD_OUT
    held &= ~left
    reject_held = reject & (np.random.default_rng(SEED + 1).random(len(y)) < REJECT_HELD_OUT)
    train_rows = ~left & ~held & ~reject_held
    wanted = max(1, round(held.sum() * UNKNOWN_SHARE / (1 - UNKNOWN_SHARE)))
    unknown = np.zeros(len(y), dtype=bool)
    unknown[rng.permutation(np.flatnonzero(left))[:wanted]] = True
    kept = np.unique(y[train_rows & ~reject])
    if len(kept) < 2 or not held.any():
        return DECISION
    remap = np.zeros(classes + 1, dtype=np.int64)
    remap[kept] = np.arange(len(kept))
    remap[classes] = len(kept)  # the rejected questions' output, when there are any
    outputs = len(kept) + int((train_rows & reject).any())
    w, b = _train(x[train_rows], remap[y[train_rows]], outputs)
    known_rows = train_rows & ~reject
    known = vectors[known_rows]
    labels = remap[y[known_rows]]

    given = vectors[train_rows & reject]

    def top_scores(rows: np.ndarray) -> np.ndarray:
        out = _softmax(x[rows] @ w + b)
        nearest = nearest_scores(vectors[rows], known, labels, len(kept), floor)
        return combine(out[:, : len(kept)], nearest)

    def effective(rows: np.ndarray, scores: np.ndarray) -> np.ndarray:
        if not len(given):
            return scores.max(axis=1)
        out = _softmax(x[rows] @ w + b)
        return refused(scores.max(axis=1), reject_scores(out[:, -1], vectors[rows], given, floor))

    s_held = top_scores(held)
    right = kept[s_held.argmax(axis=1)] == y[held]
    top = effective(held, s_held)
    s_unknown = effective(unknown, top_scores(unknown))
    weights = np.ones(len(s_unknown))
    if reject_held.any() and REJECT_POOL != "articles":
        s_rejected = effective(reject_held, top_scores(reject_held))
        # The held-out rejected questions weigh as much as the left-out articles' questions
        # together ("both"), or replace them ("rejects").
        share = 0.5 if REJECT_POOL == "both" else 1.0
        total = float(len(s_unknown))
        weights = np.r_[
            np.full(len(s_unknown), (1 - share)),
            np.full(len(s_rejected), share * total / len(s_rejected)),
        ]
        s_unknown = np.r_[s_unknown, s_rejected]
    chosen = best_threshold(top, right, s_unknown, weights)
    if right.any():
        # A bot that refuses a question it knows is worse than one that answers it: never
        # refuse more than REFUSAL_BUDGET of the held-out questions it answers right.
        chosen = min(chosen, float(np.quantile(top[right], REFUSAL_BUDGET)))
    return chosen


def best_threshold(
    in_scope: np.ndarray,
    right: np.ndarray,
    out_of_scope: np.ndarray,
    weights: np.ndarray | None = None,
) -> float:
    """The threshold maximising (in-scope accuracy + out-of-scope F1) / 2, where an in-scope
    question counts as right only when its top answer is right and above the threshold
    (`weights`: how much each out-of-scope question counts, 1 by default)."""
    if weights is None:
        weights = np.ones(len(out_of_scope))
    best, chosen = -1.0, DECISION
    for t in np.linspace(0.01, 0.99, 99):
        accepted = in_scope >= t
        accuracy = float(np.mean(right & accepted)) if len(in_scope) else 0.0
        tp = float(np.sum(weights[out_of_scope < t]))
        fp = float(np.sum(~accepted))
        fn = float(np.sum(weights)) - tp
        f1 = 2 * tp / max(2 * tp + fp + fn, 1.0)
        value = (accuracy + f1) / 2
        if value > best:
            best, chosen = value, float(t)
    return chosen

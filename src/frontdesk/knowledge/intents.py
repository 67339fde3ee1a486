"""The intent head: a linear classifier over the articles' example questions, trained in the
product (knowledge.tasks, after the example questions or their vectors change) and stored per
knowledge base and embedder, with an out-of-scope threshold learned from the articles
themselves. Pure numpy; no database here (knowledge.service trains and stores it)."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from frontdesk.knowledge.embedding import HASHING, HashingEmbedder

DTYPE = np.float32
# Features of a question: its vector from the knowledge base's embedder, beside the hashed
# words and character 3/4-grams of its text (HashingEmbedder) times this weight. The model
# knows meanings; the letters catch product words and spellings it blurs ("top-up", "SEPA").
GRAM_WEIGHT = 0.5
# L2 penalty of the logistic regression, per example (1 / (C * n) in scikit-learn's terms).
L2 = 1e-4
RIDGE = 1e-3
STEPS = 120
LEARNING_RATE = 0.05
# The out-of-scope threshold is learned by leaving whole articles out: the head is trained
# on the others, and the left-out articles' questions play unknown questions (seeded, so
# training twice on the same questions gives the same head).
CALIBRATION_SHARE = 0.2
CALIBRATION_HELD_OUT = 0.2
SEED = 20261206
# The answer's confidence is rescaled so the learned threshold is always this value: a bot's
# own threshold (bot.threshold) keeps one meaning whatever was learned.
DECISION = 0.5
# Below this many articles with questions there is nothing to learn a threshold from.
MIN_ARTICLES = 3


def fingerprint(embedder_name: str, examples: Sequence[tuple[int, str]]) -> str:
    """What a head was trained on: the embedder and every (article id, question) pair."""
    digest = hashlib.sha256(embedder_name.encode())
    for article_id, text in sorted(examples):
        digest.update(f"\x00{article_id}\x01{text}".encode())
    return digest.hexdigest()[:32]


def grams(texts: list[str], hashing: HashingEmbedder = HASHING) -> np.ndarray:
    return hashing.embed(texts)


def features(vectors: np.ndarray, texts: list[str], *, with_grams: bool) -> np.ndarray:
    """The head's input rows: the embedder's vectors, with the hashed grams beside them
    unless the embedder is the hashing one already."""
    if not with_grams:
        return np.asarray(vectors, dtype=DTYPE)
    return np.hstack([vectors, GRAM_WEIGHT * grams(texts)]).astype(DTYPE)


def _train(x: np.ndarray, y: np.ndarray, classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Ridge regression onto the one-hot articles, closed form: (weights d x k, biases k).
    Its outputs are absolute (about 1 for a question like the article's, about 0 for an
    unrelated one), which a softmax's relative probabilities are not: what out-of-scope
    detection needs. One d x d solve: about a second for d = 1,408."""
    n, d = x.shape
    mean = x.mean(axis=0)
    centred = x - mean
    onehot = np.zeros((n, classes), dtype=DTYPE)
    onehot[np.arange(n), y] = 1.0
    target_mean = onehot.mean(axis=0)
    gram = (centred.T @ centred).astype(np.float64)
    gram[np.diag_indices(d)] += RIDGE * n
    w = np.linalg.solve(gram, (centred.T @ (onehot - target_mean)).astype(np.float64))
    w = w.astype(DTYPE)
    return w, (target_mean - mean @ w).astype(DTYPE)


def _train_lr(x: np.ndarray, y: np.ndarray, classes: int) -> tuple[np.ndarray, np.ndarray]:
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
    """Weights over the features, the article each output stands for, and the learned
    out-of-scope threshold on the top probability."""

    fingerprint: str
    articles: np.ndarray  # int64, one per output
    weights: np.ndarray  # features x articles
    biases: np.ndarray
    threshold: float
    with_grams: bool

    def scores(self, rows: np.ndarray) -> np.ndarray:
        """Each article's output, one row per feature row (about 1: this article's kind of
        question; about 0: not)."""
        return np.asarray(np.atleast_2d(rows) @ self.weights + self.biases, dtype=DTYPE)

    def confidence(self, probability: float) -> float:
        """The top probability rescaled piecewise linearly so the threshold maps to DECISION."""
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
            weights=self.weights,
            biases=self.biases,
            meta=np.array([self.threshold, float(self.with_grams)], dtype=np.float64),
        )
        return out.getvalue()

    @classmethod
    def from_bytes(cls, fingerprint: str, data: bytes) -> IntentHead:
        with np.load(io.BytesIO(data), allow_pickle=False) as stored:
            meta = stored["meta"]
            return cls(
                fingerprint=fingerprint,
                articles=stored["articles"].astype(np.int64),
                weights=stored["weights"].astype(DTYPE),
                biases=stored["biases"].astype(DTYPE),
                threshold=float(meta[0]),
                with_grams=bool(meta[1]),
            )


def train(
    x: np.ndarray, article_ids: Sequence[int], *, fingerprint: str, with_grams: bool
) -> IntentHead | None:
    """A head over feature rows `x` labelled with their articles; None with fewer than
    MIN_ARTICLES articles (the nearest-question scoring answers alone then)."""
    labels = np.asarray(article_ids, dtype=np.int64)
    articles, y = np.unique(labels, return_inverse=True)
    if len(articles) < MIN_ARTICLES:
        return None
    threshold = _calibrate(x, y, len(articles))
    weights, biases = _train(x, y, len(articles))
    return IntentHead(fingerprint, articles, weights, biases, threshold, with_grams)


def _calibrate(x: np.ndarray, y: np.ndarray, classes: int) -> float:
    """The top-probability threshold that best separates questions of articles the head
    knows from questions of articles it has never seen: train on the kept articles minus a
    share of their questions, then score those held-out questions (in scope) and every
    question of the left-out articles (out of scope). Maximises the mean of in-scope
    accuracy and out-of-scope F1 over the pooled scores."""
    rng = np.random.default_rng(SEED)
    left_out = rng.permutation(classes)[: max(1, round(classes * CALIBRATION_SHARE))]
    unknown = np.isin(y, left_out)
    held = ~unknown & (rng.random(len(y)) < CALIBRATION_HELD_OUT)
    train_rows = ~unknown & ~held
    kept = np.unique(y[train_rows])
    if len(kept) < 2 or not held.any():
        return DECISION
    remap = {int(c): i for i, c in enumerate(kept)}
    y_train = np.array([remap[int(c)] for c in y[train_rows]], dtype=np.int64)
    w, b = _train(x[train_rows], y_train, len(kept))
    p_held = x[held] @ w + b
    p_unknown = x[unknown] @ w + b
    right = kept[p_held.argmax(axis=1)] == y[held]
    return best_threshold(p_held.max(axis=1), right, p_unknown.max(axis=1))


def best_threshold(in_scope: np.ndarray, right: np.ndarray, out_of_scope: np.ndarray) -> float:
    """The threshold maximising (in-scope accuracy + out-of-scope F1) / 2, where an in-scope
    question counts as right only when its top answer is right and above the threshold."""
    best, chosen = -1.0, DECISION
    for t in np.linspace(0.01, 0.99, 99):
        accepted = in_scope >= t
        accuracy = float(np.mean(right & accepted)) if len(in_scope) else 0.0
        tp = float(np.sum(out_of_scope < t))
        fp = float(np.sum(~accepted))
        fn = float(len(out_of_scope)) - tp
        f1 = 2 * tp / max(2 * tp + fp + fn, 1.0)
        value = (accuracy + f1) / 2
        if value > best:
            best, chosen = value, float(t)
    return chosen

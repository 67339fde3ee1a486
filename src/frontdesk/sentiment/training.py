"""Training the sentiment classifier (scripts/train_sentiment.py, bench/sentiment.py):
mini-batch Adam on the softmax cross-entropy with L2, in numpy over the sparse hashed
features of model.features. Deterministic for a seed. Not used at run time."""

from __future__ import annotations

import csv
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from frontdesk.sentiment.model import DIMENSIONS, LABELS, Classifier, features

Rows = list[tuple[str, str]]


def read_csv(path: str | Path) -> Rows:
    """(text, label) rows of a `text,label` CSV; unknown labels are refused."""
    with open(path, newline="", encoding="utf-8") as handle:
        rows = [(row["text"], row["label"].strip().lower()) for row in csv.DictReader(handle)]
    wrong = {label for _, label in rows} - set(LABELS)
    if wrong:
        raise ValueError(f"{path}: unknown labels {sorted(wrong)}")
    return rows


def write_csv(path: str | Path, rows: Rows) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows(rows)


def split(rows: Rows, *, test_share: float, seed: int) -> tuple[Rows, Rows]:
    """A stratified split: `test_share` of each label's rows held out."""
    by_label: dict[str, Rows] = defaultdict(list)
    for row in rows:
        by_label[row[1]].append(row)
    train, test = [], []
    for label in sorted(by_label):
        group = by_label[label][:]
        random.Random(f"{seed}:{label}").shuffle(group)
        cut = round(len(group) * test_share)
        test += group[:cut]
        train += group[cut:]
    return train, test


@dataclass
class _Sparse:
    indices: np.ndarray  # feature index per non-zero
    values: np.ndarray  # value per non-zero
    rows: np.ndarray  # row number per non-zero
    starts: np.ndarray  # offset of each row's first non-zero (len = n rows + 1)


def _matrix(texts: Sequence[str]) -> _Sparse:
    parts = [features(text) for text in texts]
    lengths = np.array([len(i) for i, _ in parts], dtype=np.int64)
    return _Sparse(
        indices=np.concatenate([i for i, _ in parts]),
        values=np.concatenate([v for _, v in parts]).astype(np.float32),
        rows=np.repeat(np.arange(len(parts)), lengths),
        starts=np.concatenate([[0], np.cumsum(lengths)]),
    )


def train(
    rows: Rows,
    *,
    epochs: int = 12,
    batch: int = 512,
    rate: float = 0.02,
    l2: float = 1e-6,
    seed: int = 13,
) -> Classifier:
    """Fit weights to `rows`; each label weighted by the inverse of its share, so that a
    label the binary sets lack (neutral) is not swamped."""
    matrix = _matrix([text for text, _ in rows])
    target = np.array([LABELS.index(label) for _, label in rows])
    counts = np.bincount(target, minlength=len(LABELS)).astype(np.float32)
    class_weight = np.where(counts > 0, len(rows) / (len(LABELS) * np.maximum(counts, 1)), 0)
    k = len(LABELS)
    weights = np.zeros((DIMENSIONS, k), dtype=np.float32)
    bias = np.log(np.maximum(counts, 1) / counts.sum()).astype(np.float32)
    moments: list[np.ndarray] = [
        np.zeros_like(weights),
        np.zeros_like(weights),
        np.zeros(k),
        np.zeros(k),
    ]
    generator = np.random.default_rng(seed)
    step = 0
    for _ in range(epochs):
        order = generator.permutation(len(rows))
        for begin in range(0, len(rows), batch):
            chosen = order[begin : begin + batch]
            step += 1
            grad_w, grad_b = _gradient(matrix, chosen, target, class_weight, weights, bias)
            grad_w += l2 * weights
            _adam(weights, grad_w, moments[0], moments[1], step, rate)
            _adam(bias, grad_b, moments[2], moments[3], step, rate)
    return Classifier(weights, bias)


def _gradient(
    matrix: _Sparse,
    chosen: np.ndarray,
    target: np.ndarray,
    class_weight: np.ndarray,
    weights: np.ndarray,
    bias: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    # The non-zeros of the chosen rows, renumbered 0..len(chosen)-1.
    spans = [np.arange(matrix.starts[r], matrix.starts[r + 1]) for r in chosen]
    lengths = np.array([len(s) for s in spans])
    nz = np.concatenate(spans)
    local = np.repeat(np.arange(len(chosen)), lengths)
    idx, val = matrix.indices[nz], matrix.values[nz]
    k = weights.shape[1]
    gathered = weights[idx]
    logits = (
        np.stack(
            [
                np.bincount(local, weights=val * gathered[:, c], minlength=len(chosen))
                for c in range(k)
            ],
            axis=1,
        )
        + bias
    )
    logits -= logits.max(axis=1, keepdims=True)
    prob = np.exp(logits)
    prob /= prob.sum(axis=1, keepdims=True)
    truth = target[chosen]
    error = prob
    error[np.arange(len(chosen)), truth] -= 1.0
    error *= class_weight[truth][:, None] / len(chosen)
    grad_w = np.zeros_like(weights)
    for c in range(k):
        grad_w[:, c] = np.bincount(idx, weights=val * error[local, c], minlength=DIMENSIONS)
    return grad_w, error.sum(axis=0)


def _adam(
    param: np.ndarray,
    grad: np.ndarray,
    first: np.ndarray,
    second: np.ndarray,
    step: int,
    rate: float,
    beta1: float = 0.9,
    beta2: float = 0.999,
) -> None:
    first *= beta1
    first += (1 - beta1) * grad
    second *= beta2
    second += (1 - beta2) * grad * grad
    corrected = rate * np.sqrt(1 - beta2**step) / (1 - beta1**step)
    param -= corrected * first / (np.sqrt(second) + 1e-8)


def f1_report(truth: Sequence[str], predicted: Sequence[str]) -> dict[str, float]:
    """F1 per label present in `truth`, and their mean (`macro`)."""
    scores: dict[str, float] = {}
    for label in LABELS:
        if label not in truth:
            continue
        tp = sum(t == p == label for t, p in zip(truth, predicted, strict=True))
        fp = sum(p == label != t for t, p in zip(truth, predicted, strict=True))
        fn = sum(t == label != p for t, p in zip(truth, predicted, strict=True))
        scores[label] = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    scores["macro"] = sum(scores.values()) / max(len(scores), 1)
    return scores

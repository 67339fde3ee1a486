# ruff: noqa: E402  (the path fix below must run before the imports)
"""The intent head measured offline on cached vectors (bench/embed_cache.py --layers), on
training splits and validation files only, as docs/knowledge.md's "measured next" tables.

    .venv/bin/python bench/intent_offline.py --cache DIR --data DATA [--features F ...]
        [--sets banking,clinc,clinc-oos,xsid] [--folds 3] [--no-rejects]
        [--reject-pool both|rejects|articles] [--reject-held-out 0.5]

F names the head's vector part: `v` (the final normalised vector: the product's head),
`avg:9-12` (the mean of those layers' mean states, each L2-normalised), `cat:8,12` (each
layer's mean state standardised, concatenated, scaled by 1/sqrt(layers) so the part weighs as
one vector beside the letter groups). The nearest-question part always uses the final vector.
BANKING77: the bench's 9,000 training rows (bench/intent.py's 10 % holdout left out), 3 folds
of a seeded 5-fold split. CLINC150: trained on the train file's in-scope rows, measured on
the validation file (out-of-scope rows: val's and the train file's `oos` rows, weighted to the
test file's share, 1,000 of 5,500), with the threshold the head learns. xSID: trained on
xsid_en_valid, mean top-1 accuracy over the non-English test files (the >= 80 % guard)."""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import csv
import random
import time
from collections import defaultdict

import numpy as np

from frontdesk.knowledge import intents

FLOOR = 0.7
Rows = list[tuple[str, str]]


def load(cache: Path, name: str) -> tuple[Rows, np.ndarray, np.ndarray]:
    with open(cache / f"{name}.csv", newline="", encoding="utf-8") as handle:
        rows = [(r["text"], r["label"]) for r in csv.DictReader(handle)]
    vectors = np.load(cache / f"{name}.npy")[: len(rows)]
    stored = cache / "layers" / f"{name}.npy"
    # Without --layers (embed_cache.py) only the final vector (`v`) can be measured.
    layers = (
        np.load(stored)[: len(rows)].astype(np.float32)
        if stored.exists()
        else np.zeros((len(rows), 0, 0), dtype=np.float32)
    )
    return rows, vectors, layers


def bench_holdout(rows: Rows, fraction: float = 0.1, seed: int = 7) -> set[tuple[str, str]]:
    """bench/intent.py's held-out rows (as (text, label)): never used here."""
    by_label: dict[str, Rows] = defaultdict(list)
    for row in rows:
        by_label[row[1]].append(row)
    rng = random.Random(seed)
    test: set[tuple[str, str]] = set()
    for label in sorted(by_label):
        group = by_label[label][:]
        rng.shuffle(group)
        test |= set(group[: max(1, round(len(group) * fraction))])
    return test


def parse_layers(spec: str) -> list[int]:
    out: list[int] = []
    for part in spec.split(","):
        a, _, b = part.partition("-")
        out += list(range(int(a), int(b or a) + 1))
    return out


class Features:
    """The head's vector part for one variant, fitted on training rows."""

    def __init__(self, spec: str) -> None:
        self.spec = spec

    def raw(self, vectors: np.ndarray, layers: np.ndarray) -> list[np.ndarray]:
        kind, _, arg = self.spec.partition(":")
        if kind == "v":
            return [vectors]
        chosen = [layers[:, i - 1] for i in parse_layers(arg)]
        chosen = [c / np.linalg.norm(c, axis=1, keepdims=True) for c in chosen]
        if kind == "avg":
            return [np.mean(chosen, axis=0)]
        return chosen

    def fit(self, vectors: np.ndarray, layers: np.ndarray) -> np.ndarray:
        parts = self.raw(vectors, layers)
        self.stats = [intents._standardiser(p) for p in parts]
        return self.apply(vectors, layers)

    def apply(self, vectors: np.ndarray, layers: np.ndarray) -> np.ndarray:
        parts = self.raw(vectors, layers)
        out = [(p - m) / s for p, (m, s) in zip(parts, self.stats, strict=True)]
        return (np.hstack(out) / np.sqrt(len(out))).astype(intents.DTYPE)


def knn_votes(queries, examples, y, classes, k: int) -> np.ndarray:
    """Each class's share of the query's k nearest examples, weighted by their rescaled
    similarity (a vote over the example questions)."""
    sims = queries @ examples.T
    top = np.argpartition(-sims, k, axis=1)[:, :k]
    out = np.zeros((len(queries), classes), dtype=intents.DTYPE)
    weights = np.maximum(np.take_along_axis(sims, top, axis=1) - FLOOR, 0) / (1 - FLOOR)
    np.add.at(out, (np.arange(len(queries))[:, None], y[top]), weights)
    return out / np.maximum(out.sum(1, keepdims=True), 1e-9)


KNN = (0, 0.0)
_plain_train = intents._train
_plain_nearest = intents.nearest_scores


def nearest_with_votes(queries, examples, y, classes, floor):
    """The nearest-question score plus the k-nearest vote, scaled so that the combined score
    is (1 - share) x the product's + share x the vote (up to one factor: same ranking, and
    the threshold learned on the same score), in the calibration as in the measure."""
    out = _plain_nearest(queries, examples, y, classes, floor)
    k, share = KNN
    alpha = share / ((1 - share) * (1 - intents.HEAD_SHARE))
    for start in range(0, len(queries), 512):
        block = slice(start, start + 512)
        out[block] += alpha * knn_votes(queries[block], examples, y, classes, k)
    return out


def balanced_train(x: np.ndarray, y: np.ndarray, classes: int) -> tuple[np.ndarray, np.ndarray]:
    """intents._train with each example weighted by n / (classes x its class's count): rows
    are repeated in the loss by their weight through a scaled one-hot (same optimiser)."""
    counts = np.bincount(y, minlength=classes).astype(np.float64)
    weight = (len(y) / (classes * counts[y])).astype(intents.DTYPE)
    # Scaling a row of x and its one-hot target is not a reweighting; instead resample rows
    # so each class has about the same count (seeded), then train as usual.
    rng = np.random.default_rng(intents.SEED)
    reps = np.floor(weight + rng.random(len(y))).astype(int)
    rows = np.repeat(np.arange(len(y)), np.maximum(reps, 1))
    return _plain_train(x[rows], y[rows], classes)


def head(spec: str, vectors, layers, texts, y, classes, *, calibrate: bool):
    features = Features(spec)
    x = features.fit(vectors, layers)
    idf = intents._idf(intents._term_counts(texts))
    x = np.hstack([x, intents.gram_features(texts, idf)])
    threshold = intents._calibrate(x, vectors, y, classes, FLOOR) if calibrate else 0.0
    w, b = intents._train(x, y, classes)

    def scores(qv, ql, qt):
        xq = np.hstack([features.apply(qv, ql), intents.gram_features(qt, idf)])
        p = intents._softmax(xq @ w + b)
        return intents.combine(p, intents.nearest_scores(qv, vectors, y, classes, FLOOR))

    return scores, threshold


def banking(cache: Path, spec: str, folds: int) -> float:
    rows, vectors, layers = load(cache, "banking77_train")
    held = bench_holdout(rows)
    keep = np.array([r not in held for r in rows])
    rows = [r for r, k in zip(rows, keep, strict=True) if k]
    vectors, layers = vectors[keep], layers[keep]
    labels, y = np.unique([r[1] for r in rows], return_inverse=True)
    fold = np.random.default_rng(intents.SEED).permutation(len(rows)) % 5
    texts = np.array([r[0] for r in rows], dtype=object)
    accs = []
    for k in range(folds):
        tr, te = fold != k, fold == k
        scores, _ = head(spec, vectors[tr], layers[tr], list(texts[tr]), y[tr], len(labels),
                         calibrate=False)  # fmt: skip
        s = scores(vectors[te], layers[te], list(texts[te]))
        accs.append(float(np.mean(s.argmax(1) == y[te])))
    return float(np.mean(accs))


def clinc(cache: Path, spec: str) -> tuple[float, float, float]:
    rows, vectors, layers = load(cache, "clinc150_train")
    oos_train = np.array([r[1] == "oos" for r in rows])
    ins = ~oos_train
    labels, y = np.unique([r[1] for r in rows if r[1] != "oos"], return_inverse=True)
    scores, t = head(spec, vectors[ins], layers[ins], [r[0] for r in rows if r[1] != "oos"], y,
                     len(labels), calibrate=True)  # fmt: skip
    vrows, vv, vl = load(cache, "clinc150_val")
    vo = np.array([r[1] == "oos" for r in vrows])
    s_in = scores(vv[~vo], vl[~vo], [r[0] for r in vrows if r[1] != "oos"])
    gold = np.searchsorted(labels, [r[1] for r in vrows if r[1] != "oos"])
    s_oos = np.vstack(
        [
            scores(vv[vo], vl[vo], [r[0] for r in vrows if r[1] == "oos"]),
            scores(vectors[oos_train], layers[oos_train], [r[0] for r in rows if r[1] == "oos"]),
        ]
    )
    top_in, top_oos = s_in.max(1), s_oos.max(1)
    right = s_in.argmax(1) == gold
    accuracy = float(np.mean(right & (top_in >= t)))
    weight = (1000 / 4500) * len(top_in) / len(top_oos)
    tp = weight * float(np.sum(top_oos < t))
    fn = weight * len(top_oos) - tp
    fp = float(np.sum(top_in < t))
    f1 = 2 * tp / max(2 * tp + fp + fn, 1e-9)
    return accuracy, f1, float(np.mean(right))


def clinc_oos(cache: Path, spec: str) -> tuple[float, float, float]:
    """CLINC150 with out-of-scope questions given to the head as rejected questions (the
    product's "questions no article answers"): trained on the train file's in-scope rows
    plus one file's 100 `oos` rows, measured on the validation file's in-scope rows and the
    *other* file's 100 `oos` rows (weighted to the test file's share), both ways round
    (train's `oos` rows given / val's measured, then the reverse); the two runs averaged."""
    rows, vectors, _ = load(cache, "clinc150_train")
    vrows, vv, _ = load(cache, "clinc150_val")
    t_oos = np.array([r[1] == "oos" for r in rows])
    v_oos = np.array([r[1] == "oos" for r in vrows])
    labels, y = np.unique([r[1] for r in rows if r[1] != "oos"], return_inverse=True)
    ins_texts = [r[0] for r in rows if r[1] != "oos"]
    gold = np.searchsorted(labels, [r[1] for r in vrows if r[1] != "oos"])
    out = []
    for given, given_texts, measured, measured_texts in (
        (vectors[t_oos], [r[0] for r in rows if r[1] == "oos"], vv[v_oos],
         [r[0] for r in vrows if r[1] == "oos"]),
        (vv[v_oos], [r[0] for r in vrows if r[1] == "oos"], vectors[t_oos],
         [r[0] for r in rows if r[1] == "oos"]),
    ):  # fmt: skip
        head = intents.train(
            vectors[~t_oos], y.tolist(), fingerprint="offline", floor=FLOOR, texts=ins_texts,
            rejects=given if REJECTS else None, reject_texts=given_texts,
        )  # fmt: skip
        assert head is not None
        examples = vectors[~t_oos]

        def scores(
            qv: np.ndarray, qt: list[str], head=head, examples=examples, given=given
        ) -> tuple[np.ndarray, np.ndarray]:
            """The articles' scores, and the top one refused when "none of these" wins."""
            out = head.outputs(qv, qt)
            s = intents.combine(
                out[:, : len(labels)], intents.nearest_scores(qv, examples, y, len(labels), FLOOR)
            )
            if not head.rejects:
                return s, s.max(1)
            return s, intents.refused(s.max(1), intents.reject_scores(out[:, -1], qv, given, FLOOR))

        s_in, top_in = scores(vv[~v_oos], [r[0] for r in vrows if r[1] != "oos"])
        _, top_oos = scores(measured, measured_texts)
        t = head.threshold
        right = s_in.argmax(1) == gold
        accuracy = float(np.mean(right & (top_in >= t)))
        weight = (1000 / 4500) * len(top_in) / len(top_oos)
        tp = weight * float(np.sum(top_oos < t))
        fn = weight * len(top_oos) - tp
        fp = float(np.sum(top_in < t))
        f1 = 2 * tp / max(2 * tp + fp + fn, 1e-9)
        print(f"    threshold {t:.3f}: in scope {accuracy:.4f}, OOS F1 {f1:.4f}"
              f" (recall {tp / (weight * len(top_oos)):.3f})", flush=True)  # fmt: skip
        out.append((accuracy, f1, float(np.mean(right))))
    return tuple(float(np.mean([o[i] for o in out])) for i in range(3))  # type: ignore[return-value]


REJECTS = True


def xsid(cache: Path, spec: str) -> float:
    rows, vectors, layers = load(cache, "xsid_en_valid")
    labels, y = np.unique([r[1] for r in rows], return_inverse=True)
    scores, _ = head(spec, vectors, layers, [r[0] for r in rows], y, len(labels),
                     calibrate=False)  # fmt: skip
    accs = []
    for lang in ("de", "id", "it", "ja", "tr", "zh"):
        trows, tv, tl = load(cache, f"xsid_{lang}_test")
        s = scores(tv, tl, [r[0] for r in trows])
        pred = labels[s.argmax(1)]
        accs.append(float(np.mean(pred == np.array([r[1] for r in trows]))))
    return float(np.mean(accs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", required=True)
    parser.add_argument("--features", nargs="+", default=["v"])
    parser.add_argument("--sets", default="banking,clinc,xsid")
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--knn", default="0,0", help="K,SHARE: a k-nearest vote's share")
    parser.add_argument("--l2", type=float, default=intents.L2)
    parser.add_argument("--balanced", action="store_true", help="class-balanced weights")
    parser.add_argument("--no-rejects", action="store_true", help="clinc-oos without rejects")
    parser.add_argument("--reject-pool", default=intents.REJECT_POOL)
    parser.add_argument("--reject-held-out", type=float, default=intents.REJECT_HELD_OUT)
    parser.add_argument("--reject-wins", type=int, default=int(intents.REJECT_WINS))
    parser.add_argument("--reject-nearest", default=intents.REJECT_NEAREST)
    args = parser.parse_args()
    intents.REJECT_WINS = bool(args.reject_wins)
    intents.REJECT_NEAREST = args.reject_nearest
    intents.L2 = args.l2
    intents.REJECT_POOL = args.reject_pool
    intents.REJECT_HELD_OUT = args.reject_held_out
    global REJECTS
    REJECTS = not args.no_rejects
    if args.balanced:
        intents._train = balanced_train
    global KNN
    k, share = args.knn.split(",")
    KNN = (int(k), float(share))
    if KNN[0]:
        intents.nearest_scores = nearest_with_votes
    cache = Path(args.cache)
    for spec in args.features:
        for name in args.sets.split(","):
            started = time.process_time()
            if name == "banking":
                result = f"accuracy {banking(cache, spec, args.folds):.4f}"
            elif name in ("clinc", "clinc-oos"):
                acc, f1, top1 = (clinc if name == "clinc" else clinc_oos)(cache, spec)
                result = f"in scope {acc:.4f} (top-1 {top1:.4f}), OOS F1 {f1:.4f}"
            else:
                result = f"mean {xsid(cache, spec):.4f}"
            cpu = time.process_time() - started
            print(f"{spec:>14} {name:8} {result}  [{cpu:.0f} s CPU]", flush=True)


if __name__ == "__main__":
    main()

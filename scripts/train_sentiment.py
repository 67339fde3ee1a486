#!/usr/bin/env python
"""Train the shipped sentiment classifier (src/frontdesk/sentiment/data/sentiment-v1.npz).

    .venv/bin/python scripts/train_sentiment.py [--data /work/shared/data/sentiment]
        [--splits DIR] [--test-share 0.2] [--seed 13] [--out PATH]

Reads every `sentiment_<lang>_<name>_train.csv` of --data (header `text,label`). With
--splits DIR it also writes, per language, the stratified held-out part of each file
(`DIR/<lang>_test.csv`), the rest (`DIR/<lang>_train.csv`) and the rest of all languages
(`DIR/all_train.csv`), which bench/sentiment.py takes as --train / --test. The shipped model
is trained on every row (the held-out figures in docs/sentiment.md come from all_train.csv).
The training sets' licences are in src/frontdesk/sentiment/data/NOTICE.md."""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from frontdesk.sentiment.model import WEIGHTS
from frontdesk.sentiment.training import Rows, read_csv, split, train, write_csv


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="/work/shared/data/sentiment")
    parser.add_argument("--splits", help="write per-language train/test CSVs here")
    parser.add_argument("--test-share", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--out", default=str(WEIGHTS))
    args = parser.parse_args()
    files = sorted(Path(args.data).glob("sentiment_*_train.csv"))
    if not files:
        raise SystemExit(f"no sentiment_*_train.csv in {args.data}")
    everything: Rows = []
    parts: dict[str, tuple[Rows, Rows]] = defaultdict(lambda: ([], []))
    for path in files:
        rows = read_csv(path)
        language = path.name.split("_")[1]
        held_in, held_out = split(rows, test_share=args.test_share, seed=args.seed)
        parts[language][0].extend(held_in)
        parts[language][1].extend(held_out)
        everything += rows
        print(f"{path.name}: {len(rows)} rows ({len(held_out)} held out)")
    if args.splits:
        folder = Path(args.splits)
        folder.mkdir(parents=True, exist_ok=True)
        for language, (held_in, held_out) in sorted(parts.items()):
            write_csv(folder / f"{language}_train.csv", held_in)
            write_csv(folder / f"{language}_test.csv", held_out)
        write_csv(
            folder / "all_train.csv", [row for held_in, _ in parts.values() for row in held_in]
        )
        print(f"splits written to {folder}")
    started = time.perf_counter()
    classifier = train(everything, seed=args.seed)
    out = Path(args.out)
    classifier.save(out)
    print(
        f"trained on {len(everything)} rows in {time.perf_counter() - started:.1f} s; "
        f"{out} ({out.stat().st_size / 1e6:.2f} MB)"
    )


if __name__ == "__main__":
    main()

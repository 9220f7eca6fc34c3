"""A numpy forward pass of a BERT sentence encoder (all-MiniLM-L6-v2), with no torch.

The weights are read straight from ``model.safetensors`` (a memory map: nothing is copied until a
layer needs it) and the text is tokenized with the ``tokenizers`` package from ``tokenizer.json``.
The output is what sentence-transformers computes for this model: mean pooling of the last hidden
states over the attention mask, then L2 normalisation, with sequences truncated to
``max_seq_length`` (256) tokens.

The dense layers run over the real tokens of a batch only (packed, no padding); attention runs per
group of sequences of similar length, padded to the longest of the group. Texts are sorted by
length first, so a batch of mixed lengths costs about its real tokens, and the vectors come back in
the caller's order.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from pathlib import Path

import numpy as np

__all__ = [
    "SEQUENCES_PER_PASS",
    "TOKENS_PER_PASS",
    "BertEncoder",
    "drain_passes",
    "forward_passes",
    "read_safetensors",
]

_DTYPES = {"F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32}
_SQRT_HALF = 1.0 / math.sqrt(2.0)
# Abramowitz & Stegun 7.1.26: |error| < 1.5e-7, below float32 resolution of GELU's output.
_ERF_P = 0.3275911
_ERF_A = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)


def read_safetensors(path: str | Path) -> dict[str, np.ndarray]:
    """The tensors of a ``.safetensors`` file as read-only numpy arrays over a memory map."""
    with open(path, "rb") as handle:
        header_size = int.from_bytes(handle.read(8), "little")
        header = json.loads(handle.read(header_size))
    data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + header_size)
    tensors: dict[str, np.ndarray] = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        dtype = _DTYPES[info["dtype"]]
        tensors[name] = data[start:end].view(dtype).reshape(info["shape"])
    return tensors


def _gelu(x: np.ndarray, block: int = 1 << 15) -> np.ndarray:
    """BERT's exact (erf) GELU, in place, a cache-sized block at a time.

    ``gelu(x) = x * Phi(x) = relu(x) - |x| * erfc(|x| / sqrt 2) / 2``, with erfc from
    Abramowitz & Stegun 7.1.26.
    """
    flat = x.reshape(-1)
    a1, a2, a3, a4, a5 = (np.float32(a) for a in _ERF_A)
    half_erfc = np.empty(min(block, flat.size), dtype=np.float32)
    t = np.empty_like(half_erfc)
    scratch = np.empty_like(half_erfc)
    for start in range(0, flat.size, block):
        part = flat[start : start + block]
        n = part.size
        z, tb, e = half_erfc[:n], t[:n], scratch[:n]
        np.abs(part, out=z)
        z *= np.float32(_SQRT_HALF)  # |x| / sqrt 2
        np.multiply(z, z, out=e)
        np.negative(e, out=e)
        np.exp(e, out=e)  # exp(-z^2)
        np.multiply(z, np.float32(_ERF_P), out=tb)
        tb += 1.0
        np.reciprocal(tb, out=tb)
        np.multiply(tb, a5, out=z)
        for a in (a4, a3, a2, a1):
            z += a
            z *= tb
        z *= e
        z *= np.float32(0.5)  # erfc(|x| / sqrt 2) / 2
        np.abs(part, out=e)
        e *= z
        np.maximum(part, 0.0, out=part)
        part -= e
    return x


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    variance = np.mean(centred * centred, axis=-1, keepdims=True)
    centred /= np.sqrt(variance + eps)
    centred *= weight
    centred += bias
    return centred


class _Layer:
    """One transformer layer's weights, laid out for ``x @ W`` (query, key, value fused)."""

    def __init__(self, tensors: dict[str, np.ndarray], prefix: str) -> None:
        def weight(name: str) -> np.ndarray:
            return np.ascontiguousarray(tensors[f"{prefix}.{name}.weight"].T, dtype=np.float32)

        def vector(name: str) -> np.ndarray:
            return np.asarray(tensors[f"{prefix}.{name}"], dtype=np.float32)

        self.qkv = np.ascontiguousarray(
            np.concatenate(
                [
                    weight("attention.self.query"),
                    weight("attention.self.key"),
                    weight("attention.self.value"),
                ],
                axis=1,
            )
        )
        self.qkv_bias = np.concatenate(
            [
                vector("attention.self.query.bias"),
                vector("attention.self.key.bias"),
                vector("attention.self.value.bias"),
            ]
        )
        self.attention_out = weight("attention.output.dense")
        self.attention_out_bias = vector("attention.output.dense.bias")
        self.attention_norm = (
            vector("attention.output.LayerNorm.weight"),
            vector("attention.output.LayerNorm.bias"),
        )
        self.intermediate = weight("intermediate.dense")
        self.intermediate_bias = vector("intermediate.dense.bias")
        self.output = weight("output.dense")
        self.output_bias = vector("output.dense.bias")
        self.output_norm = (vector("output.LayerNorm.weight"), vector("output.LayerNorm.bias"))


TOKENS_PER_PASS = 512
"""Padded tokens per forward pass (``benchmarks/embedding_batches.py`` measures the choice)."""
SEQUENCES_PER_PASS = 16
"""Sequences per forward pass at most (measured with :data:`TOKENS_PER_PASS`, same benchmark)."""


def drain_passes(
    passes: Sequence[list[int]],
    run: Callable[[list[int]], None],
    *,
    pool: Executor | None,
    threads: int,
    caller_drains: bool = True,
) -> None:
    """Run ``run(chosen)`` for every pass on ``threads`` threads at once, each taking the next pass
    until none is left: ``pool``'s, and the calling thread too where ``caller_drains`` (no pool:
    the calling thread alone). Returns once every pass has run; a pass's error is raised."""
    remaining = iter(passes)
    taking = threading.Lock()

    def drain() -> None:
        while True:
            with taking:
                chosen = next(remaining, None)
            if chosen is None:
                return
            run(chosen)

    helpers = 0 if pool is None else min(threads, len(passes)) - int(caller_drains)
    started = [pool.submit(drain) for _ in range(helpers)] if pool is not None else []
    if caller_drains or not started:
        drain()
    for future in started:
        future.result()


def forward_passes(ids: Sequence[Sequence[int]], *, max_sequences: int, max_tokens: int) -> list[list[int]]:
    """The indexes of ``ids`` sorted by length and cut into forward passes: each as many as fit in
    ``max_tokens`` padded tokens (at least one, at most ``max_sequences``)."""
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    passes: list[list[int]] = []
    current: list[int] = []
    for index in order:
        # sorted: the newcomer is the longest, so the pass would be padded to its length
        full = len(current) >= max_sequences or (len(current) + 1) * len(ids[index]) > max_tokens
        if current and full:
            passes.append(current)
            current = []
        current.append(index)
    if current:
        passes.append(current)
    return passes


class BertEncoder:
    """Sentence embeddings from a BERT checkpoint folder (``config.json``, ``tokenizer.json``,
    ``model.safetensors``): mean pooled over the attention mask and L2-normalised.

    ``max_seq_length`` truncates each text (sentence-transformers' value for the model, 256 by
    default). A forward pass holds texts of similar length (sorted), at most ``batch_size`` of
    them and at most ``tokens_per_pass`` tokens, padding included: a pass's activations then stay
    in a core's cache (measured in ``docs/embedded_default.md``: 512 tokens encoded long texts about
    twice as fast as passes of 64 of them).
    Thread-safe: one forward pass at a time (BLAS already uses every core). The weights are
    attributes other forward passes build from (the ONNX graph, the torch pass), not to be
    modified: ``word_embeddings``, ``position_embeddings``, ``token_type_embedding``,
    ``embedding_norm`` and ``layers``.
    """

    def __init__(
        self,
        folder: str | Path,
        *,
        max_seq_length: int | None = None,
        batch_size: int = SEQUENCES_PER_PASS,
        tokens_per_pass: int = TOKENS_PER_PASS,
    ) -> None:
        from tokenizers import Tokenizer

        folder = Path(folder)
        config = json.loads((folder / "config.json").read_text())
        if max_seq_length is None:
            st_config = folder / "sentence_bert_config.json"
            max_seq_length = (
                int(json.loads(st_config.read_text()).get("max_seq_length", 256))
                if st_config.exists()
                else 256
            )
        self.max_seq_length = min(max_seq_length, int(config["max_position_embeddings"]))
        self.batch_size = batch_size
        self.tokens_per_pass = tokens_per_pass
        self.hidden_size = int(config["hidden_size"])
        self.heads = int(config["num_attention_heads"])
        self.head_size = self.hidden_size // self.heads
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        if config.get("hidden_act", "gelu") != "gelu":
            raise ValueError(f"unsupported activation {config.get('hidden_act')!r}")

        tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        tokenizer.no_padding()
        tokenizer.enable_truncation(max_length=self.max_seq_length)
        self._tokenizer = tokenizer

        tensors = read_safetensors(folder / "model.safetensors")
        prefix = "bert." if "bert.embeddings.word_embeddings.weight" in tensors else ""
        self.word_embeddings = np.asarray(
            tensors[f"{prefix}embeddings.word_embeddings.weight"], dtype=np.float32
        )
        self.position_embeddings = np.asarray(
            tensors[f"{prefix}embeddings.position_embeddings.weight"], dtype=np.float32
        )
        self.token_type_embedding = np.asarray(
            tensors[f"{prefix}embeddings.token_type_embeddings.weight"][0], dtype=np.float32
        )
        self.embedding_norm = (
            np.asarray(tensors[f"{prefix}embeddings.LayerNorm.weight"], dtype=np.float32),
            np.asarray(tensors[f"{prefix}embeddings.LayerNorm.bias"], dtype=np.float32),
        )
        self.layers = [
            _Layer(tensors, f"{prefix}encoder.layer.{i}") for i in range(int(config["num_hidden_layers"]))
        ]
        self._lock = threading.Lock()

    @property
    def dimensions(self) -> int:
        """The vector size (the hidden size)."""
        return self.hidden_size

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Each text's token ids, ``[CLS] ... [SEP]``, truncated to ``max_seq_length``."""
        return [encoding.ids for encoding in self._tokenizer.encode_batch(list(texts))]

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors, one row per text, in the order given (float32, shape ``(n, hidden)``)."""
        return self.encode_ids(self.token_ids(texts))

    def batches(self, ids: Sequence[Sequence[int]]) -> list[list[int]]:
        """The forward passes for ``ids``: their indexes sorted by length, each pass as many as fit
        in ``tokens_per_pass`` padded tokens (at least one, at most ``batch_size``), so a pass holds
        sequences of similar length and pads little."""
        return forward_passes(ids, max_sequences=self.batch_size, max_tokens=self.tokens_per_pass)

    def encode_ids(self, ids: Sequence[Sequence[int]]) -> np.ndarray:
        """:meth:`encode` for texts tokenized already; rows in the order of ``ids``."""
        out = np.empty((len(ids), self.hidden_size), dtype=np.float32)
        with self._lock:
            for chosen in self.batches(ids):
                out[chosen] = self._forward([ids[i] for i in chosen])
        return out

    # --- the forward pass ---------------------------------------------------------------------------
    def _forward(self, batch: Sequence[Sequence[int]]) -> np.ndarray:
        lengths = np.fromiter((len(seq) for seq in batch), dtype=np.int64, count=len(batch))
        total = int(lengths.sum())
        flat = np.fromiter((token for seq in batch for token in seq), dtype=np.int64, count=total)
        offsets = np.zeros(len(batch), dtype=np.int64)
        np.cumsum(lengths[:-1], out=offsets[1:])
        positions = np.arange(total, dtype=np.int64) - np.repeat(offsets, lengths)

        longest = int(lengths.max())
        # padded[b, t] -> row of the packed tokens (``total`` is an all-zero padding row)
        slots = np.arange(longest, dtype=np.int64)
        valid = slots[None, :] < lengths[:, None]
        padded = np.where(valid, offsets[:, None] + slots[None, :], total)
        additive = np.where(valid, np.float32(0.0), np.finfo(np.float32).min).astype(np.float32)
        additive = additive[:, None, None, :]  # (batch, 1, 1, keys)

        x = self.word_embeddings[flat] + self.position_embeddings[positions] + self.token_type_embedding
        x = _layer_norm(x, *self.embedding_norm, self.eps)
        for layer in self.layers:
            x = self._layer(layer, x, padded, valid, additive)
        pooled = np.add.reduceat(x, offsets, axis=0) / lengths[:, None].astype(np.float32)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return pooled / np.maximum(norms, 1e-12)

    def _layer(
        self, layer: _Layer, x: np.ndarray, padded: np.ndarray, valid: np.ndarray, additive: np.ndarray
    ) -> np.ndarray:
        batch, longest = padded.shape
        heads, size, hidden = self.heads, self.head_size, self.hidden_size
        qkv = x @ layer.qkv
        qkv += layer.qkv_bias
        qkv = np.concatenate([qkv, np.zeros((1, qkv.shape[1]), dtype=np.float32)])[padded]
        qkv = qkv.reshape(batch, longest, 3, heads, size).transpose(2, 0, 3, 1, 4)  # (3, b, h, t, d)
        query = np.ascontiguousarray(qkv[0])
        key = np.ascontiguousarray(qkv[1].transpose(0, 1, 3, 2))
        value = np.ascontiguousarray(qkv[2])
        scores = query @ key
        scores *= np.float32(1.0 / math.sqrt(size))
        scores += additive
        scores -= scores.max(axis=-1, keepdims=True)
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=-1, keepdims=True)
        context = (scores @ value).transpose(0, 2, 1, 3).reshape(batch, longest, hidden)[valid]
        attended = context @ layer.attention_out
        attended += layer.attention_out_bias
        attended += x
        x = _layer_norm(attended, *layer.attention_norm, self.eps)
        inner = x @ layer.intermediate
        inner += layer.intermediate_bias
        out = _gelu(inner) @ layer.output
        out += layer.output_bias
        out += x
        return _layer_norm(out, *layer.output_norm, self.eps)

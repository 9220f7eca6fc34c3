"""The BERT sentence encoder of :mod:`.bert` on torch in bfloat16: the bulk path for ingestion.

On a CPU with native bfloat16 matrix units (AMX or AVX512-BF16), torch multiplies bfloat16
matrices several times faster than float32, and MiniLM's vectors hardly move: the matrix products
run in bfloat16 with float32 accumulation (with the attention and the GELU between them, as
``torch.autocast`` runs them), while the layer norms, the residual sums and the pooling stay in
float32. Measured on the development
machine's Sapphire Rapids cores against sentence-transformers' float32 vectors: cosine ≥ 0.99997
on Cranfield abstracts, and about 2.8x the float32 onnxruntime pass's rate on two cores
(``docs/embedded_default.md``). On a CPU without them bfloat16 is emulated and slower than the
float32 pass, so :func:`bfloat16_native` decides whether this path is offered at all.

The weights are the :class:`~.bert.BertEncoder`'s own arrays, converted once; torch is imported
only when this module is (the embedder does it on a worker thread, for a call large enough to
be worth it: :class:`~.minilm.MiniLMEmbedder`).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from motadata_ai.adapters.local.bert import BertEncoder, drain_passes, forward_passes
from motadata_ai.adapters.local.minilm import available_cores

__all__ = ["TORCH_TOKENS_PER_PASS", "TorchBertEncoder", "bfloat16_native", "per_thread_threads"]

TORCH_TOKENS_PER_PASS = 1024
"""Padded tokens per bfloat16 pass (four texts of 256 tokens). One pass on two threads encoded
as fast at 1,024 as at 4,096; with a worker per core, a 64-chunk ingest call cut into 1,024-token
passes leaves a worker idle for at most one short pass at its end (``docs/embedded_default.md``)."""
BF16 = torch.bfloat16


def bfloat16_native() -> bool:
    """Whether this CPU multiplies bfloat16 natively (AMX tiles or AVX512-BF16), as torch sees it."""
    cpu: Any = getattr(torch, "cpu", None)
    checks = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")
    return any(bool(getattr(cpu, name, lambda: False)()) for name in checks)


def per_thread_threads() -> bool:
    """Whether each thread keeps its own intra-op thread count once it has run torch (torch's
    OpenMP backend), so a pool's threads can run single-threaded beside the rest of the process."""
    return "parallel backend: OpenMP" in torch.__config__.parallel_info()


_SETTING_THREADS = threading.Lock()


def _single_threaded_pool(workers: int, threads: int) -> ThreadPoolExecutor:
    """``workers`` started threads that run torch on ``threads`` intra-op threads each, with the
    rest of the process's threads left as they were.

    ``torch.set_num_threads`` sets the calling thread's OpenMP count and also a process-wide value
    that every thread adopts when it first runs torch (a thread started later, or one that has not
    run torch yet), so each pool thread first runs torch (taking its count as it is), then sets
    its own; once all have, the process-wide value is put back as it was.
    """
    with _SETTING_THREADS:
        before = torch.get_num_threads()
        ready = threading.Barrier(workers + 1, timeout=60)  # a thread that failed to start breaks it

        def start() -> None:
            torch.get_num_threads()  # this thread's first torch call: its count initialised
            torch.set_num_threads(threads)
            ready.wait()

        pool = ThreadPoolExecutor(workers, thread_name_prefix="minilm-bf16", initializer=start)
        for _ in range(workers):
            pool.submit(int)  # each submit starts one more thread, up to ``workers``
        ready.wait()
        torch.set_num_threads(before)
    return pool


class TorchBertEncoder:
    """Unit vectors from a loaded :class:`BertEncoder`'s weights, with its tokenizer, in bfloat16.

    ``workers``: how many passes of a call run at once, each on a thread of the encoder's pool
    with ``threads`` intra-op threads (default: one worker per available core, one thread each;
    one worker is the calling thread on torch's threads). Independent
    single-threaded passes keep both cores of a 2-core machine busy where one pass on two threads
    waits at every operator for the thread that the event loop or PostgreSQL slowed down (measured
    in ``docs/embedded_default.md``). The rest of the process keeps its torch threads; where a
    thread's count cannot be its own (:func:`per_thread_threads` false) there is one worker on
    torch's threads. Thread-safe: one call at a time.
    """

    def __init__(
        self,
        base: BertEncoder,
        *,
        workers: int | None = None,
        threads: int = 1,
        max_tokens: int = TORCH_TOKENS_PER_PASS,
    ) -> None:
        self.base = base
        self.max_tokens = max_tokens
        self.hidden_size = base.hidden_size
        wanted = available_cores() if workers is None else max(1, workers)
        self.workers = wanted if per_thread_threads() else 1
        self.threads = max(1, threads)
        self._pool: ThreadPoolExecutor | None = None
        if self.workers > 1:
            self._pool = _single_threaded_pool(self.workers, self.threads)
        self._lock = threading.Lock()

        def matrix(array: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(np.ascontiguousarray(array)).to(BF16)

        def vector(array: np.ndarray, dtype: torch.dtype = torch.float32) -> torch.Tensor:
            return torch.from_numpy(np.array(array, dtype=np.float32)).to(dtype)

        self._word = vector(base.word_embeddings)
        self._position = vector(base.position_embeddings)
        self._token_type = vector(base.token_type_embedding)
        self._embedding_norm = tuple(vector(a) for a in base.embedding_norm)
        self._layers = [
            {
                "qkv": matrix(layer.qkv),
                "qkv_bias": vector(layer.qkv_bias, BF16),
                "attention_out": matrix(layer.attention_out),
                "attention_out_bias": vector(layer.attention_out_bias),
                "attention_norm": tuple(vector(a) for a in layer.attention_norm),
                "intermediate": matrix(layer.intermediate),
                "intermediate_bias": vector(layer.intermediate_bias, BF16),
                "output": matrix(layer.output),
                "output_bias": vector(layer.output_bias),
                "output_norm": tuple(vector(a) for a in layer.output_norm),
            }
            for layer in base.layers
        ]

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """The base encoder's token ids for ``texts``."""
        return self.base.token_ids(texts)

    def encode_ids(self, ids: Sequence[Sequence[int]]) -> np.ndarray:
        """Unit vectors (float32 rows, in the order of ``ids``) for texts tokenized already."""
        out = np.empty((len(ids), self.hidden_size), dtype=np.float32)

        def run(chosen: list[int]) -> None:
            with torch.inference_mode():
                out[chosen] = self._forward([ids[i] for i in chosen])

        passes = forward_passes(ids, max_sequences=len(ids), max_tokens=self.max_tokens)
        with self._lock:  # the pool's threads only: the caller's torch threads stay as they were
            drain_passes(passes, run, pool=self._pool, threads=self.workers, caller_drains=False)
        return out

    def _forward(self, batch: Sequence[Sequence[int]]) -> np.ndarray:
        count, longest = len(batch), max(len(seq) for seq in batch)
        ids = torch.zeros((count, longest), dtype=torch.long)
        mask = torch.zeros((count, longest), dtype=torch.bool)
        for row, seq in enumerate(batch):
            ids[row, : len(seq)] = torch.tensor(seq, dtype=torch.long)
            mask[row, : len(seq)] = True
        eps, hidden = self.base.eps, self.hidden_size
        heads, size = self.base.heads, self.base.head_size
        rows = (count * longest, hidden)
        x = self._word[ids] + self._position[:longest][None] + self._token_type
        x = F.layer_norm(x, (hidden,), *self._embedding_norm, eps)
        attend = mask[:, None, None, :]  # (batch, 1, 1, keys): True where a key is a real token
        for layer in self._layers:
            # products in bfloat16 (their bias added there too), sums and norms in float32
            qkv = torch.addmm(layer["qkv_bias"], x.view(rows).to(BF16), layer["qkv"])
            qkv = qkv.view(count, longest, 3, heads, size).permute(2, 0, 3, 1, 4)
            context = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], attn_mask=attend)
            context = context.transpose(1, 2).reshape(rows)
            attended = torch.mm(context, layer["attention_out"]).float().view_as(x)
            attended += layer["attention_out_bias"]
            x = F.layer_norm(attended + x, (hidden,), *layer["attention_norm"], eps)
            inner = torch.addmm(layer["intermediate_bias"], x.view(rows).to(BF16), layer["intermediate"])
            inner = F.gelu(inner)
            out = torch.mm(inner, layer["output"]).float().view_as(x) + layer["output_bias"]
            x = F.layer_norm(out + x, (hidden,), *layer["output_norm"], eps)
        weights = mask.to(torch.float32)[:, :, None]
        pooled = (x * weights).sum(dim=1) / weights.sum(dim=1)
        return F.normalize(pooled, dim=1).numpy()

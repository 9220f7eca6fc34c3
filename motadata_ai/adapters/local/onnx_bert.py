"""The BERT sentence encoder of :mod:`.bert` run by onnxruntime instead of numpy.

The graph is built in memory from the encoder's own float32 weights (the same arrays the numpy
pass multiplies, handed to onnxruntime as external initializers, not serialised), so nothing is exported or
downloaded and the vectors are the numpy pass's (cosine ≥ 0.9999999 on Cranfield). onnxruntime runs
a layer as a few fused kernels where numpy makes about twenty calls, each over the whole
activation: interleaved in one process at load 8-9 on the development machine, a short query took
30.2 ms against 61.0 ms (p50, one thread each); on batches the two were within the noise
(``docs/embedded_default.md``). The graph's protobuf is written by :mod:`._onnx_proto` (the
``onnx`` package is not needed). Used when ``onnxruntime`` is installed (the ``local`` extra);
:func:`onnx_available` says whether it is.
"""

from __future__ import annotations

import importlib.util
import math
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from motadata_ai.adapters.local import _onnx_proto as proto
from motadata_ai.adapters.local.bert import SEQUENCES_PER_PASS, TOKENS_PER_PASS, BertEncoder, drain_passes

__all__ = ["OnnxBertEncoder", "onnx_available"]


def onnx_available() -> bool:
    """Whether onnxruntime can be imported (without importing it)."""
    return importlib.util.find_spec("onnxruntime") is not None


class OnnxBertEncoder(BertEncoder):
    """:class:`BertEncoder` whose forward pass is one onnxruntime session.

    A call of one forward pass (a query, a short document) and a call of many (an ingestion
    batch) want different threading, so they run on two sessions over the same weight arrays:

    * ``query_threads`` (default: ``workers``): onnxruntime's intra-op threads for a call of one
      pass, so a query's pass is split over the cores (measured on 2 cores, a 22-token Cranfield
      query: 4.3 ms p50 on two threads against 7.9 ms on one);
    * ``threads`` (one by default) and ``workers``: for a call of many passes, ``workers`` passes
      run at once, each on its own thread with ``threads`` intra-op threads, through one session
      (its ``run`` is thread-safe); measured on 2 cores, two workers encoded long texts 1.9x as
      fast as one, and unlike two intra-op threads they do not wait on each other when the
      machine is busy. This session is built on the first such call (a process that only
      answers queries never builds it), or is the query session when both use as many threads.

    Concurrent calls also run side by side. Sequences of a pass are padded to the pass's longest
    (the passes hold similar lengths), and the padding is masked by the token mask.

    Each layer's attention is onnxruntime's own ``Attention`` operator (domain ``com.microsoft``):
    the q|k|v projection, scaled dot-product attention and the heads' concatenation in one kernel,
    where the plain ONNX graph ran sixteen (reshapes, transposes, gathers, two products, softmax).
    Measured on 2 cores, alternating in one process over the 225 Cranfield queries (22 tokens
    median): 5.87 / 8.77 ms p50 / p95 before, 5.31 / 8.03 ms with it; the vectors agree to a
    cosine of 0.9999999.
    """

    runs_own_threads = True  # onnxruntime's thread count is set here, not through BLAS

    def __init__(
        self,
        folder: str | Path,
        *,
        max_seq_length: int | None = None,
        batch_size: int = SEQUENCES_PER_PASS,
        threads: int = 1,
        workers: int = 1,
        query_threads: int | None = None,
        tokens_per_pass: int = TOKENS_PER_PASS,
    ) -> None:
        super().__init__(
            folder, max_seq_length=max_seq_length, batch_size=batch_size, tokens_per_pass=tokens_per_pass
        )
        self.workers = max(1, workers)
        self.threads = max(1, threads)
        self.query_threads = self.workers if query_threads is None else max(1, query_threads)
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._graph_bytes, self._weights = self._graph()  # the sessions read the arrays in place
        self._query_session = self._session(self.query_threads)
        self._bulk_session = self._query_session if self.threads == self.query_threads else None

    def _session(self, threads: int) -> Any:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        # no arena: it kept the largest batch's activations (about 75 MB of peak RSS) for good
        options.enable_cpu_mem_arena = False
        options.enable_mem_pattern = False
        # no spinning: idle intra-op threads that spin after a run take a core from the rest of
        # the process and from PostgreSQL (a dense search's SQL p95 6.3 ms with it, 10.4 without)
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_external_initializers(
            list(self._weights),
            [onnxruntime.OrtValue.ortvalue_from_numpy(array) for array in self._weights.values()],
        )
        return onnxruntime.InferenceSession(self._graph_bytes, options, providers=["CPUExecutionProvider"])

    def _bulk(self) -> tuple[Any, ThreadPoolExecutor | None]:
        """The many-pass session and the helper threads (``workers - 1``), built on first use."""
        with self._lock:
            if self._bulk_session is None:
                self._bulk_session = self._session(self.threads)
            if self._pool is None and self.workers > 1:
                self._pool = ThreadPoolExecutor(self.workers - 1, thread_name_prefix="minilm-pass")
            return self._bulk_session, self._pool

    def encode_ids(self, ids: Sequence[Sequence[int]]) -> np.ndarray:
        """Unit vectors for texts tokenized already, rows in the order of ``ids``: one pass on the
        query session, more on up to ``workers`` threads at once through the bulk session."""
        out = np.empty((len(ids), self.hidden_size), dtype=np.float32)
        passes = self.batches(ids)
        if len(passes) == 1:
            out[passes[0]] = self._forward(self._query_session, [ids[i] for i in passes[0]])
            return out
        session, pool = self._bulk()

        def run(chosen: list[int]) -> None:
            out[chosen] = self._forward(session, [ids[i] for i in chosen])

        # the calling thread drains too: ``workers`` threads in all
        drain_passes(passes, run, pool=pool, threads=self.workers)
        return out

    def _forward(self, session: Any, batch: Sequence[Sequence[int]]) -> np.ndarray:
        lengths = [len(seq) for seq in batch]
        longest = max(lengths)
        ids = np.zeros((len(batch), longest), dtype=np.int64)
        tokens = np.zeros((len(batch), longest), dtype=np.int32)
        for row, seq in enumerate(batch):
            ids[row, : len(seq)] = seq
            tokens[row, : len(seq)] = 1
        positions = np.arange(longest, dtype=np.int64)[None, :]
        (hidden,) = session.run(None, {"input_ids": ids, "position_ids": positions, "mask": tokens})
        mask = tokens.astype(np.float32)
        pooled = np.einsum("bth,bt->bh", hidden, mask) / mask.sum(axis=1, keepdims=True)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return pooled / np.maximum(norms, 1e-12)

    def _graph(self) -> tuple[bytes, dict[str, np.ndarray]]:
        """The serialised graph (weights left out) and the weights by initializer name."""
        weights: dict[str, np.ndarray] = {}
        initializers: list[bytes] = []
        nodes: list[bytes] = []

        def weight(name: str, array: np.ndarray) -> str:
            weights[name] = np.ascontiguousarray(array, dtype=np.float32)
            initializers.append(proto.external_tensor(name, weights[name].shape, weights[name].nbytes))
            return name

        def constant(name: str, array: np.ndarray) -> str:
            initializers.append(proto.tensor(name, array))
            return name

        def op(kind: str, inputs: list[str], *, domain: str = "", **attributes: Any) -> str:
            out = f"{kind.lower()}_{len(nodes)}"
            nodes.append(proto.node(kind, inputs, [out], domain=domain, **attributes))
            return out

        def norm(x: str, name: str, pair: tuple[np.ndarray, np.ndarray]) -> str:
            scale, shift = weight(f"{name}.w", pair[0]), weight(f"{name}.b", pair[1])
            return op("LayerNormalization", [x, scale, shift], axis=-1, epsilon=float(self.eps))

        def dense(x: str, name: str, matrix: np.ndarray, bias: np.ndarray) -> str:
            return op("Add", [op("MatMul", [x, weight(f"{name}.w", matrix)]), weight(f"{name}.b", bias)])

        root2 = constant("sqrt2", np.array(math.sqrt(2.0), dtype=np.float32))
        one = constant("one", np.array(1.0, dtype=np.float32))
        half = constant("half", np.array(0.5, dtype=np.float32))

        x = op("Gather", [weight("word", self.word_embeddings), "input_ids"])
        x = op("Add", [x, op("Gather", [weight("position", self.position_embeddings), "position_ids"])])
        x = op("Add", [x, weight("token_type", self.token_type_embedding)])
        x = norm(x, "embeddings", self.embedding_norm)
        for number, layer in enumerate(self.layers):
            name = f"layer{number}"
            # onnxruntime's Attention: the q|k|v projection, scaled dot-product attention over
            # the unmasked tokens and the heads' concatenation, one kernel (see the class doc)
            qkv, qkv_bias = weight(f"{name}.qkv.w", layer.qkv), weight(f"{name}.qkv.b", layer.qkv_bias)
            context = op(
                "Attention", [x, qkv, qkv_bias, "mask"], domain=proto.MICROSOFT, num_heads=self.heads
            )
            attended = dense(context, f"{name}.attention_out", layer.attention_out, layer.attention_out_bias)
            x = norm(op("Add", [attended, x]), f"{name}.attention_norm", layer.attention_norm)
            inner = dense(x, f"{name}.intermediate", layer.intermediate, layer.intermediate_bias)
            erf = op("Erf", [op("Div", [inner, root2])])
            gelu = op("Mul", [op("Mul", [inner, op("Add", [erf, one])]), half])  # BERT's exact GELU
            out = dense(gelu, f"{name}.output", layer.output, layer.output_bias)
            x = norm(op("Add", [out, x]), f"{name}.output_norm", layer.output_norm)
        nodes.append(proto.node("Identity", [x], ["hidden"]))
        graph = proto.model(
            name="bert_encoder",
            nodes=nodes,
            initializers=initializers,
            inputs=[
                proto.value_info("input_ids", proto.INT64, ["batch", "tokens"]),
                proto.value_info("position_ids", proto.INT64, [1, "tokens"]),
                proto.value_info("mask", proto.INT32, ["batch", "tokens"]),
            ],
            outputs=[proto.value_info("hidden", proto.FLOAT, ["batch", "tokens", self.hidden_size])],
            domains=[proto.MICROSOFT],
        )
        return graph, weights

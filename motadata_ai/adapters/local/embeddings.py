"""LocalEmbeddings: the embedding port on the local MiniLM model, in process, without LiteLLM.

``model="local/all-minilm-l6-v2"``: 384-d unit vectors computed on a worker thread (the event loop
keeps serving while a batch encodes). The texts of one call are encoded sorted by length, in
groups of the embedder's batch size, and come back in the caller's order; ``usage.input_tokens``
is the number of MiniLM tokens read.
"""

from __future__ import annotations

import asyncio

from motadata_ai.adapters.local._served import LOCAL_PROVIDER, check_served
from motadata_ai.adapters.local.minilm import (
    MINILM_DIMENSIONS,
    MINILM_MODEL,
    MiniLMEmbedder,
    MiniLMUnavailable,
)
from motadata_ai.domain.values.errors import ValidationError
from motadata_ai.domain.values.health import ComponentHealth
from motadata_ai.domain.values.llm import EmbeddingRequest, EmbeddingResponse, Usage
from motadata_ai.ports.embedding import EmbeddingPort
from motadata_ai.ports.llm import ProviderUnavailable

__all__ = ["LocalEmbeddings"]



class LocalEmbeddings(EmbeddingPort):
    """``local/all-minilm-l6-v2`` as an :class:`EmbeddingPort`.

    ``embedder``: the model (default: the process-wide one, loaded at most once).
    """

    def __init__(self, embedder: MiniLMEmbedder | None = None) -> None:
        self._embedder = embedder

    def __repr__(self) -> str:
        return f"LocalEmbeddings(model='{LOCAL_PROVIDER}/{MINILM_MODEL}')"

    @property
    def embedder(self) -> MiniLMEmbedder:
        """The (shared, lazily loaded) model."""
        if self._embedder is None:
            from motadata_ai.adapters.local.minilm import shared_embedder

            self._embedder = shared_embedder()
        return self._embedder

    def models(self) -> list[str]:
        """The model names this adapter serves."""
        return [f"{LOCAL_PROVIDER}/{MINILM_MODEL}"]

    def _check(self, model: str) -> None:
        check_served(model, served=MINILM_MODEL, kind="embedding")

    def dimensions(self, model: str) -> int | None:
        """384 for the local model."""
        return MINILM_DIMENSIONS

    async def embed(self, request: EmbeddingRequest, *, timeout: float | None = None) -> EmbeddingResponse:
        """One unit vector per input, in order."""
        self._check(request.model)
        if not request.inputs:
            return EmbeddingResponse(model=request.model, vectors=())
        if any(not isinstance(text, str) or not text for text in request.inputs):
            raise ValidationError("every embedding input must be a non-empty string", field="inputs")
        try:
            vectors, tokens = await asyncio.to_thread(self.embedder.encode, request.inputs)
        except MiniLMUnavailable as error:
            raise ProviderUnavailable(
                str(error), model=request.model, provider=LOCAL_PROVIDER, status_code=None, address=None
            ) from error
        return EmbeddingResponse(
            model=f"{LOCAL_PROVIDER}/{MINILM_MODEL}",
            vectors=tuple(tuple(v) for v in vectors),
            usage=Usage(input_tokens=tokens),
        )

    async def health(self) -> ComponentHealth:
        """``ok`` with whether the weights are loaded (they load on first use or at warm-up; the
        probe never loads them)."""
        return ComponentHealth(
            status="ok",
            details={
                "probe": "weights",
                "model": f"{LOCAL_PROVIDER}/{MINILM_MODEL}",
                "loaded": self.embedder.loaded,
            },
        )

    def warm_up(self) -> None:
        """Load the weights and run one short text through them (blocking)."""
        try:
            self.embedder.encode(["warm up"])
        except MiniLMUnavailable:
            pass  # reported by the first call that needs the model

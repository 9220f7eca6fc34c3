"""LiteLLMEmbeddings: the embedding port over ``litellm.aembedding``."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from motadata_ai.adapters.litellm._adapter import TIMEOUT_MARGIN, LiteLLMAdapter, provider_of
from motadata_ai.domain.values.errors import ValidationError
from motadata_ai.domain.values.llm import EmbeddingRequest, EmbeddingResponse, Usage
from motadata_ai.ports.embedding import EmbeddingPort
from motadata_ai.ports.llm import ProviderInvalidResponse


class LiteLLMEmbeddings(LiteLLMAdapter, EmbeddingPort):
    """Embeddings through LiteLLM (``"openai/text-embedding-3-small"``, ``"local/all-minilm-l6-v2"``...).

    ``dimensions`` maps a model to its vector size when LiteLLM's model map does not say it;
    ``model_prices`` maps a model to ``(input, output)`` USD per million tokens.
    """

    def __init__(
        self,
        *,
        api_base: str | None = None,
        api_key: str | None = None,
        timeout: float = 60.0,
        model_prices: dict[str, tuple[float, float]] | None = None,
        dimensions: dict[str, int] | None = None,
        extra: dict[str, Any] | None = None,
        probe_server: bool = False,
    ) -> None:
        super().__init__(
            api_base=api_base,
            api_key=api_key,
            timeout=timeout,
            model_prices=model_prices,
            extra=extra,
            probe_server=probe_server,
        )
        self._dimensions = dict(dimensions or {})
        self._clients: dict[float, Any] = {}

    def _openai_client(self, timeout: float) -> Any:
        """A reused OpenAI client without SDK retries.

        LiteLLM turns ``max_retries=0`` into its default of 2 on the OpenAI embeddings path (and
        writes that onto any client it is given), so a 429 would be retried behind the gateway's
        back; a client whose retry count stays 0 keeps one call one request.
        """
        client = self._clients.get(timeout)
        if client is None:
            api_key = self._api_key or os.environ.get("OPENAI_API_KEY")
            if not api_key:
                return None
            client = _no_retry_client_class()(
                api_key=api_key, base_url=self._api_base or None, timeout=timeout
            )
            self._clients[timeout] = client
        return client

    async def aclose(self) -> None:
        """Close the reused HTTP clients."""
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.close()

    def dimensions(self, model: str) -> int | None:
        """The configured size, else LiteLLM's ``output_vector_size`` for the model."""
        if model in self._dimensions:
            return self._dimensions[model]
        info = self._catalog.info(model) or {}
        size = info.get("output_vector_size")
        return int(size) if size else None

    async def embed(self, request: EmbeddingRequest, *, timeout: float | None = None) -> EmbeddingResponse:
        """One vector per input, in order."""
        if not request.inputs:
            return EmbeddingResponse(model=request.model, vectors=())
        if any(not isinstance(text, str) or not text for text in request.inputs):
            raise ValidationError("every embedding input must be a non-empty string", field="inputs")
        limit = timeout or self._timeout
        try:
            litellm, remaining = await self._prepare(limit)
        except TimeoutError as error:
            raise self._failure(error, request.model, limit, "embeddings") from error
        kwargs = self._call_kwargs(request.model, remaining)
        kwargs["input"] = list(request.inputs)
        kwargs["encoding_format"] = "float"
        provider = provider_of(request.model)
        if provider == "openai" and "client" not in self._extra:
            client = self._openai_client(remaining)
            if client is not None:
                kwargs["client"] = client
        if self._extra:
            kwargs.update(self._extra)
        try:
            async with asyncio.timeout(remaining + TIMEOUT_MARGIN):
                response = await litellm.aembedding(**kwargs)
        except Exception as error:
            raise self._failure(error, request.model, limit, "embeddings") from error
        items = sorted(response.data, key=lambda item: _field(item, "index") or 0)
        vectors = tuple(tuple(float(v) for v in _field(item, "embedding")) for item in items)
        if len(vectors) != len(request.inputs):
            raise ProviderInvalidResponse(
                f"{request.model}: {len(vectors)} vectors for {len(request.inputs)} inputs",
                model=request.model,
                provider=provider,
                status_code=None,
                address=None,
            )
        usage = getattr(response, "usage", None)
        tokens = int(getattr(usage, "prompt_tokens", 0) or 0) if usage is not None else 0
        return EmbeddingResponse(
            model=request.model,
            vectors=vectors,
            usage=Usage(input_tokens=tokens),
            cost_usd=self._catalog.cost(request.model, tokens, 0),
        )


def _field(item: Any, name: str) -> Any:
    return item.get(name) if isinstance(item, dict) else getattr(item, name, None)


_NO_RETRY_CLIENT: Any = None


def _no_retry_client_class() -> Any:
    """An ``openai.AsyncOpenAI`` whose ``max_retries`` is pinned to 0 (LiteLLM cannot raise it)."""
    global _NO_RETRY_CLIENT
    if _NO_RETRY_CLIENT is None:
        import openai

        class NoRetryAsyncOpenAI(openai.AsyncOpenAI):
            @property  # type: ignore[override]
            def max_retries(self) -> int:
                return 0

            @max_retries.setter
            def max_retries(self, value: int) -> None:
                pass

        _NO_RETRY_CLIENT = NoRetryAsyncOpenAI
    return _NO_RETRY_CLIENT

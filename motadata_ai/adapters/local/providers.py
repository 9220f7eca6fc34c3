"""The local models as LiteLLM custom providers (``litellm.CustomLLM``), prefix ``local``.

``model="local/extractive"`` (chat, the :class:`ExtractiveGenerator`) and
``model="local/all-minilm-l6-v2"`` (embeddings, 384-d) then work through ``litellm.acompletion`` /
``litellm.aembedding`` — and so through LiteLLMChat/LiteLLMEmbeddings — like any remote model.
This module imports LiteLLM; it is loaded only when LiteLLM is.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # before LiteLLM's first import

from litellm import CustomLLM
from litellm.llms.custom_llm import CustomLLMError
from litellm.types.utils import (
    ChatCompletionMessageToolCall,
    Choices,
    EmbeddingResponse,
    Function,
    GenericStreamingChunk,
    Message,
    ModelResponse,
    Usage,
)

from motadata_ai.adapters.local import LOCAL_MODEL_INFO, LOCAL_PROVIDER
from motadata_ai.adapters.local.chat import prompt_tokens
from motadata_ai.adapters.local.extractive import (
    EXTRACTIVE_MODEL,
    ExtractiveGenerator,
    ExtractiveReply,
)
from motadata_ai.adapters.local.minilm import (
    MINILM_MODEL,
    MiniLMEmbedder,
    shared_embedder,
)

__all__ = [
    "LOCAL_MODEL_INFO",
    "LOCAL_PROVIDER",
    "LocalChatProvider",
    "LocalEmbeddingProvider",
]


def _model_name(model: str) -> str:
    return model.split("/", 1)[1] if model.startswith(f"{LOCAL_PROVIDER}/") else model


def _words(text: str) -> int:
    return len(text.split())


def _prompt_tokens(messages: list[dict[str, Any]]) -> int:
    return prompt_tokens(messages)


class LocalChatProvider(CustomLLM):
    """``local/extractive``: extractive answers with citations, or a call of the offered tool whose
    ``"role"`` is ``knowledge_search``."""

    def __init__(self, generator: ExtractiveGenerator | None = None) -> None:
        super().__init__()
        self.generator = generator or ExtractiveGenerator()

    def _reply(
        self, model: str, messages: list[dict[str, Any]], optional_params: dict[str, Any]
    ) -> ExtractiveReply:
        name = _model_name(model)
        if name != EXTRACTIVE_MODEL:
            raise CustomLLMError(
                status_code=404,
                message=f"the local provider has no chat model {name!r}; "
                f"it serves '{LOCAL_PROVIDER}/{EXTRACTIVE_MODEL}'",
            )
        tools = optional_params.get("tools") or []
        return self.generator.respond(messages, tools)

    def _response(
        self, model_response: ModelResponse, messages: list[dict[str, Any]], reply: ExtractiveReply
    ) -> ModelResponse:
        if reply.tool_call is not None:
            name, arguments = reply.tool_call
            call = ChatCompletionMessageToolCall(
                id=f"call_{uuid.uuid4().hex[:12]}",
                type="function",
                function=Function(name=name, arguments=arguments),
            )
            message = Message(role="assistant", content=None, tool_calls=[call])
            finish = "tool_calls"
            completion_tokens = _words(arguments) + 1
        else:
            text = reply.text or ""
            message = Message(role="assistant", content=text)
            finish = "stop"
            completion_tokens = max(1, _words(text))
        model_response.choices = [Choices(index=0, message=message, finish_reason=finish)]
        model_response.model = f"{LOCAL_PROVIDER}/{EXTRACTIVE_MODEL}"
        model_response.system_fingerprint = "extractive"
        model_response.created = int(time.time())
        prompt_tokens = _prompt_tokens(messages)
        model_response.usage = Usage(  # type: ignore[attr-defined]
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            total_tokens=prompt_tokens + completion_tokens,
        )
        model_response._hidden_params["extractive"] = reply.metadata
        return model_response

    def completion(self, model: str, messages: list, *args: Any, **kwargs: Any) -> ModelResponse:  # type: ignore[override]
        optional_params = kwargs.get("optional_params") or {}
        return self._response(
            kwargs["model_response"], messages, self._reply(model, messages, optional_params)
        )

    async def acompletion(self, model: str, messages: list, *args: Any, **kwargs: Any) -> ModelResponse:  # type: ignore[override]
        return self.completion(model, messages, *args, **kwargs)

    def _chunks(self, model: str, messages: list, kwargs: dict[str, Any]) -> list[GenericStreamingChunk]:
        reply = self._reply(model, messages, kwargs.get("optional_params") or {})
        prompt_tokens = _prompt_tokens(messages)
        chunks: list[GenericStreamingChunk] = []
        if reply.tool_call is not None:
            name, arguments = reply.tool_call
            usage = {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": _words(arguments) + 1,
                "total_tokens": prompt_tokens + _words(arguments) + 1,
            }
            chunks.append(
                {
                    "text": "",
                    "tool_use": {
                        "id": f"call_{uuid.uuid4().hex[:12]}",
                        "type": "function",
                        "function": {"name": name, "arguments": arguments},
                        "index": 0,
                    },
                    "is_finished": True,
                    "finish_reason": "tool_calls",
                    "usage": usage,  # type: ignore[typeddict-item]
                    "index": 0,
                }
            )
            return chunks
        words = (reply.text or "").split(" ")
        completion_tokens = max(1, _words(reply.text or ""))
        for position, word in enumerate(words):
            last = position == len(words) - 1
            chunks.append(
                {
                    "text": word if position == 0 else " " + word,
                    "tool_use": None,
                    "is_finished": last,
                    "finish_reason": "stop" if last else "",
                    "usage": (
                        {
                            "prompt_tokens": prompt_tokens,
                            "completion_tokens": completion_tokens,
                            "total_tokens": prompt_tokens + completion_tokens,
                        }
                        if last
                        else None
                    ),  # type: ignore[typeddict-item]
                    "index": 0,
                }
            )
        return chunks

    def streaming(
        self, model: str, messages: list, *args: Any, **kwargs: Any
    ) -> Iterator[GenericStreamingChunk]:  # type: ignore[override]
        yield from self._chunks(model, messages, kwargs)

    async def astreaming(  # type: ignore[override]
        self, model: str, messages: list, *args: Any, **kwargs: Any
    ) -> AsyncIterator[GenericStreamingChunk]:
        for chunk in self._chunks(model, messages, kwargs):
            yield chunk


class LocalEmbeddingProvider(CustomLLM):
    """``local/all-minilm-l6-v2``: 384-d MiniLM sentence embeddings, computed off the event loop."""

    def __init__(self, embedder: MiniLMEmbedder | None = None) -> None:
        super().__init__()
        self._embedder = embedder

    @property
    def embedder(self) -> MiniLMEmbedder:
        """The (shared, lazily loaded) model."""
        if self._embedder is None:
            self._embedder = shared_embedder()
        return self._embedder

    def _check(self, model: str, inputs: list[Any]) -> list[str]:
        name = _model_name(model)
        if name != MINILM_MODEL:
            raise CustomLLMError(
                status_code=404,
                message=f"the local provider has no embedding model {name!r}; "
                f"it serves '{LOCAL_PROVIDER}/{MINILM_MODEL}'",
            )
        texts = [inputs] if isinstance(inputs, str) else list(inputs)
        if not all(isinstance(t, str) for t in texts):
            raise CustomLLMError(status_code=400, message="the local embedding model takes strings only")
        return texts

    def _fill(
        self, model_response: EmbeddingResponse, vectors: list[list[float]], texts: list[str]
    ) -> EmbeddingResponse:
        model_response.model = f"{LOCAL_PROVIDER}/{MINILM_MODEL}"
        model_response.object = "list"
        model_response.data = [
            {"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)
        ]
        tokens = sum(_words(t) for t in texts)
        model_response.usage = Usage(prompt_tokens=tokens, completion_tokens=0, total_tokens=tokens)
        return model_response

    def embedding(
        self, model: str, input: list, model_response: EmbeddingResponse, *args: Any, **kwargs: Any
    ) -> EmbeddingResponse:  # type: ignore[override]
        texts = self._check(model, input)
        return self._fill(model_response, self.embedder.embed(texts), texts)

    async def aembedding(
        self, model: str, input: list, model_response: EmbeddingResponse, *args: Any, **kwargs: Any
    ) -> EmbeddingResponse:  # type: ignore[override]
        texts = self._check(model, input)
        vectors = await asyncio.to_thread(self.embedder.embed, texts)
        return self._fill(model_response, vectors, texts)

"""Provider step, the end of the chain: one attempt on the LLM or embedding port, priced.

Prices come from the policy's ``model_prices`` first, else the cost the adapter reported, else
the port's cost map. A stream's chunks are assembled into the answer (``call.state.response``)
that the outer steps check, cache, charge and record. While a stream runs, ``call.state.produced``
prices what was delivered so far: a stream cut by its caller (a closed generator, a cancelled task)
is charged for that, and its provider stream is closed at once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from motadata_ai.domain.gateway import caching
from motadata_ai.domain.gateway.call import Call, provider_of
from motadata_ai.domain.gateway.config import GatewayConfig
from motadata_ai.domain.gateway.steps.base import NextComplete, NextEmbed, NextStream, Step
from motadata_ai.domain.gateway.steps.validate import rough_tokens
from motadata_ai.domain.values import llm
from motadata_ai.ports.embedding import EmbeddingPort
from motadata_ai.ports.llm import LLMPort, ProviderError

__all__ = ["Provider"]


class Provider(Step):
    """The provider call itself (``next`` is never called: nothing follows it)."""

    def __init__(self, chat: LLMPort, embeddings: EmbeddingPort, *, random: Callable[[], float]) -> None:
        self._llm = chat
        self._embeddings = embeddings
        self._random = random

    async def complete(self, call: Call, request: llm.ChatRequest, next: NextComplete) -> llm.ChatResponse:
        """One completion, priced."""
        response = await self._llm.complete(request, timeout=call.timeout)
        return self._priced(response, call.policy)

    async def stream(
        self, call: Call, request: llm.ChatRequest, next: NextStream
    ) -> AsyncIterator[llm.StreamChunk]:
        """One stream; at its end the assembled, priced answer is ``call.state.response``."""
        assembly = _Assembly(call, request, self._llm.count_tokens, self._priced, self._random)
        call.state.produced = assembly.answer
        chunks = self._llm.stream(request, timeout=call.timeout)
        try:
            async for chunk in chunks:
                assembly.add(chunk)
                yield chunk
        finally:  # a cut stream closes the provider's at once (its HTTP response, its connection)
            close = getattr(chunks, "aclose", None)
            if close is not None:
                await close()
        call.state.response = assembly.answer()

    async def embed(
        self, call: Call, request: llm.EmbeddingRequest, next: NextEmbed
    ) -> llm.EmbeddingResponse:
        """One embedding call: one vector per text, priced."""
        response = await self._embeddings.embed(request, timeout=call.timeout)
        if len(response.vectors) != len(request.inputs):
            raise ProviderError(
                f"embedding provider returned {len(response.vectors)} vectors "
                f"for {len(request.inputs)} inputs",
                model=response.model,
                tenant_id=call.tenant_id,
            )
        price = call.policy.model_prices.get(response.model)
        if price is not None:
            response = response.model_copy(update={"cost_usd": price.cost(response.usage.input_tokens, 0)})
        return response

    def _priced(self, response: llm.ChatResponse, policy: GatewayConfig) -> llm.ChatResponse:
        price = policy.model_prices.get(response.model)
        usage = response.usage
        if price is not None:
            cost = price.cost(usage.input_tokens, usage.output_tokens)
        elif response.cost_usd:
            return response
        else:
            cost = self._llm.cost_usd(response.model, usage.input_tokens, usage.output_tokens)
        if not cost:
            return response
        return response.model_copy(update={"cost_usd": cost})


class _Assembly:
    """The answer of one stream as far as it went: text, tool calls and the final chunk's usage."""

    __slots__ = ("_call", "_count", "_final", "_pieces", "_priced", "_random", "_request", "_tool_calls")

    def __init__(
        self,
        call: Call,
        request: llm.ChatRequest,
        count: Callable[[str, str], int],
        priced: Callable[[llm.ChatResponse, GatewayConfig], llm.ChatResponse],
        random: Callable[[], float],
    ) -> None:
        self._call, self._request = call, request
        self._count, self._priced, self._random = count, priced, random
        self._pieces: list[str] = []
        self._tool_calls: tuple[llm.ToolCall, ...] = ()
        self._final: llm.StreamChunk | None = None

    def add(self, chunk: llm.StreamChunk) -> None:
        """Take in one chunk on its way out."""
        if chunk.delta:
            self._pieces.append(chunk.delta)
        if chunk.tool_calls:
            self._tool_calls += chunk.tool_calls
        if chunk.finish_reason is not None or chunk.usage is not None:
            self._final = chunk

    def answer(self) -> llm.ChatResponse:
        """The priced answer of the chunks taken in: the provider's usage when its last chunk came,
        else the prompt's tokens as counted and the output tokens of the text delivered."""
        call, final = self._call, self._final
        text = "".join(self._pieces)
        if final is not None and final.usage is not None:
            usage = final.usage
        else:
            prompt = call.state.prompt_tokens
            if prompt is None:
                prompt = rough_tokens([m.content or "" for m in self._request.messages])
            usage = llm.Usage(input_tokens=prompt, output_tokens=self._count(call.model, text))
        response = llm.ChatResponse(
            id=f"stream-{caching.digest(f'{call.tenant_id}{call.started}{self._random()}'.encode())}",
            model=call.model,
            provider=provider_of(call.model),
            message=llm.Message(role="assistant", content=text or None, tool_calls=self._tool_calls),
            finish_reason=final.finish_reason if final is not None else None,
            usage=usage,
        )
        return self._priced(response, call.policy)

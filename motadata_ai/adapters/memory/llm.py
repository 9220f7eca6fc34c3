"""FunctionLLM: an in-process LLMPort whose answers come from a Python function.

Like pydantic-ai's ``FunctionModel``: tests and the zero-dependency mode script the model
(tool call → result → answer) without a network.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

from motadata_ai.adapters.memory._health import InProcessProbe
from motadata_ai.domain.values.llm import (
    ChatRequest,
    ChatResponse,
    Message,
    ModelCapabilities,
    StreamChunk,
    Usage,
)
from motadata_ai.ports.llm import LLMPort

Responder = Callable[[ChatRequest], "Message | str | ChatResponse | Awaitable[Message | str | ChatResponse]"]


class FunctionLLM(InProcessProbe, LLMPort):
    """Answers each request with ``fn(request)``; counts calls in ``calls``.

    ``fn`` may return a string, a :class:`Message`, a :class:`ChatResponse`, or raise a
    :class:`~motadata_ai.ports.llm.ProviderError` to simulate a failure. ``capabilities`` is
    what it advertises for every model (default: generative, with tools and streaming).
    """

    def __init__(
        self,
        fn: Responder,
        *,
        provider: str = "function",
        delay: float = 0.0,
        capabilities: ModelCapabilities | None = None,
    ) -> None:
        self._capabilities = capabilities
        self._fn = fn
        self._provider = provider
        self._delay = delay
        self._ids = itertools.count(1)
        self.calls: list[ChatRequest] = []

    def capabilities(self, model: str) -> ModelCapabilities:
        """The capabilities given at construction, else the port's default."""
        return self._capabilities if self._capabilities is not None else super().capabilities(model)

    async def complete(self, request: ChatRequest, *, timeout: float | None = None) -> ChatResponse:
        """Call the function and wrap its result as a response."""
        self.calls.append(request)
        if self._delay:
            await asyncio.sleep(self._delay)
        result = self._fn(request)
        if inspect.isawaitable(result):
            result = await result
        if isinstance(result, ChatResponse):
            return result
        message = Message(role="assistant", content=result) if isinstance(result, str) else result
        prompt = " ".join(m.content or "" for m in request.messages)
        return ChatResponse(
            id=f"fn-{next(self._ids)}",
            model=request.model,
            provider=self._provider,
            message=message,
            finish_reason="tool_calls" if message.tool_calls else "stop",
            usage=Usage(
                input_tokens=self.count_tokens(request.model, prompt),
                output_tokens=self.count_tokens(request.model, message.content or ""),
            ),
        )

    async def stream(
        self, request: ChatRequest, *, timeout: float | None = None
    ) -> AsyncIterator[StreamChunk]:
        """Stream the function's answer word by word."""
        response = await self.complete(request, timeout=timeout)
        words = response.text.split(" ")
        for index, word in enumerate(words):
            yield StreamChunk(delta=word if index == 0 else " " + word)
        yield StreamChunk(
            tool_calls=response.message.tool_calls, finish_reason=response.finish_reason, usage=response.usage
        )


def scripted(replies: Sequence[Message | str]) -> Responder:
    """A responder that returns ``replies`` in order, one per call (then repeats the last)."""
    items = list(replies)
    position = itertools.count()

    def respond(_: ChatRequest) -> Message | str:
        return items[min(next(position), len(items) - 1)]

    return respond

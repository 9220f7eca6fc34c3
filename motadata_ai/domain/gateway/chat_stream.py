"""ChatStream: the chunks of one streamed completion, and its answer and cost once it ended.

What :meth:`Gateway.stream <motadata_ai.domain.gateway.Gateway.stream>` returns: an async
iterator of :class:`~motadata_ai.domain.values.llm.StreamChunk` (like the OpenAI and Anthropic
clients' stream objects) that also tells, after the last chunk, the checked answer and what the
provider charged for it, so a caller that meters its own users (the HTTP edge's virtual keys)
counts streamed calls as it counts plain ones. Nothing runs until the first chunk is asked for.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from motadata_ai.domain.gateway.call import Call
from motadata_ai.domain.gateway.steps.base import close_streams
from motadata_ai.domain.values.llm import ChatRequest, ChatResponse, StreamChunk

__all__ = ["ChatStream"]


class ChatStream:
    """An async iterator of the chunks of one streamed completion (see the module docstring).

    ``response`` is the answer once the stream has ended (``None`` before, and when it failed or
    was cut); ``cost_usd`` is what the provider charged: the whole answer, what a stream cut by its
    caller delivered (:meth:`aclose`, a cancelled task), 0 for an answer replayed from the cache.
    """

    __slots__ = ("_call", "_chunks", "_ended", "_make_call", "_request", "_run")

    def __init__(
        self,
        make_call: Callable[[], Call],
        run: Callable[[Call, ChatRequest], AsyncIterator[StreamChunk]],
        request: ChatRequest,
    ) -> None:
        self._make_call, self._run, self._request = make_call, run, request
        self._call: Call | None = None
        self._chunks: AsyncIterator[StreamChunk] | None = None
        self._ended = False

    def __aiter__(self) -> ChatStream:
        return self

    async def __anext__(self) -> StreamChunk:
        chunks = self._chunks
        if chunks is None:
            self._call = self._make_call()
            chunks = self._chunks = self._run(self._call, self._request)
        try:
            return await chunks.__anext__()
        except StopAsyncIteration:
            self._ended = True
            raise

    async def aclose(self) -> None:
        """Cut the stream: the provider's stream is closed, then every step around it (the ledger
        charges the call for what it delivered)."""
        if self._call is not None:
            await close_streams(self._call)
        close = getattr(self._chunks, "aclose", None)
        if close is not None:
            await close()

    @property
    def response(self) -> ChatResponse | None:
        """The whole answer, checked by the output guardrails, once the stream has ended."""
        if not self._ended or self._call is None:
            return None
        return self._call.state.response

    @property
    def cost_usd(self) -> float:
        """What the provider charged for this stream so far (0 for a cached answer)."""
        call = self._call
        if call is None or call.state.source != "provider":
            return 0.0
        state = call.state
        if self._ended and state.response is not None:
            return state.response.cost_usd
        return state.produced().cost_usd if state.produced is not None else 0.0

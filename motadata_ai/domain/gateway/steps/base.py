"""The step protocol and the chain that runs the steps in order.

A step is a small object with ``complete(call, request, next)``, ``stream(call, request, next)``
and ``embed(call, request, next)``: it does its own work before and after handing the call to
``next`` (the rest of the chain), owning its state and its port, as httpx's transports and
pydantic-ai's wrapper models do. :class:`Step` passes everything through, so a step overrides
only what it takes part in. :class:`Chain` links the steps once, at start-up.
"""

from __future__ import annotations

import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from motadata_ai.domain.gateway.call import Call
from motadata_ai.domain.values import llm

__all__ = ["Chain", "Clocks", "NextComplete", "NextEmbed", "NextStream", "Step", "close_streams"]

NextComplete = Callable[[Call, llm.ChatRequest], Awaitable[llm.ChatResponse]]
NextStream = Callable[[Call, llm.ChatRequest], AsyncIterator[llm.StreamChunk]]
NextEmbed = Callable[[Call, llm.EmbeddingRequest], Awaitable[llm.EmbeddingResponse]]


@dataclass(frozen=True, slots=True)
class Clocks:
    """The clocks a step reads (injected, so tests drive them): monotonic seconds and the wall clock."""

    monotonic: Callable[[], float]
    wall: Callable[[], datetime]


class Step:
    """One policy around a call; by default it passes the call on untouched."""

    async def complete(self, call: Call, request: llm.ChatRequest, next: NextComplete) -> llm.ChatResponse:
        """Run a completion through this step."""
        return await next(call, request)

    def stream(
        self, call: Call, request: llm.ChatRequest, next: NextStream
    ) -> AsyncIterator[llm.StreamChunk]:
        """Run a stream through this step."""
        return next(call, request)

    async def embed(
        self, call: Call, request: llm.EmbeddingRequest, next: NextEmbed
    ) -> llm.EmbeddingResponse:
        """Run an embedding call through this step."""
        return await next(call, request)


class Chain:
    """The steps, outermost first, linked once around a terminal step.

    Each step's stream is noted (weakly) in ``call.state.streams`` as it opens, so
    :func:`close_streams` can close a cut stream innermost first: the provider's stream ends
    before the steps around it see the cut (the ledger then knows what was delivered).
    """

    def __init__(self, steps: Sequence[Step], terminal: Step) -> None:
        self.steps = tuple(steps)
        complete: NextComplete = partial(terminal.complete, next=_end_complete)
        stream: NextStream = _noted(partial(terminal.stream, next=_end_stream))
        embed: NextEmbed = partial(terminal.embed, next=_end_embed)
        for step in reversed(self.steps):
            complete = partial(step.complete, next=complete)
            stream = _noted(partial(step.stream, next=stream))
            embed = partial(step.embed, next=embed)
        self.complete: NextComplete = complete
        self.stream: NextStream = stream
        self.embed: NextEmbed = embed


def _noted(stream: NextStream) -> NextStream:
    def opened(call: Call, request: llm.ChatRequest) -> AsyncIterator[llm.StreamChunk]:
        chunks = stream(call, request)
        try:
            call.state.streams.append(weakref.ref(chunks))
        except TypeError:  # an iterator that takes no weak reference is not closed early
            pass
        return chunks

    return opened


async def close_streams(call: Call) -> None:
    """Close the call's open streams innermost first (see :class:`Chain`)."""
    seen: set[int] = set()
    for ref in reversed(call.state.streams):
        chunks = ref()
        if chunks is None or id(chunks) in seen:
            continue
        seen.add(id(chunks))
        close = getattr(chunks, "aclose", None)
        if close is not None:
            await close()


async def _end_complete(call: Call, request: llm.ChatRequest) -> llm.ChatResponse:
    raise AssertionError("the terminal step answers every completion")


def _end_stream(call: Call, request: llm.ChatRequest) -> AsyncIterator[llm.StreamChunk]:
    raise AssertionError("the terminal step answers every stream")


async def _end_embed(call: Call, request: llm.EmbeddingRequest) -> llm.EmbeddingResponse:
    raise AssertionError("the terminal step answers every embedding call")

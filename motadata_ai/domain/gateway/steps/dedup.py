"""De-duplication step: identical concurrent calls of a tenant share one provider call.

The first call (the leader) runs the rest of the chain itself, with no extra task, and publishes
its outcome on a future the followers await (``asyncio.shield``, so one follower's cancellation
does not cancel the others); a follower's source is ``dedup``. If the leader is cancelled, a
follower that was not cancelled itself takes over as the new leader. Streams are not shared.

With a :class:`~motadata_ai.domain.gateway.shared_flight.SharedFlight` the in-process leader also
de-duplicates across the instances sharing its lease store: it either leads there too, or takes
the answer another instance's provider call produced (its source is then ``dedup`` as well). Only
calls whose request the privacy cache policy lets into the shared cache cross instances.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from motadata_ai.domain.gateway import caching
from motadata_ai.domain.gateway.call import Call
from motadata_ai.domain.gateway.health import GatewayStats
from motadata_ai.domain.gateway.shared_flight import Handover, SharedFlight
from motadata_ai.domain.gateway.steps.base import NextComplete, NextEmbed, Step
from motadata_ai.domain.privacy.cache_policy import cacheable, request_texts
from motadata_ai.domain.values import llm

__all__ = ["Deduplicate"]

T = TypeVar("T")


class Deduplicate(Step):
    """One in-flight provider call per key (the call's tenant-scoped cache key)."""

    def __init__(self, stats: GatewayStats, *, shared: SharedFlight | None = None) -> None:
        self._stats = stats
        self._inflight: dict[str, asyncio.Future[Any]] = {}
        self.shared = shared
        """The cross-instance de-duplication, when a lease store is configured."""

    async def complete(self, call: Call, request: llm.ChatRequest, next: NextComplete) -> llm.ChatResponse:
        """Share the completion with identical calls in flight."""
        if not (call.policy.request_deduplication and call.key):
            return await next(call, request)
        across = self.shared is not None and cacheable(call.level, request_texts(request))
        return await self._shared(call, lambda: next(call, request), _chat_handover(call) if across else None)

    async def embed(
        self, call: Call, request: llm.EmbeddingRequest, next: NextEmbed
    ) -> llm.EmbeddingResponse:
        """Share the embedding call with identical calls in flight."""
        if not call.policy.request_deduplication:
            return await next(call, request)
        across = self.shared is not None and bool(call.key) and cacheable(call.level, request.inputs)
        return await self._shared(call, lambda: next(call, request), _EMBED_HANDOVER if across else None)

    async def _produce(
        self, call: Call, produce: Callable[[], Awaitable[T]], handover: Handover[T] | None
    ) -> T:
        if handover is None or self.shared is None:
            return await produce()
        produced, joined = await self.shared.run(call.key, produce, handover)
        if joined:
            self._stats.dedup_hits += 1
            call.state.source = "dedup"
        return produced

    async def _shared(
        self, call: Call, produce: Callable[[], Awaitable[T]], handover: Handover[T] | None = None
    ) -> T:
        key = call.key
        while (shared := self._inflight.get(key)) is not None:
            self._stats.dedup_hits += 1
            call.state.source = "dedup"
            try:
                result: T = await asyncio.shield(shared)
                return result
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if not shared.cancelled() or current is None or current.cancelling():
                    raise
                call.state.source = "provider"
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            produced = await self._produce(call, produce, handover)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except BaseException as error:
            future.set_exception(error)
            future.exception()  # followers re-raise it; without followers it is not "never retrieved"
            raise
        else:
            future.set_result(produced)
            return produced
        finally:
            if self._inflight.get(key) is future:
                del self._inflight[key]


def _chat_handover(call: Call) -> Handover[llm.ChatResponse]:
    level = call.level

    def encode(response: llm.ChatResponse) -> bytes | None:
        return caching.encode_chat(response) if cacheable(level, [response.text]) else None

    return Handover(encode=encode, decode=_decode_chat)


def _decode_chat(data: bytes) -> llm.ChatResponse | None:
    decoded = caching.decode_chat(data)
    return None if decoded is None else decoded[0].model_copy(update={"cached": False})


def _encode_embeddings(response: llm.EmbeddingResponse) -> bytes:
    return caching.encode_embeddings(
        response.vectors, response.model, response.usage.input_tokens, response.cost_usd
    )


def _decode_embeddings(data: bytes) -> llm.EmbeddingResponse | None:
    return caching.embedding_response(data, cached=False)


_EMBED_HANDOVER: Handover[llm.EmbeddingResponse] = Handover(
    encode=_encode_embeddings, decode=_decode_embeddings
)

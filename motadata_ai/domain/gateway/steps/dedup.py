"""De-duplication step: identical concurrent calls of a tenant share one provider call.

The first call (the leader) runs the rest of the chain itself, with no extra task, and publishes
its outcome on a future the followers await (``asyncio.shield``, so one follower's cancellation
does not cancel the others); a follower's source is ``dedup``. If the leader is cancelled, a
follower that was not cancelled itself takes over as the new leader. Streams are not shared.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from motadata_ai.domain.gateway.call import Call
from motadata_ai.domain.gateway.health import GatewayStats
from motadata_ai.domain.gateway.steps.base import NextComplete, NextEmbed, Step
from motadata_ai.domain.values import llm

__all__ = ["Deduplicate"]

T = TypeVar("T")


class Deduplicate(Step):
    """One in-flight provider call per key (the call's tenant-scoped cache key)."""

    def __init__(self, stats: GatewayStats) -> None:
        self._stats = stats
        self._inflight: dict[str, asyncio.Future[Any]] = {}

    async def complete(self, call: Call, request: llm.ChatRequest, next: NextComplete) -> llm.ChatResponse:
        """Share the completion with identical calls in flight."""
        if not (call.policy.request_deduplication and call.key):
            return await next(call, request)
        return await self._shared(call, lambda: next(call, request))

    async def embed(
        self, call: Call, request: llm.EmbeddingRequest, next: NextEmbed
    ) -> llm.EmbeddingResponse:
        """Share the embedding call with identical calls in flight."""
        if not call.policy.request_deduplication:
            return await next(call, request)
        return await self._shared(call, lambda: next(call, request))

    async def _shared(self, call: Call, produce: Callable[[], Awaitable[T]]) -> T:
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
            produced = await produce()
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

"""Cache step: answer from the exact cache (then the semantic index), store what the provider
answered; fail open (a cache that fails or whose circuit is open is a miss, never an error).

Runs before every other policy, so a hit takes no rate-limit token, no budget and no guardrail
work. Only the call that reached the provider stores (a de-duplicated follower's source is
``dedup``); errors and blocked answers never get here, so they are never cached. An answer whose
request or text holds personal data is not stored at the ``strict`` and ``medium`` levels
(:mod:`motadata_ai.domain.privacy.cache_policy`); a stored entry of a known user is listed in
that user's cache index, so erasing the user needs no scan. Each stored chat request (and each
exact hit) is counted in the tenant's record of recent requests, for cache warming
(:mod:`motadata_ai.domain.gateway.recent`).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence

from motadata_ai.domain.gateway import caching
from motadata_ai.domain.gateway.call import Call
from motadata_ai.domain.gateway.circuit_cache import CacheBypassed
from motadata_ai.domain.gateway.health import GatewayStats
from motadata_ai.domain.gateway.recent import RecentRequests
from motadata_ai.domain.gateway.steps.base import NextComplete, NextEmbed, NextStream, Step
from motadata_ai.domain.privacy.cache_policy import cacheable, request_texts, user_index_key
from motadata_ai.domain.values import llm
from motadata_ai.domain.values.errors import ServiceError
from motadata_ai.ports.cache import CachePort
from motadata_ai.ports.embedding import EmbeddingPort

__all__ = ["CacheStep"]

log = logging.getLogger("motadata_ai.gateway")


class CacheStep(Step):
    """Exact and semantic cache around the rest of the chain (see the module docstring)."""

    def __init__(
        self, cache: CachePort, *, embeddings: EmbeddingPort, stats: GatewayStats, semantic_max_entries: int
    ) -> None:
        self._cache = cache
        self._embeddings = embeddings
        self._stats = stats
        self.semantic = caching.SemanticIndex(max_entries=semantic_max_entries)
        self.recent = RecentRequests(cache)
        """The tenant's most frequent recent requests, kept for cache warming."""

    async def complete(self, call: Call, request: llm.ChatRequest, next: NextComplete) -> llm.ChatResponse:
        """A hit (exact, then semantic) or the rest of the chain, whose answer is stored."""
        if not call.use_cache:
            return await next(call, request)
        hit = await self._lookup(call.key)
        if hit is not None:
            call.state.source = "cache"
            await self.recent.hit(call)
            return hit[0]
        if call.policy.semantic_cache:
            found = await self._semantic_lookup(call, request)
            if found is not None:
                call.state.source = "semantic_cache"
                return found[0]
        response = await next(call, request)
        if call.state.source == "provider":
            texts = [*request_texts(request), response.text]
            if await self._set(call, caching.encode_chat(response), texts):
                await self.recent.stored(call, request)
                if call.policy.semantic_cache:
                    await self._semantic_remember(call, request)
        return response

    async def stream(
        self, call: Call, request: llm.ChatRequest, next: NextStream
    ) -> AsyncIterator[llm.StreamChunk]:
        """A stored answer replayed as a stream, or the live stream, stored with its pieces."""
        if not call.use_cache:
            async for chunk in next(call, request):
                yield chunk
            return
        hit = await self._lookup(call.key)
        if hit is not None:
            response, chunks = hit
            for chunk in caching.replay(response, chunks):
                yield chunk
            call.state.source = "cache"
            call.state.response = response
            return
        pieces: list[str] = []
        async for chunk in next(call, request):
            if chunk.delta:
                pieces.append(chunk.delta)
            yield chunk
        checked = call.state.response
        if checked is not None:
            stored = pieces if checked.text == "".join(pieces) else [checked.text]
            texts = [*request_texts(request), checked.text]
            await self._set(call, caching.encode_chat(checked, stored), texts)

    async def embed(
        self, call: Call, request: llm.EmbeddingRequest, next: NextEmbed
    ) -> llm.EmbeddingResponse:
        """Cached vectors, or the rest of the chain, whose vectors are stored."""
        if not call.use_cache:
            return await next(call, request)
        data = await self._get(call.key)
        hit = caching.embedding_response(data, cached=True) if data is not None else None
        if hit is not None:
            self._stats.cache_hits += 1
            call.state.source = "cache"
            return hit
        response = await next(call, request)
        if call.state.source == "provider":
            encoded = caching.encode_embeddings(
                response.vectors, response.model, response.usage.input_tokens, response.cost_usd
            )
            await self._set(call, encoded, request.inputs)
        return response

    # -- the store, failing open ---------------------------------------------------------------

    async def _get(self, key: str) -> bytes | None:
        self._stats.cache_lookups += 1
        try:
            return await self._cache.get(key)
        except CacheBypassed:  # its circuit is open: a miss, already logged when it opened
            self._stats.cache_errors += 1
            return None
        except Exception as error:  # fail open: a cache that is down is a miss
            self._stats.cache_errors += 1
            log.warning("cache lookup failed (treated as a miss): %s", error)
            return None

    async def _lookup(self, key: str) -> tuple[llm.ChatResponse, list[str] | None] | None:
        data = await self._get(key)
        if data is None:
            return None
        decoded = caching.decode_chat(data)
        if decoded is not None:
            self._stats.cache_hits += 1
        return decoded

    async def _set(self, call: Call, value: bytes, texts: Sequence[str | None]) -> bool:
        """Store the entry unless its texts hold personal data the level keeps out of the shared
        cache; ``False`` when it was kept out."""
        if not cacheable(call.level, texts):
            return False
        ttl = call.options.ttl or call.policy.cache_ttl
        try:
            await self._cache.set(call.key, value, ttl=ttl)
            if call.user_id:
                await self._cache.index_add(user_index_key(call.tenant_id, call.user_id), call.key, ttl=ttl)
        except CacheBypassed:
            self._stats.cache_errors += 1
        except Exception as error:
            self._stats.cache_errors += 1
            log.warning("cache store failed (answer not cached): %s", error)
        return True

    # -- the semantic index --------------------------------------------------------------------

    async def _vector(self, call: Call, request: llm.ChatRequest) -> tuple[float, ...] | None:
        model = call.policy.semantic_cache_model or call.policy.default_embedding_model
        try:
            result = await self._embeddings.embed(
                llm.EmbeddingRequest(model=model, inputs=(caching.prompt_text(request),))
            )
        except ServiceError as error:
            log.warning("semantic cache embedding failed (treated as a miss): %s", error)
            return None
        return result.vectors[0] if result.vectors else None

    def _shape(self, call: Call, request: llm.ChatRequest) -> str:
        return caching.SemanticIndex.shape(
            request, caching.schema_variant(call.level, call.options.response_schema, call.cache_user)
        )

    async def _semantic_lookup(
        self, call: Call, request: llm.ChatRequest
    ) -> tuple[llm.ChatResponse, list[str] | None] | None:
        self._stats.semantic_lookups += 1
        vector = await self._vector(call, request)
        if vector is None:
            return None
        key = self.semantic.nearest(
            call.tenant_id, self._shape(call, request), vector, call.policy.semantic_cache_threshold
        )
        if key is None:
            return None
        hit = await self._lookup(key)
        if hit is None:
            self.semantic.forget(call.tenant_id, key)
            return None
        self._stats.semantic_hits += 1
        return hit

    async def _semantic_remember(self, call: Call, request: llm.ChatRequest) -> None:
        vector = await self._vector(call, request)
        if vector is not None:
            self.semantic.add(call.tenant_id, self._shape(call, request), call.key, vector)

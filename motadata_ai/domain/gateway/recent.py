"""The most frequent recent cacheable requests of each tenant, kept in the cache store for warming.

The usage ledger holds no prompt text (by design), so the cache keeps what warming needs beside
the answers, in a namespace of its own (:data:`RECENT`, so invalidating a tenant's answers leaves
it and warming can ask them again): a ranked index per tenant, ``{tenant}:recent:rank``, scoring
each answer's cache key by how often it was asked (bounded to ``recent_requests_max`` keys, living
``recent_requests_ttl`` seconds after its last change), and each request's body under
``{tenant}:recent:req:<digest>`` for its answer ``{tenant}:gw:chat:<digest>``. Erasing the tenant
erases both. Only requests whose answer the cache step stored are recorded, so a
request the privacy cache policy keeps out of the shared cache is never recorded either. The body
is kept only for a direct request of no known user (:meth:`RecentRequests.keeps_body`): a user's
text is that user's data, and a call made inside a RAG query or an agent task quotes passages,
memories and tool results that are erased with their sources. Any other request is ranked by its
key alone, warmed while its answer is cached, and not asked again once it expired.

Only a cache that keeps ranked indexes records (``CachePort.supports_ranking``: the in-process and
Redis caches and the tiers over them). Hits are counted in process and written every
``FLUSH_EVERY`` hits (one pipelined round trip), so a hit costs no extra round trip.
:func:`warm_recent` reads the ranking back: an answer still in the shared cache is read through
this instance's tiers (a tiered cache keeps it in L1), an expired one is asked again through the
gateway, which stores it.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from motadata_ai.domain.gateway.call import Call
from motadata_ai.domain.values import keys
from motadata_ai.domain.values.errors import ServiceError
from motadata_ai.domain.values.llm import ChatRequest, ChatResponse
from motadata_ai.ports.cache import CachePort

__all__ = ["FLUSH_EVERY", "RECENT", "RecentRequests", "WarmCounts", "body_key", "recent_index", "warm_recent"]

log = logging.getLogger("motadata_ai.gateway")

FLUSH_EVERY = 64
"""Hits counted in process before they are written to the ranking."""
BODY_FORMAT = 1
RECENT = "recent"
"""The key namespace of the record of recent requests."""


def recent_index(tenant_id: str) -> str:
    """The key of the tenant's ranked index of recent cacheable requests."""
    return keys.tenant_key(tenant_id, RECENT, "rank")


def body_key(cache_key: str) -> str:
    """The key of the request body kept for the answer at ``cache_key`` (``{t}:gw:chat:<d>``)."""
    parsed = keys.parse_key(cache_key)
    assert parsed.tenant_id is not None
    return keys.tenant_key(parsed.tenant_id, RECENT, "req", *parsed.segments[1:])


class RecentRequests:
    """Records the stored and the answered-from-cache chat requests (see the module docstring)."""

    def __init__(self, cache: CachePort) -> None:
        self._cache = cache
        self._enabled = cache.supports_ranking
        self._hits: dict[str, Counter[str]] = {}
        self._pending = 0

    def recordable(self, call: Call) -> bool:
        """Plain chat calls (a structured-output schema is not kept) of a policy that records, on
        a cache that keeps ranked indexes."""
        return (
            self._enabled
            and call.kind == "chat"
            and call.options.response_schema is None
            and call.policy.recent_requests_max > 0
        )

    @staticmethod
    def keeps_body(call: Call) -> bool:
        """Only a direct request of no known user: a user's text is that user's data, and a call
        made inside a use-case's request (a RAG answer, an agent step) quotes passages, memories
        and tool results that are erased with their sources, not with the cache's answers."""
        return not call.user_id and not call.internal and call.purpose == "request"

    async def stored(self, call: Call, request: ChatRequest) -> None:
        """The answer to ``request`` was just stored: count it once and (without a user) keep its body."""
        if not self.recordable(call):
            return
        ttl = call.policy.recent_requests_ttl
        try:
            if self.keeps_body(call):
                body = {"v": BODY_FORMAT, "request": request.model_dump(mode="json", exclude_defaults=True)}
                body["level"] = call.level
                await self._cache.set(body_key(call.key), json.dumps(body).encode(), ttl=ttl)
            await self._cache.rank_add(
                recent_index(call.tenant_id),
                {call.key: 1.0},
                max_members=call.policy.recent_requests_max,
                ttl=ttl,
            )
        except ServiceError as error:
            log.debug("recent request not recorded: %s", error)

    async def hit(self, call: Call) -> None:
        """``call`` was answered from the exact cache: count it (written every ``FLUSH_EVERY``)."""
        if not self.recordable(call):
            return
        self._hits.setdefault(call.tenant_id, Counter())[call.key] += 1
        self._pending += 1
        if self._pending >= FLUSH_EVERY:
            await self.flush(call.policy.recent_requests_max, call.policy.recent_requests_ttl)

    async def flush(self, max_members: int, ttl: float) -> None:
        """Write the hits counted so far."""
        hits, self._hits, self._pending = self._hits, {}, 0
        for tenant_id, counts in hits.items():
            try:
                await self._cache.rank_add(
                    recent_index(tenant_id),
                    {k: float(n) for k, n in counts.items()},
                    max_members=max_members,
                    ttl=ttl,
                )
            except ServiceError as error:
                log.debug("recent hits not recorded: %s", error)


@dataclass
class WarmCounts:
    """What :func:`warm_recent` did: answers read from the shared cache (now in this instance's
    L1 too), answers asked again (expired), requests whose body was gone, and failures."""

    cached: int = 0
    refreshed: int = 0
    missing: int = 0
    failed: int = 0


Generate = Callable[..., Awaitable[ChatResponse]]


async def warm_recent(cache: CachePort, generate: Generate, *, tenant_id: str, limit: int) -> WarmCounts:
    """Warm the ``limit`` most frequent recent requests of ``tenant_id``: each answer still in the
    cache is read (through every tier), each expired one is asked again with ``generate`` (the
    gateway's, which stores it)."""
    counts = WarmCounts()
    if not cache.supports_ranking:
        return counts
    for key, _score in await cache.rank_top(recent_index(tenant_id), limit):
        if await cache.get(key) is not None:
            counts.cached += 1
            continue
        data = await cache.get(body_key(key))
        body: dict[str, Any] | None = json.loads(data) if data else None
        if not body or body.get("v") != BODY_FORMAT:
            counts.missing += 1
            continue
        try:
            request = ChatRequest.model_validate(body["request"])
            await generate(request, tenant_id=tenant_id, validation_level=body.get("level"))
        except ServiceError as error:
            log.warning("warming a recent request failed: %s", error)
            counts.failed += 1
            continue
        counts.refreshed += 1
    return counts

"""RedisCache: CachePort on Redis or Valkey through ``redis.asyncio``.

Keys (of the SDK's scheme, :mod:`motadata_ai.domain.values.keys`) are stored as
``{namespace}:{key}``, e.g. ``motadata:{acme}:gw:chat:<digest>``, so several applications can
share one server; the tenant's braces are the key's Redis Cluster hash tag (the namespace holds
no braces). ``delete_tenant`` walks ``{namespace}:{tenant}:*`` with ``SCAN`` (never ``KEYS``) and
removes matches with ``UNLINK`` in batches; ``incr`` is one Lua script (``INCRBY`` + ``PEXPIRE``
only when the key was just created), so it is atomic across every process sharing the server.

Other Redis-backed state (rate-limit buckets, breaker state) reuses this adapter's connection
pool through :attr:`RedisCache.client` and builds its keys with :meth:`RedisCache.key` so they
live in the same namespace (and :meth:`RedisCache.translate_errors` gives the same error
translation). Every redis-py error becomes :class:`CacheUnavailable` (connection, timeout) or
:class:`CacheError` (anything else), naming the server with its password masked.
"""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from redis.asyncio.cluster import RedisCluster

from motadata_ai.adapters.defaults import REDIS_TIMEOUT
from motadata_ai.adapters.redis._common import (
    LuaScript,
    RedisClient,
    check_namespace,
    client_from_url,
    glob_prefix,
    translated,
    unlink_matching,
    unlink_prefix,
)
from motadata_ai.domain.values import keys
from motadata_ai.domain.values.addresses import mask_url
from motadata_ai.domain.values.errors import ValidationError
from motadata_ai.domain.values.health import ComponentHealth
from motadata_ai.ports.cache import (
    CacheError,
    CachePort,
    CacheUnavailable,
    check_key,
    check_ttl,
    check_value,
)

_INCR_SCRIPT = """
local created = redis.call('EXISTS', KEYS[1]) == 0
local value = redis.call('INCRBY', KEYS[1], ARGV[1])
if created and tonumber(ARGV[2]) > 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return value
"""


def _ttl_ms(ttl: float | None) -> int | None:
    seconds = check_ttl(ttl)
    return None if seconds is None else max(1, math.ceil(seconds * 1000))


class RedisCache(CachePort):
    """A cache on a Redis-protocol server.

    Build it with :meth:`from_url`; ``namespace`` prefixes every key (``"motadata"`` by default).
    Close it with :meth:`aclose`.
    """

    def __init__(self, client: RedisClient, *, address: str, namespace: str = "motadata") -> None:
        self._client = client
        self._address = mask_url(address)
        self._namespace = check_namespace(namespace, "cache")
        self._prefix = f"{namespace}:"
        self._incr = LuaScript(client, _INCR_SCRIPT)

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        namespace: str = "motadata",
        connect_timeout: float | None = None,
        timeout: float = REDIS_TIMEOUT,
        retries: int = 1,
        max_connections: int = 50,
    ) -> RedisCache:
        """A cache on the server at ``url`` (``redis://``, ``rediss://`` or ``unix://``), or on the
        Redis Cluster a ``redis+cluster://host:port,...`` URL names.

        ``connect_timeout`` (default: ``timeout``) and ``timeout`` (default 0.25) bound connecting
        and each command (seconds): short, since callers fail open and put the cache behind a
        circuit (:class:`~motadata_ai.domain.gateway.circuit_cache.CircuitCache`); ``retries`` is
        how many times a command is retried after a connection error;
        ``max_connections`` bounds the pool (further commands wait up to 2 s for a free
        connection). No connection is made until the first command (use :meth:`ping` to check at
        start-up).
        """
        client = client_from_url(
            url,
            connect_timeout=timeout if connect_timeout is None else connect_timeout,
            timeout=timeout,
            retries=retries,
            max_connections=max_connections,
            backoff_cap=1.0,
            decode_responses=False,
            health_check_interval=30,
        )
        return cls(client, address=url, namespace=namespace)

    @property
    def client(self) -> RedisClient:
        """The underlying ``redis.asyncio.Redis`` or ``RedisCluster`` (shared pool) for other
        Redis-backed adapters.

        Build keys with :meth:`key` and wrap calls in :meth:`translate_errors` so that no redis-py
        exception escapes an adapter.
        """
        return self._client

    @property
    def address(self) -> str:
        """The server URL with its password masked."""
        return self._address

    @property
    def namespace(self) -> str:
        """The prefix (without ``:``) of every key this cache writes."""
        return self._namespace

    def key(self, key: str) -> str:
        """The server-side name of ``key``: ``{namespace}:{key}``."""
        return self._prefix + check_key(key)

    @asynccontextmanager
    async def translate_errors(self, operation: str, key: str | None = None) -> AsyncIterator[None]:
        """Turn redis-py errors raised inside the block into :class:`CacheUnavailable` /
        :class:`CacheError` naming ``operation``, ``key`` and the masked address."""
        async with translated(
            CacheUnavailable, CacheError, what="cache", address=self._address, operation=operation, key=key
        ):
            yield

    async def get(self, key: str) -> bytes | None:
        """The value, or ``None`` when absent or expired."""
        name = self.key(key)
        async with self.translate_errors("get", key):
            value: Any = await self._client.get(name)
        return None if value is None else bytes(value)

    async def set(self, key: str, value: bytes, *, ttl: float | None = None) -> None:
        """Store ``value``; it expires after ``ttl`` seconds when given."""
        name = self.key(key)
        data = check_value(value)
        px = _ttl_ms(ttl)
        async with self.translate_errors("set", key):
            await self._client.set(name, data, px=px)

    async def delete(self, key: str) -> bool:
        """Remove the key; ``True`` when it existed."""
        name = self.key(key)
        async with self.translate_errors("delete", key):
            removed: int = await self._client.delete(name)
        return removed > 0

    async def delete_tenant(self, tenant_id: str, *, namespace: str | None = None) -> int:
        """Remove every entry of ``tenant_id`` (of ``namespace`` only, when given) with ``SCAN`` +
        batched ``UNLINK``; return how many."""
        prefix = keys.scope_prefix(tenant_id, namespace)
        async with self.translate_errors("delete_tenant", prefix):
            return await unlink_prefix(self._client, self._prefix + prefix)

    async def delete_matching(self, tenant_id: str, pattern: str, *, namespace: str) -> int:
        """Remove the keys of ``tenant_id`` in ``namespace`` matching the glob ``pattern``
        (:func:`keys.match_pattern`) with ``SCAN MATCH`` + batched ``UNLINK``; return how many."""
        glob = keys.match_pattern(tenant_id, namespace, pattern)
        fixed = glob_prefix(self._prefix + keys.scope_prefix(tenant_id, namespace))[:-1]  # escaped, no '*'
        async with self.translate_errors("delete_matching", glob):
            return await unlink_matching(self._client, fixed + pattern)

    async def incr(self, key: str, *, amount: int = 1, ttl: float | None = None) -> int:
        """Atomically add ``amount`` (creating the key at 0, with ``ttl``) and return the new value."""
        name = self.key(key)
        if isinstance(amount, bool) or not isinstance(amount, int):
            raise ValidationError(f"amount must be an integer, got {amount!r}", field="amount")
        px = _ttl_ms(ttl) or 0
        async with self.translate_errors("incr", key):
            value: Any = await self._incr(keys=[name], args=[amount, px])
        return int(value)

    async def index_add(self, index: str, key: str, *, ttl: float | None = None) -> None:
        """``SADD`` the key to the index set and extend its TTL to ``ttl`` (never shorten it), in
        one round trip."""
        name, member = self.key(index), check_key(key)
        px = _ttl_ms(ttl)
        async with self.translate_errors("index_add", index):
            pipe = self._client.pipeline(transaction=False)
            pipe.sadd(name, member)
            if px is not None:  # the index lives as long as its longest-lived entry
                pipe.pexpire(name, px, nx=True)
                pipe.pexpire(name, px, gt=True)
            await pipe.execute()

    async def index_members(self, index: str) -> list[str]:
        """``SMEMBERS`` of the index set, sorted."""
        name = self.key(index)
        async with self.translate_errors("index_members", index):
            members: Any = await self._client.smembers(name)
        return sorted(m.decode() if isinstance(m, bytes) else str(m) for m in members)

    async def delete_indexed(self, index: str) -> int:
        """``UNLINK`` the listed keys and ``SREM`` them from the set (members added meanwhile stay)."""
        members = await self.index_members(index)
        if not members:
            return 0
        name = self.key(index)
        async with self.translate_errors("delete_indexed", index):  # two commands: a cluster splits pipelines
            removed: Any = await self._client.unlink(*(self.key(m) for m in members))
            await self._client.srem(name, *members)
        return int(removed)

    @property
    def supports_ranking(self) -> bool:
        """Ranked indexes are sorted sets."""
        return True

    async def rank_add(
        self, index: str, increments: Mapping[str, float], *, max_members: int, ttl: float | None = None
    ) -> None:
        """``ZINCRBY`` each key, trim to the ``max_members`` best (``ZREMRANGEBYRANK``) and set the
        TTL, in one pipelined round trip on the index's slot."""
        name = self.key(index)
        members = {check_key(key): float(amount) for key, amount in increments.items()}
        if not members:
            return
        px = _ttl_ms(ttl)
        async with self.translate_errors("rank_add", index):
            pipe = self._client.pipeline(transaction=False)
            for member, amount in members.items():
                pipe.zincrby(name, amount, member)
            pipe.zremrangebyrank(name, 0, -(max(0, max_members) + 1))
            if px is not None:
                pipe.pexpire(name, px)
            await pipe.execute()

    async def rank_top(self, index: str, count: int) -> list[tuple[str, float]]:
        """``ZREVRANGE ... WITHSCORES`` (ties by key)."""
        name = self.key(index)
        if count <= 0:
            return []
        async with self.translate_errors("rank_top", index):
            rows: Any = await self._client.zrevrange(name, 0, count - 1, withscores=True)
        ranked = [(m.decode() if isinstance(m, bytes) else str(m), float(score)) for m, score in rows]
        return sorted(ranked, key=lambda item: (-item[1], item[0]))

    async def ping(self) -> bool:
        """``True`` when the server answers; :class:`CacheUnavailable` when it cannot be reached."""
        async with self.translate_errors("ping"):
            return bool(await self._client.ping())

    async def health(self) -> ComponentHealth:
        """One ``PING`` (bounded by the client's command timeout), timed."""
        started = time.perf_counter()
        details = {"probe": "ping", "address": self._address}
        try:
            await self._client.ping()
        except Exception as error:  # any failure of the probe means the server does not answer
            return ComponentHealth(
                status="down",
                latency_ms=(time.perf_counter() - started) * 1000,
                details=details,
                error=type(error).__name__,
            )
        latency_ms = (time.perf_counter() - started) * 1000
        return ComponentHealth(status="ok", latency_ms=latency_ms, details=details)

    async def aclose(self) -> None:
        """Close the connection pool."""
        async with self.translate_errors("close"):
            if isinstance(self._client, RedisCluster):
                await self._client.aclose()
            else:
                await self._client.aclose(close_connection_pool=True)

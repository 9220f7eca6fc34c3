"""RedisLeases: LeasePort on Redis or Valkey (one server or a Redis Cluster), one script a call.

A lease on ``key`` (``{<tenant>}:<ns>:<segments>``) is the string
``{namespace}:{<tenant>}:<ns>:lease:<segments>`` holding its owner, set with ``SET NX PX``; its
result is ``{namespace}:{<tenant>}:<ns>:lease-result:<segments>`` (beside, never among, the cache's
own entries: an invalidation pattern like ``chat:*`` does not reach them, erasing the tenant's
namespace does). Both carry the key's tenant as the hash tag, so the release script (store the
result, drop the lease if the owner still holds it) runs on one slot of a cluster. Extending and
releasing compare the owner first, so an instance whose lease expired and passed on never drops or
extends its successor's. The adapter usually shares the cache's connection pool
(:attr:`RedisCache.client <motadata_ai.adapters.redis.cache.RedisCache.client>`); every redis-py
error becomes :class:`LeaseUnavailable` or :class:`LeaseError`.
"""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from motadata_ai.adapters.defaults import REDIS_TIMEOUT
from motadata_ai.adapters.redis._common import (
    LuaScript,
    RedisClient,
    check_namespace,
    client_from_url,
    translated,
)
from motadata_ai.domain.values import keys
from motadata_ai.domain.values.addresses import mask_url
from motadata_ai.domain.values.errors import ValidationError
from motadata_ai.domain.values.health import ComponentHealth
from motadata_ai.ports.leases import (
    LeaseError,
    LeasePort,
    LeaseUnavailable,
    check_lease_key,
    check_owner,
    check_seconds,
)

__all__ = ["RedisLeases"]

_ACQUIRE = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
if redis.call('GET', KEYS[1]) == ARGV[1] then return 1 end
return 0
"""

_EXTEND = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"""

_RELEASE = """
if ARGV[2] == '1' then
  if tonumber(ARGV[4]) > 0 then
    redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[4])
  else
    redis.call('SET', KEYS[2], ARGV[3])
  end
end
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
"""


_KINDS = ("lease", "lease-result")


def _ms(seconds: float) -> int:
    return max(1, math.ceil(seconds * 1000))


class RedisLeases(LeasePort):
    """Leases shared by every process using the same server (or cluster).

    Pass a client (for instance ``RedisCache.client``, sharing its pool) or build one with
    :meth:`from_url`; ``namespace`` prefixes every key, as the cache's does.
    """

    def __init__(
        self, client: RedisClient, *, address: str, namespace: str = "motadata", owns_client: bool = False
    ) -> None:
        self._client = client
        self._address = mask_url(address)
        self._prefix = check_namespace(namespace, "lease") + ":"
        self._owns_client = owns_client
        self._acquire = LuaScript(client, _ACQUIRE)
        self._extend = LuaScript(client, _EXTEND)
        self._release = LuaScript(client, _RELEASE)

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        namespace: str = "motadata",
        timeout: float = REDIS_TIMEOUT,
        max_connections: int = 50,
    ) -> RedisLeases:
        """Leases on the server (``redis://``, ``rediss://``, ``unix://``) or cluster
        (``redis+cluster://host:port,...``) at ``url``; ``timeout`` bounds each command."""
        client = client_from_url(
            url, connect_timeout=timeout, timeout=timeout, retries=1,
            max_connections=max_connections, backoff_cap=0.5,
        )  # fmt: skip
        return cls(client, address=url, namespace=namespace, owns_client=True)

    @property
    def address(self) -> str:
        """The server URL with its password masked."""
        return self._address

    def _names(self, key: str) -> list[str]:
        parsed = keys.parse_key(check_lease_key(key))
        namespace, segments, tenant = parsed.namespace, parsed.segments, parsed.tenant_id
        if tenant is None:
            return [self._prefix + keys.shared_key(namespace, kind, *segments) for kind in _KINDS]
        return [self._prefix + keys.tenant_key(tenant, namespace, kind, *segments) for kind in _KINDS]

    @asynccontextmanager
    async def _translated(self, operation: str) -> AsyncIterator[None]:
        async with translated(
            LeaseUnavailable, LeaseError, what="lease", address=self._address, operation=operation
        ):
            yield

    async def acquire(self, key: str, *, owner: str, ttl: float) -> bool:
        """``SET NX PX`` (or already ``owner``'s), one script."""
        names = self._names(key)
        args = [check_owner(owner), _ms(check_seconds(ttl, field="ttl"))]
        async with self._translated("acquire"):
            return int(await self._acquire(keys=names[:1], args=args)) == 1

    async def extend(self, key: str, *, owner: str, ttl: float) -> bool:
        """``PEXPIRE`` when ``owner`` holds the lease, one script."""
        names = self._names(key)
        args = [check_owner(owner), _ms(check_seconds(ttl, field="ttl"))]
        async with self._translated("extend"):
            return int(await self._extend(keys=names[:1], args=args)) == 1

    async def release(
        self, key: str, *, owner: str, result: bytes | None = None, result_ttl: float | None = None
    ) -> bool:
        """Store the result and drop the lease of ``owner``, one script on one slot."""
        names = self._names(key)
        if result is not None and not isinstance(result, bytes | bytearray | memoryview):
            raise ValidationError("a lease result is bytes", field="result")
        px = 0 if result_ttl is None else _ms(check_seconds(result_ttl, field="result_ttl"))
        args: list[Any] = [check_owner(owner), "0" if result is None else "1", bytes(result or b""), px]
        async with self._translated("release"):
            return int(await self._release(keys=names, args=args)) == 1

    async def result(self, key: str) -> bytes | None:
        """``GET`` of the result key."""
        name = self._names(key)[1]
        async with self._translated("result"):
            value: Any = await self._client.get(name)
        return None if value is None else bytes(value)

    async def health(self) -> ComponentHealth:
        """One ``PING``, timed."""
        started = time.perf_counter()
        details = {"probe": "ping", "address": self._address}
        try:
            await self._client.ping()
        except Exception as error:  # any failure of the probe means the server does not answer
            elapsed = (time.perf_counter() - started) * 1000
            return ComponentHealth(
                status="down", latency_ms=elapsed, details=details, error=type(error).__name__
            )
        return ComponentHealth(
            status="ok", latency_ms=(time.perf_counter() - started) * 1000, details=details
        )

    async def aclose(self) -> None:
        """Close the pool when this adapter built it (a shared pool is its owner's to close)."""
        if self._owns_client:
            async with self._translated("close"):
                await self._client.aclose()

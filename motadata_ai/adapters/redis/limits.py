"""RedisLimits: LimitsPort on Redis or Valkey, every update one server-side Lua script.

Keys follow the SDK's scheme (:mod:`motadata_ai.domain.values.keys`) under the server namespace:
token buckets are hashes ``{namespace}:{<tenant>}:rl:...`` (``tokens``, ``ts``) and circuits are
hashes ``{namespace}:{~}:cb:<model>`` (``state``, ``failures``, ``opened_at``, ``probes``,
``probe_started``), so the cache and the limits share one server without sharing a key.
The scripts read the server's ``TIME``, so every gateway instance sharing the server agrees on the
clock, and apply the same rules as :mod:`motadata_ai.domain.values.limits`. Buckets expire once
they would be full again; circuits after a day without change.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from motadata_ai.adapters.defaults import REDIS_TIMEOUT
from motadata_ai.adapters.redis._common import (
    LuaScript,
    RedisClient,
    check_namespace,
    client_from_url,
    glob_prefix,
    translated,
    unlink_matching,
)
from motadata_ai.domain.values import keys
from motadata_ai.domain.values.addresses import mask_url
from motadata_ai.domain.values.health import ComponentHealth
from motadata_ai.domain.values.limits import BreakerDecision, BreakerState, BucketSpec, LimitDecision
from motadata_ai.ports.limits import LimitsError, LimitsPort, LimitsUnavailable

__all__ = ["RedisLimits"]

_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
"""

_TAKE = (
    _NOW
    + """
local force = ARGV[1] == '1'
local levels = {}
local refused = {}
local wait = 0
for i, key in ipairs(KEYS) do
  local base = 1 + (i - 1) * 3
  local cap = tonumber(ARGV[base + 1])
  local rate = tonumber(ARGV[base + 2])
  local amount = tonumber(ARGV[base + 3])
  local state = redis.call('HMGET', key, 'tokens', 'ts')
  local level = cap
  if state[1] then
    local elapsed = math.max(0, now - tonumber(state[2]))
    level = math.min(cap, tonumber(state[1]) + elapsed * rate)
  end
  levels[i] = level
  if not force then
    local needed = math.min(amount, cap)
    if level + 1e-9 < needed then
      table.insert(refused, i)
      if rate > 0 then
        wait = math.max(wait, (needed - level) / rate)
      else
        wait = -1
      end
    end
  end
end
if #refused > 0 then
  local out = {0, string.format('%.6f', wait)}
  for _, i in ipairs(refused) do table.insert(out, i) end
  return out
end
for i, key in ipairs(KEYS) do
  local base = 1 + (i - 1) * 3
  local cap = tonumber(ARGV[base + 1])
  local rate = tonumber(ARGV[base + 2])
  local left = levels[i] - tonumber(ARGV[base + 3])
  redis.call('HSET', key, 'tokens', string.format('%.6f', left), 'ts', string.format('%.6f', now))
  local ttl = 3600000
  if rate > 0 then ttl = math.ceil((cap - left) / rate * 1000) + 1000 end
  redis.call('PEXPIRE', key, ttl)
end
return {1, '0'}
"""
)

_BREAKER_FIELDS = "'state', 'failures', 'opened_at', 'probes', 'probe_started'"

_ACQUIRE = (
    _NOW
    + f"""
local timeout = tonumber(ARGV[1])
local max_probes = tonumber(ARGV[2])
local s = redis.call('HMGET', KEYS[1], {_BREAKER_FIELDS})
local state = s[1] or 'closed'
local failures = tonumber(s[2] or '0')
local opened = tonumber(s[3] or '0')
local probes = tonumber(s[4] or '0')
local started = tonumber(s[5] or '0')
local function out(allowed, retry)
  return {{allowed, state, tostring(failures), string.format('%.6f', opened), tostring(probes),
          string.format('%.6f', started), string.format('%.6f', retry)}}
end
local function probe(count, since)
  state = 'half_open'
  probes = count
  started = since
  redis.call('HSET', KEYS[1], 'state', state, 'probes', probes,
             'probe_started', string.format('%.6f', started))
  redis.call('PEXPIRE', KEYS[1], 86400000)
  return out(1, 0)
end
if state == 'closed' then return out(1, 0) end
if state == 'open' then
  if now < opened + timeout then return out(0, opened + timeout - now) end
  return probe(1, now)
end
if now - started >= timeout then return probe(1, now) end
if probes < max_probes then return probe(probes + 1, started) end
return out(0, math.max(0, started + timeout - now))
"""
)

_RECORD = (
    _NOW
    + f"""
local success = ARGV[1] == '1'
local threshold = tonumber(ARGV[2])
if success then
  redis.call('DEL', KEYS[1])
  return {{'closed', '0', '0', '0', '0'}}
end
local s = redis.call('HMGET', KEYS[1], {_BREAKER_FIELDS})
local state = s[1] or 'closed'
local failures = tonumber(s[2] or '0')
local opened = tonumber(s[3] or '0')
if state == 'half_open' then
  state = 'open'
  failures = failures + 1
  opened = now
elseif state == 'closed' then
  failures = failures + 1
  if failures >= threshold then
    state = 'open'
    opened = now
  end
end
if state ~= 'open' or s[1] ~= 'open' then
  redis.call('HSET', KEYS[1], 'state', state, 'failures', failures,
             'opened_at', string.format('%.6f', opened), 'probes', 0, 'probe_started', 0)
  redis.call('PEXPIRE', KEYS[1], 86400000)
end
return {{state, tostring(failures), string.format('%.6f', opened), '0', '0'}}
"""
)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _breaker(values: Sequence[Any]) -> BreakerState:
    state, failures, opened, probes, started = (_text(v) for v in values[:5])
    return BreakerState(
        state=state,  # type: ignore[arg-type]
        failures=int(failures),
        opened_at=float(opened),
        probes=int(probes),
        probe_started=float(started),
    )


class RedisLimits(LimitsPort):
    """Token buckets and circuit breakers shared by every process using the same server.

    Build it with :meth:`from_url`, or pass a ``redis.asyncio`` client (for instance
    ``RedisCache.client``) to share a connection pool.
    """

    def __init__(
        self, client: RedisClient, *, address: str, namespace: str = "motadata", owns_client: bool = False
    ) -> None:
        self._client = client
        self._address = mask_url(address)
        self._namespace = check_namespace(namespace, "limits")
        self._owns_client = owns_client
        self._take = LuaScript(client, _TAKE)
        self._acquire = LuaScript(client, _ACQUIRE)
        self._record = LuaScript(client, _RECORD)

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        namespace: str = "motadata",
        connect_timeout: float | None = None,
        timeout: float = REDIS_TIMEOUT,
        retries: int = 0,
        max_connections: int = 50,
    ) -> RedisLimits:
        """Limits on the server at ``url``; short timeouts (``connect_timeout`` defaults to
        ``timeout``, 0.25 s), since the caller falls back on failure
        (:class:`~motadata_ai.domain.gateway.fallback_limits.FallbackLimits`)."""
        client = client_from_url(
            url,
            connect_timeout=timeout if connect_timeout is None else connect_timeout,
            timeout=timeout,
            retries=retries,
            max_connections=max_connections,
            backoff_cap=0.5,
        )
        return cls(client, address=url, namespace=namespace, owns_client=True)

    @property
    def address(self) -> str:
        """The server URL with its password masked."""
        return self._address

    @asynccontextmanager
    async def _translated(self, operation: str) -> AsyncIterator[None]:
        async with translated(
            LimitsUnavailable, LimitsError, what="limits", address=self._address, operation=operation
        ):
            yield

    def _bucket_key(self, key: str) -> str:
        return f"{self._namespace}:{keys.check_key(key, namespace=keys.RATE_LIMITS, field='bucket key')}"

    def _breaker_key(self, key: str) -> str:
        return f"{self._namespace}:{keys.check_key(key, namespace=keys.BREAKERS, field='breaker key')}"

    async def take(self, buckets: Sequence[BucketSpec], *, force: bool = False) -> LimitDecision:
        """One script: check every bucket, then take from all of them or none."""
        if not buckets:
            return LimitDecision(allowed=True)
        names = [self._bucket_key(s.key) for s in buckets]
        args: list[Any] = ["1" if force else "0"]
        for spec in buckets:
            args += [
                repr(float(spec.capacity)),
                repr(float(spec.refill_per_second)),
                repr(float(spec.amount)),
            ]
        async with self._translated("take"):
            result = await self._take(keys=names, args=args)
        if int(result[0]) == 1:
            return LimitDecision(allowed=True)
        wait = float(_text(result[1]))
        refused = tuple(buckets[int(i) - 1].key for i in result[2:])
        return LimitDecision(allowed=False, retry_after=float("inf") if wait < 0 else wait, refused=refused)

    async def breaker_acquire(
        self, key: str, *, recovery_timeout: float, half_open_max_calls: int = 1
    ) -> BreakerDecision:
        """One script: closed passes; open refuses until the timeout, then lets probes through."""
        name = self._breaker_key(key)
        async with self._translated("breaker_acquire"):
            result = await self._acquire(
                keys=[name], args=[repr(float(recovery_timeout)), int(half_open_max_calls)]
            )
        state = _breaker(result[1:6])
        return BreakerDecision(allowed=int(result[0]) == 1, state=state, retry_after=float(_text(result[6])))

    async def breaker_record(self, key: str, *, success: bool, failure_threshold: int) -> BreakerState:
        """One script: success closes; failures open at the threshold or after a failed probe."""
        name = self._breaker_key(key)
        async with self._translated("breaker_record"):
            result = await self._record(keys=[name], args=["1" if success else "0", int(failure_threshold)])
        return _breaker(result)

    async def breaker_states(self) -> dict[str, BreakerState]:
        """Every circuit the server holds (closed circuits with no failures are not stored)."""
        namespace = glob_prefix(f"{self._namespace}:")[:-1]
        pattern = f"{namespace}{{*}}:{keys.BREAKERS}:*"
        start = len(self._namespace) + 1
        async with self._translated("breaker_states"):
            names = [name async for name in self._client.scan_iter(match=pattern, count=500)]
            states: dict[str, BreakerState] = {}
            for raw in names:
                key = _text(raw)[start:]
                try:
                    keys.check_key(key, namespace=keys.BREAKERS)
                except ValueError:
                    continue
                values = await self._client.hmget(
                    raw, ["state", "failures", "opened_at", "probes", "probe_started"]
                )
                if values[0] is None:
                    continue
                states[key] = _breaker([v if v is not None else b"0" for v in values])
        return states

    async def reset(self, tenant_id: str | None = None) -> None:
        """Delete the buckets and circuits of ``tenant_id`` (every one when ``None``)."""
        if tenant_id is None:
            namespace = glob_prefix(f"{self._namespace}:")[:-1]
            patterns = [f"{namespace}{{*}}:{ns}:*" for ns in (keys.RATE_LIMITS, keys.BREAKERS)]
        else:
            patterns = [
                glob_prefix(f"{self._namespace}:{keys.scope_prefix(tenant_id, ns)}")
                for ns in (keys.RATE_LIMITS, keys.BREAKERS)
            ]
        async with self._translated("reset"):
            for pattern in patterns:
                await unlink_matching(self._client, pattern)

    async def ping(self) -> bool:
        """``True`` when the server answers."""
        async with self._translated("ping"):
            return bool(await self._client.ping())

    async def health(self) -> ComponentHealth:
        """One ``PING`` (bounded by the client's command timeout), timed; ``down`` with the error's
        type when the server does not answer."""
        started = time.perf_counter()
        details: dict[str, Any] = {"probe": "ping", "address": self._address}
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
        """Close the connection pool (only when this adapter created it)."""
        if self._owns_client:
            await self._client.aclose()

"""What the Redis adapters share: the connection pool, namespace checks, key sweeps and error translation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import redis.asyncio as aioredis
from redis import exceptions as redis_errors
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

from motadata_ai.domain.values.addresses import mask_url
from motadata_ai.domain.values.errors import ConfigurationError, MotadataError, ValidationError

DEFAULT_TIMEOUT = 0.25
"""Seconds a Redis command (and connecting) may take by default: short, because every caller of
these adapters has a local answer when Redis is down (the cache is a miss, limits fall back), so a
frozen server should cost one short wait, after which the callers' circuit keeps them off the
socket."""
POOL_WAIT_MIN = 2.0
"""Shortest wait for a free pooled connection: a burst above ``max_connections`` queues on a
healthy server, which is no failure (the wait is ``max(timeout, POOL_WAIT_MIN)``)."""

_GLOB_SPECIAL = str.maketrans({c: "\\" + c for c in "\\*?[]"})
_UNLINK_BATCH = 500


def check_namespace(namespace: Any, what: str) -> str:
    """``namespace`` when it is a non-empty string without glob characters, braces (the keys'
    hash tag is the tenant's), colons or whitespace."""
    if (
        not isinstance(namespace, str)
        or not namespace
        or any(c in namespace for c in "*?[]\\{}:") or any(c.isspace() for c in namespace)
    ):
        raise ValidationError(f"invalid {what} namespace {namespace!r}", field="namespace")
    return namespace


def client_from_url(
    url: str,
    *,
    connect_timeout: float,
    timeout: float,
    retries: int,
    max_connections: int,
    backoff_cap: float,
    **options: Any,
) -> aioredis.Redis:
    """A client on a blocking pool for ``url``; an unparsable URL is a :class:`ConfigurationError`.

    ``retries`` retries a command after a connection error (a pooled connection the server
    dropped; never after a timeout, which would only double the wait on a frozen server), with
    exponential backoff up to ``backoff_cap`` seconds; ``options`` go to the pool as they are.
    """
    try:
        pool = aioredis.BlockingConnectionPool.from_url(
            url,
            max_connections=max_connections,
            timeout=max(timeout, POOL_WAIT_MIN),
            socket_connect_timeout=connect_timeout,
            socket_timeout=timeout,
            retry=Retry(
                ExponentialBackoff(cap=backoff_cap, base=0.01),
                retries,
                supported_errors=(redis_errors.ConnectionError,),
            ),
            **options,
        )
        return aioredis.Redis(connection_pool=pool)
    except (ValueError, TypeError) as e:
        masked = mask_url(url)
        raise ConfigurationError(f"invalid Redis URL {masked!r}: {e}", address=masked) from e


def glob_prefix(prefix: str) -> str:
    """A ``SCAN MATCH`` pattern for the keys starting with ``prefix`` (glob characters escaped)."""
    return prefix.translate(_GLOB_SPECIAL) + "*"


async def unlink_prefix(client: aioredis.Redis, prefix: str) -> int:
    """Remove every key starting with ``prefix`` (``SCAN`` + batched ``UNLINK``); return how many."""
    return await unlink_matching(client, glob_prefix(prefix))


async def unlink_matching(client: aioredis.Redis, pattern: str) -> int:
    """Remove every key matching the ``SCAN MATCH`` glob ``pattern`` in batches; return how many."""
    removed = 0
    batch: list[bytes] = []
    async for name in client.scan_iter(match=pattern, count=_UNLINK_BATCH):
        batch.append(name)
        if len(batch) >= _UNLINK_BATCH:
            removed += await client.unlink(*batch)
            batch.clear()
    if batch:
        removed += await client.unlink(*batch)
    return removed


@asynccontextmanager
async def translated(
    unavailable: type[MotadataError],
    failure: type[MotadataError],
    *,
    what: str,
    address: str,
    operation: str,
    **fields: Any,
) -> AsyncIterator[None]:
    """Re-raise redis-py errors as ``unavailable`` (connection, timeout) or ``failure`` (other),
    naming ``what`` (``"cache"``, ``"limits"``), the operation and the masked ``address``."""
    try:
        yield
    except (redis_errors.ConnectionError, redis_errors.TimeoutError, OSError) as e:
        raise unavailable(
            f"{what} server {address} is unavailable during {operation}: {e}",
            address=address,
            operation=operation,
            **fields,
        ) from e
    except redis_errors.RedisError as e:
        raise failure(
            f"{what} {operation} failed on {address}: {e}", address=address, operation=operation, **fields
        ) from e

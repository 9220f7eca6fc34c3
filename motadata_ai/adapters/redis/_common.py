"""What the Redis adapters share: the client (one server or a Redis Cluster), namespace checks, key
sweeps and error translation.

A URL ``redis+cluster://[user:password@]host:port,host:port,...`` (``rediss+cluster://`` for TLS)
names a Redis Cluster: the adapters then use redis-py's asyncio ``RedisCluster``, which follows
``MOVED``/``ASK`` redirections and refreshes its slot map after a failover. Every key of the SDK's
scheme carries its tenant (or the shared ``~`` scope) as the hash tag, so each Lua script and
multi-key command touches one slot; key sweeps (``SCAN``) visit every master.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import redis
import redis.asyncio as aioredis
from redis import exceptions as redis_errors
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

from motadata_ai.domain.values.addresses import mask_url
from motadata_ai.domain.values.errors import ConfigurationError, MotadataError, ValidationError

POOL_WAIT_MIN = 2.0
"""Shortest wait for a free pooled connection: a burst above ``max_connections`` queues on a
healthy server, which is no failure (the wait is ``max(timeout, POOL_WAIT_MIN)``)."""

CLUSTER_SCHEMES = {"redis+cluster": False, "rediss+cluster": True}
"""URL schemes naming a Redis Cluster, and whether they use TLS."""

RedisClient = aioredis.Redis | RedisCluster
"""The client the adapters hold: one server, or a cluster."""

_CLUSTER_OUTAGES = (
    redis_errors.ClusterDownError,
    redis_errors.TryAgainError,
    redis_errors.SlotNotCoveredError,
    redis_errors.MaxConnectionsError,
    redis_errors.ReadOnlyError,
)
"""Cluster states a caller should treat as an outage (a master down, a failover in progress)."""
_OUTAGES = (redis_errors.ConnectionError, redis_errors.TimeoutError, OSError, *_CLUSTER_OUTAGES)
"""Errors that mean the server (or the slot's master) cannot be reached."""

_CLIENT_DIRS = tuple(os.path.dirname(module.__file__ or "") + os.sep for module in (redis, asyncio))
"""Where redis-py and asyncio's streams live: a bare ``AttributeError``/``TypeError`` raised there
is a connection closed under a command (its writer already ``None``), not a bug of the caller."""

_GLOB_SPECIAL = str.maketrans({c: "\\" + c for c in "\\*?[]"})
_UNLINK_BATCH = 500


def check_namespace(namespace: Any, what: str) -> str:
    """``namespace`` when it is a non-empty string without glob characters, braces (the keys'
    hash tag is the tenant's), colons or whitespace."""
    if (
        not isinstance(namespace, str)
        or not namespace
        or any(c in namespace for c in "*?[]\\{}:")
        or any(c.isspace() for c in namespace)
    ):
        raise ValidationError(f"invalid {what} namespace {namespace!r}", field="namespace")
    return namespace


class BoundedRedisCluster(RedisCluster):
    """redis-py's asyncio ``RedisCluster`` with at most ``max_connections`` commands in flight.

    The plain cluster client raises ``MaxConnectionsError`` (a ``ConnectionError``) when a burst
    exceeds a node's pool, and handles it like a node failure: it re-reads the slot map, drops
    every connection, and retries, so commands already sent on those connections run twice (an
    ``INCR`` counted twice). Here a burst waits for a free slot, as on the single-server
    ``BlockingConnectionPool``. The first command reads the slot map alone: concurrent first
    commands would each re-read it and drop the connections the others are opening.
    """

    def __init__(self, *args: Any, max_connections: int = 50, **kwargs: Any) -> None:
        super().__init__(*args, max_connections=max_connections, **kwargs)
        self._in_flight = asyncio.Semaphore(max_connections)
        self._first = asyncio.Lock()

    async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        """Wait for a free slot, then run the command as ``RedisCluster`` does."""
        if self._initialize:
            async with self._first:
                if self._initialize:
                    await self.initialize()
        async with self._in_flight:
            return await super().execute_command(*args, **kwargs)


def is_cluster_url(url: str) -> bool:
    """``True`` when ``url`` names a Redis Cluster (``redis+cluster://``, ``rediss+cluster://``)."""
    return url.split("://", 1)[0].lower() in CLUSTER_SCHEMES


def _cluster_client(
    url: str,
    *,
    connect_timeout: float,
    timeout: float,
    retries: int,
    max_connections: int,
    backoff_cap: float,
    **options: Any,
) -> RedisCluster:
    scheme, rest = url.split("://", 1)
    credentials, _, hosts = rest.rpartition("@")
    username, _, password = credentials.partition(":")
    nodes: list[ClusterNode] = []
    for item in hosts.rstrip("/").split(","):
        host, _, port = item.strip().rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"cluster node {item!r} is not host:port")
        nodes.append(ClusterNode(host.strip("[]"), int(port)))
    options.pop("health_check_interval", None)
    return BoundedRedisCluster(
        startup_nodes=nodes,
        username=username or None,
        password=password or None,
        ssl=CLUSTER_SCHEMES[scheme.lower()],
        max_connections=max_connections,
        socket_connect_timeout=connect_timeout,
        socket_timeout=timeout,
        require_full_coverage=False,
        retry=Retry(ExponentialBackoff(cap=backoff_cap, base=0.01), retries),
        **options,
    )


def client_from_url(
    url: str,
    *,
    connect_timeout: float,
    timeout: float,
    retries: int,
    max_connections: int,
    backoff_cap: float,
    **options: Any,
) -> RedisClient:
    """A client for ``url``; an unparsable URL is a :class:`ConfigurationError`.

    ``redis://``, ``rediss://`` and ``unix://`` give a client on a blocking pool; a cluster URL
    (``redis+cluster://host:port,...``) gives a ``RedisCluster`` that discovers the other nodes
    from any one listed (it retries at least once, so a ``MOVED`` after a failover is followed).

    ``retries`` retries a command after a connection error (a pooled connection the server
    dropped; never after a timeout, which would only double the wait on a frozen server), with
    exponential backoff up to ``backoff_cap`` seconds; ``options`` go to the pool as they are.
    """
    try:
        if is_cluster_url(url):
            return _cluster_client(
                url,
                connect_timeout=connect_timeout,
                timeout=timeout,
                retries=retries,
                max_connections=max_connections,
                backoff_cap=backoff_cap,
                **options,
            )
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
    except (ValueError, TypeError, redis_errors.RedisClusterException) as e:
        masked = mask_url(url)
        raise ConfigurationError(f"invalid Redis URL {masked!r}: {e}", address=masked) from e


class LuaScript:
    """A Lua script run with its keys on the server (or, on a cluster, on the master of their slot).

    On one server it is ``EVALSHA`` with a fallback to loading the script; on a cluster it is
    ``EVAL`` with the source (a few hundred bytes): redis-py's ``NOSCRIPT`` recovery there reloads
    the script through another node while concurrent calls race, which was seen to run a call
    twice, and a counter incremented twice is wrong.
    """

    def __init__(self, client: RedisClient, source: str) -> None:
        self._client = client
        self._source = source
        self._registered = None if isinstance(client, RedisCluster) else client.register_script(source)

    async def __call__(self, *, keys: list[str], args: list[Any]) -> Any:
        """Run the script on ``keys`` (all of one hash slot) with ``args``."""
        if self._registered is not None:
            return await self._registered(keys=keys, args=args)
        return await self._client.eval(self._source, len(keys), *keys, *args)  # type: ignore[misc]


def glob_prefix(prefix: str) -> str:
    """A ``SCAN MATCH`` pattern for the keys starting with ``prefix`` (glob characters escaped)."""
    return prefix.translate(_GLOB_SPECIAL) + "*"


async def unlink_prefix(client: RedisClient, prefix: str) -> int:
    """Remove every key starting with ``prefix`` (``SCAN`` + batched ``UNLINK``); return how many."""
    return await unlink_matching(client, glob_prefix(prefix))


async def unlink_matching(client: RedisClient, pattern: str) -> int:
    """Remove every key matching the ``SCAN MATCH`` glob ``pattern`` in batches; return how many.

    On a cluster ``SCAN`` walks every master and ``UNLINK`` is split by slot by the client."""
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


def _is_torn_connection(error: BaseException) -> bool:
    """An ``AttributeError``/``TypeError`` raised inside redis-py or asyncio's streams.

    redis-py closes a node's connections when it sees the node fail (a failover, a dropped
    socket) while other commands are still writing on them; those commands then fail on the
    ``None`` left in place of the stream. The error names the client's state, so it is an outage
    of the connection, retried by the callers like any other."""
    if not isinstance(error, AttributeError | TypeError) or error.__traceback__ is None:
        return False
    frame = error.__traceback__
    while frame.tb_next is not None:
        frame = frame.tb_next
    return frame.tb_frame.f_code.co_filename.startswith(_CLIENT_DIRS)


def _is_outage(error: BaseException) -> bool:
    """A cluster error caused by unreachable nodes (no node answers to read the slot map)."""
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, redis_errors.ConnectionError | redis_errors.TimeoutError | OSError):
            return True
        cause = cause.__cause__ or cause.__context__
    return False


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
    """Re-raise redis-py errors as ``unavailable`` (connection, timeout, a connection torn down
    under the command) or ``failure`` (other), naming ``what`` (``"cache"``, ``"limits"``), the
    operation and the masked ``address``; any other exception passes through unchanged."""
    try:
        yield
    except Exception as e:
        client_error = isinstance(e, redis_errors.RedisError | redis_errors.RedisClusterException)
        if isinstance(e, _OUTAGES) or _is_torn_connection(e) or (client_error and _is_outage(e)):
            raise unavailable(
                f"{what} server {address} is unavailable during {operation}: {e}",
                address=address,
                operation=operation,
                **fields,
            ) from e
        if client_error:
            raise failure(
                f"{what} {operation} failed on {address}: {e}", address=address, operation=operation, **fields
            ) from e
        raise

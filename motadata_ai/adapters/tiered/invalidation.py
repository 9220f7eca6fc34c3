"""Invalidation broadcasts between the L1 tiers of every instance: Redis pub/sub, or in process.

An :class:`Invalidation` names exact keys, or a tenant (with an optional namespace, and an
optional glob pattern within it). Each instance tags its messages with its own id and ignores
its own echoes. :class:`RedisInvalidations` publishes on ``{namespace}:cache-invalidations`` of
the L2 server (``PUBLISH`` reaches every node of a Redis Cluster) and listens with one pub/sub
connection that re-subscribes after a reconnect; :class:`LocalInvalidations` joins instances
in one process (tests, benchmarks).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import uuid
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster

from motadata_ai.domain.values import keys

__all__ = ["Invalidation", "InvalidationChannel", "LocalInvalidations", "RedisInvalidations"]

logger = logging.getLogger("motadata_ai.cache.tiered")

Listener = Callable[["Invalidation"], Awaitable[None]]


@dataclass(frozen=True)
class Invalidation:
    """What other instances must drop from L1."""

    keys: tuple[str, ...] = ()
    tenant_id: str | None = None
    namespace: str | None = None
    pattern: str | None = None
    origin: str = field(default="", compare=False)

    def encode(self) -> bytes:
        """JSON bytes for the wire."""
        return json.dumps(
            {"keys": list(self.keys), "tenant_id": self.tenant_id, "namespace": self.namespace,
             "pattern": self.pattern, "origin": self.origin}
        ).encode()  # fmt: skip

    @classmethod
    def decode(cls, data: bytes | str) -> Invalidation | None:
        """The message, or ``None`` when it is malformed (every key and tenant is re-validated)."""
        try:
            raw: dict[str, Any] = json.loads(data)
            message = cls(
                keys=tuple(keys.check_key(k) for k in raw.get("keys") or ()),
                tenant_id=raw.get("tenant_id"),
                namespace=raw.get("namespace"),
                pattern=raw.get("pattern"),
                origin=str(raw.get("origin") or ""),
            )
            if message.tenant_id is not None:
                keys.scope_prefix(message.tenant_id, message.namespace)
                if message.pattern is not None:
                    keys.match_pattern(message.tenant_id, message.namespace or "", message.pattern)
            return message
        except Exception:
            return None


class InvalidationChannel(ABC):
    """Carries :class:`Invalidation` s between the instances sharing an L2."""

    def __init__(self) -> None:
        self.instance_id = uuid.uuid4().hex
        """This instance's id; its own messages are not handed back to it."""

    @abstractmethod
    async def publish(self, message: Invalidation) -> None:
        """Send ``message`` to every other instance."""

    @abstractmethod
    async def subscribe(self, listener: Listener) -> None:
        """Call ``listener`` with every other instance's messages from now on."""

    async def aclose(self) -> None:  # noqa: B027
        """Stop listening."""


class LocalInvalidations(InvalidationChannel):
    """Instances in one process; build each with ``LocalInvalidations(hub)`` over a shared ``hub`` list."""

    def __init__(self, hub: list[LocalInvalidations]) -> None:
        super().__init__()
        self._hub = hub
        self._listener: Listener | None = None
        hub.append(self)

    async def publish(self, message: Invalidation) -> None:
        """Deliver to every other member of the hub."""
        for member in list(self._hub):
            if member is not self and member._listener is not None:
                await member._listener(message)

    async def subscribe(self, listener: Listener) -> None:
        """Receive the other members' messages."""
        self._listener = listener

    async def aclose(self) -> None:
        """Leave the hub."""
        with contextlib.suppress(ValueError):
            self._hub.remove(self)


class RedisInvalidations(InvalidationChannel):
    """Redis pub/sub on the L2 server (``cache.client``), channel ``{namespace}:cache-invalidations``."""

    def __init__(self, cache: Any, *, retry_delay: float = 0.5) -> None:
        super().__init__()
        self._cache = cache
        self._channel = f"{cache.namespace}:cache-invalidations"
        self._retry_delay = retry_delay
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    async def publish(self, message: Invalidation) -> None:
        """``PUBLISH`` the message with this instance's id."""
        tagged = Invalidation(
            message.keys, message.tenant_id, message.namespace, message.pattern, self.instance_id
        )
        async with self._cache.translate_errors("publish_invalidation"):
            await self._cache.client.publish(self._channel, tagged.encode())

    async def subscribe(self, listener: Listener) -> None:
        """Listen in a background task (re-subscribing after connection losses)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._listen(listener))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._ready.wait(), 2.0)

    async def _pubsub(self) -> Any:
        """A pub/sub on the server, or on one master of a cluster (``PUBLISH`` reaches every node)."""
        client = self._cache.client
        if not isinstance(client, RedisCluster):
            return client.pubsub()
        await client.initialize()
        node = random.choice(client.get_primaries())
        options = node.connection_kwargs
        single = aioredis.Redis(
            host=options["host"], port=options["port"], username=options.get("username"),
            password=options.get("password"), ssl=bool(options.get("ssl")),
            socket_connect_timeout=options.get("socket_connect_timeout"),
        )  # fmt: skip
        return single.pubsub()

    async def _listen(self, listener: Listener) -> None:
        while True:
            pubsub = None
            try:
                pubsub = await self._pubsub()
                await pubsub.subscribe(self._channel)
                self._ready.set()
                while True:
                    item = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if item is None or item.get("type") != "message":
                        continue
                    message = Invalidation.decode(item["data"])
                    if message is None or message.origin == self.instance_id:
                        continue
                    await listener(message)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # reconnect; meanwhile the L1 TTL bounds staleness
                logger.warning("cache invalidation listener lost its connection: %s", exc)
                await asyncio.sleep(self._retry_delay)
            finally:
                if pubsub is not None:
                    with contextlib.suppress(Exception):
                        await pubsub.aclose()

    async def aclose(self) -> None:
        """Stop the listener."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None

"""ReplicaRouter: reads on PostgreSQL streaming replicas, writes and read-your-writes on the primary.

A :class:`~motadata_ai.adapters.postgres.database.PostgresDatabase` connected with ``read_dsns``
holds a router; stores send their reads through ``database.read(fn, tenant_id=...)`` and note
their committed writes with ``database.record_write(tenant_id)``. The router:

* probes every replica each ``probe_interval`` seconds (``pg_last_wal_replay_lsn()`` against the
  primary's ``pg_current_wal_lsn()``) and keeps its lag: 0 when it has replayed everything the
  primary had written, else the seconds since the last transaction it replayed;
* sends a read to a replica (round robin) that answered its last probe, lags at most ``max_lag``
  seconds and has replayed the tenant's last write made through this process (its commit LSN),
  so a search right after an ingest, or an alias read right after a promote, by the same caller
  sees the write: until the replica has replayed it, that tenant's reads go to the primary;
* runs a read again on the primary when its replica fails with a connection error (the replica
  is left alone until a probe finds it back), so a replica going down fails no read;
* reports each replica's state in :meth:`status` (address, healthy, lag seconds, bytes behind).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import asyncpg

if TYPE_CHECKING:
    from motadata_ai.adapters.postgres.database import PostgresDatabase

__all__ = ["ReplicaRouter", "ReplicaStatus", "parse_lsn"]

logger = logging.getLogger("motadata_ai.postgres.replicas")

T = TypeVar("T")

_PROBE = (
    "SELECT pg_is_in_recovery() AS standby, pg_last_wal_replay_lsn()::text AS lsn, "
    "EXTRACT(EPOCH FROM (now() - pg_last_xact_replay_timestamp()))::float8 AS behind"
)


def parse_lsn(text: str | None) -> int:
    """A WAL position ``'16/B374D848'`` as an integer (0 for ``None``)."""
    if not text:
        return 0
    high, _, low = text.partition("/")
    return (int(high, 16) << 32) | int(low, 16)


@dataclass
class ReplicaStatus:
    """What the last probe learnt of one replica."""

    address: str
    healthy: bool = False
    lag_seconds: float = math.inf
    bytes_behind: int = 0
    replay_lsn: int = 0
    error: str | None = None
    reads: int = 0


class ReplicaRouter:
    """Route reads to replicas that are up, close enough and past the tenant's last write."""

    def __init__(
        self,
        primary: PostgresDatabase,
        replicas: Sequence[PostgresDatabase],
        *,
        max_lag: float = 5.0,
        probe_interval: float = 0.5,
        probe_timeout: float = 2.0,
    ) -> None:
        self._primary = primary
        self._replicas = list(replicas)
        self._max_lag = max_lag
        self._probe_interval = probe_interval
        self._probe_timeout = probe_timeout
        self._status = [ReplicaStatus(address=r.address) for r in self._replicas]
        self._written: dict[str | None, int] = {}  # tenant (None: schema) -> LSN of its last write here
        self._next = 0
        self._probing: asyncio.Task[None] | None = None
        self._probed = asyncio.Event()
        self.primary_reads = 0
        """Reads the primary served (no replica eligible, or a replica failed mid-read)."""

    @property
    def replicas(self) -> list[PostgresDatabase]:
        """The replica pools, in the order of :meth:`status`."""
        return list(self._replicas)

    def status(self) -> list[ReplicaStatus]:
        """Each replica's state from the last probe (copies)."""
        return [ReplicaStatus(**vars(s)) for s in self._status]

    async def read(self, fn: Callable[[asyncpg.Connection], Awaitable[T]], *, tenant_id: str | None) -> T:
        """``fn(connection)`` on an eligible replica, else (or if that replica fails) on the primary."""
        self._start_probing()
        if not self._probed.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._probed.wait(), self._probe_timeout)
        index = self._choose(tenant_id)
        if index is not None:
            try:
                async with self._replicas[index].pool.acquire() as conn:
                    result = await fn(conn)
                self._status[index].reads += 1
                return result
            except Exception as exc:
                from motadata_ai.adapters.postgres.database import is_connection_error

                if not is_connection_error(exc):
                    raise
                self._mark_down(index, exc)
        self.primary_reads += 1
        async with self._primary.pool.acquire() as conn:
            return await fn(conn)

    async def record_write(self, tenant_id: str | None) -> None:
        """Note the primary's WAL position after a committed write of ``tenant_id`` (``None``: a
        schema change every tenant's reads need): its reads stay on the primary until a replica
        has replayed that far."""
        async with self._primary.pool.acquire() as conn:
            lsn = parse_lsn(await conn.fetchval("SELECT pg_current_wal_lsn()::text"))
        self._written[tenant_id] = max(lsn, self._written.get(tenant_id, 0))

    def _choose(self, tenant_id: str | None) -> int | None:
        needed = max(self._written.get(None, 0), self._written.get(tenant_id, 0) if tenant_id else 0)
        count = len(self._replicas)
        for step in range(count):
            index = (self._next + step) % count
            state = self._status[index]
            if state.healthy and state.lag_seconds <= self._max_lag and state.replay_lsn >= needed:
                self._next = index + 1
                return index
        return None

    def _mark_down(self, index: int, exc: BaseException) -> None:
        state = self._status[index]
        if state.healthy:
            logger.warning("read replica %s failed (%s); reading from the primary", state.address, exc)
        state.healthy = False
        state.error = f"{type(exc).__name__}: {exc}"
        self._replicas[index]._expire_pooled_connections()

    def _start_probing(self) -> None:
        if self._probing is None or self._probing.done():
            self._probing = asyncio.get_running_loop().create_task(self._probe_forever())

    async def _probe_forever(self) -> None:
        while True:
            with contextlib.suppress(Exception):
                await self.probe()
            self._probed.set()
            await asyncio.sleep(self._probe_interval)

    async def probe(self) -> None:
        """Measure every replica's position and lag against the primary now."""
        async with self._primary.pool.acquire() as conn:
            primary_lsn = parse_lsn(await conn.fetchval("SELECT pg_current_wal_lsn()::text"))
        await asyncio.gather(*(self._probe_one(i, primary_lsn) for i in range(len(self._replicas))))
        if self._written and self._status:
            replayed = min(s.replay_lsn for s in self._status)
            self._written = {t: lsn for t, lsn in self._written.items() if lsn > replayed}

    async def _probe_one(self, index: int, primary_lsn: int) -> None:
        state = self._status[index]
        try:
            async with asyncio.timeout(self._probe_timeout):
                async with self._replicas[index].pool.acquire() as conn:
                    row = await conn.fetchrow(_PROBE)
        except Exception as exc:
            if state.healthy:
                logger.warning("read replica %s is unreachable: %s", state.address, exc)
            state.healthy, state.error, state.lag_seconds = False, f"{type(exc).__name__}: {exc}", math.inf
            self._replicas[index]._expire_pooled_connections()
            return
        assert row is not None
        if not row["standby"]:
            state.healthy, state.error = False, "not a standby (promoted?)"
            return
        state.replay_lsn = parse_lsn(row["lsn"])
        state.bytes_behind = max(0, primary_lsn - state.replay_lsn)
        behind = row["behind"]
        if state.bytes_behind == 0:
            state.lag_seconds = 0.0
        else:
            state.lag_seconds = float(behind) if behind is not None else math.inf
        state.healthy, state.error = True, None

    async def close(self) -> None:
        """Stop probing and close the replica pools."""
        if self._probing is not None:
            self._probing.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._probing
        for replica in self._replicas:
            await replica.close()

    async def health_details(self) -> tuple[bool, list[dict[str, Any]]]:
        """Probe every replica now (the last probe's state stands when the primary does not
        answer) and report each one's address, ``healthy``, replay lag and bytes behind, marked
        ``degraded`` when it is down, not a standby or lags more than ``max_lag``; the first item
        says whether any replica is degraded."""
        with contextlib.suppress(Exception):
            await self.probe()
        replicas = []
        for state in self._status:
            degraded = not state.healthy or state.lag_seconds > self._max_lag
            replicas.append({
                "address": state.address,
                "status": "degraded" if degraded else "ok",
                "healthy": state.healthy,
                "lag_seconds": None if math.isinf(state.lag_seconds) else round(state.lag_seconds, 3),
                "max_lag_seconds": self._max_lag,
                "bytes_behind": state.bytes_behind,
                "reads": state.reads,
                "error": state.error,
            })  # fmt: skip
        return any(r["status"] == "degraded" for r in replicas), replicas

    def describe(self) -> dict[str, Any]:
        """The router's state for health reports: each replica and the primary's read count."""
        return {
            "replicas": [vars(s) for s in self.status()],
            "primary_reads": self.primary_reads,
            "max_lag": self._max_lag,
        }

"""The PostgreSQL health probe: one ``SELECT 1`` on a pooled connection, timed, with pool usage."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from motadata_ai.domain.values.health import ComponentHealth

__all__ = ["probe_database"]


async def probe_database(pool: Any, *, address: str, closed: bool, timeout: float) -> ComponentHealth:
    """``ok`` when ``SELECT 1`` answers within ``timeout``; ``degraded`` when every connection of
    the pool was in use when the probe began; ``down`` (with the error's type) otherwise."""
    details: dict[str, Any] = {"probe": "select 1", "address": address}
    if closed:
        return ComponentHealth(status="down", details=details, error="the database pool is closed")
    # the pool's usage before this probe takes a connection of its own
    size, idle, maximum = pool.get_size(), pool.get_idle_size(), pool.get_max_size()
    details.update({"pool_size": size, "pool_idle": idle, "pool_max": maximum, "pool_in_use": size - idle})
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout):
            async with pool.acquire() as conn:
                await conn.fetchval("SELECT 1")
    except Exception as error:  # any failure of the probe means the database does not answer
        return ComponentHealth(
            status="down",
            latency_ms=(time.perf_counter() - started) * 1000,
            details=details,
            error=type(error).__name__
            if isinstance(error, TimeoutError)
            else f"{type(error).__name__}: {error}",
        )
    latency_ms = (time.perf_counter() - started) * 1000
    saturated = size >= maximum and idle == 0
    return ComponentHealth(status="degraded" if saturated else "ok", latency_ms=latency_ms, details=details)

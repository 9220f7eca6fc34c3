"""Health and readiness of a connected SDK: one report over every component in use.

:func:`health_report` probes every adapter the app holds (each port's cheap
:meth:`~motadata_ai.ports.health.HealthProbe.health`: ``SELECT 1``, ``PING``, a NATS round
trip, a directory check), concurrently and each within ``timeout`` seconds, and adds what the
SDK itself knows: the gateway (breaker and store-circuit states), the models (whether start-up
finished loading them), ML serving (the loaded-model cache) and telemetry (where it exports).

The model ports (``llm``, ``embeddings``) and the limits store report too: the routed model
adapters give each built route's probe, the limits store a ``PING`` (or its in-process state).

* **Liveness** (``GET /health``): the process answers; nothing is probed.
* **Readiness** (``GET /ready``, :func:`readiness`): ``ready`` once start-up finished and no
  component is ``down``; a ``degraded`` component (an open breaker, a store circuit that fell
  back to process-local state) still serves.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import time
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from motadata_ai.domain.values.arguments import check_number
from motadata_ai.domain.values.errors import ValidationError
from motadata_ai.domain.values.health import ComponentHealth, HealthReport, HealthStatus, worst

if TYPE_CHECKING:
    from motadata_ai.api import AI

__all__ = ["PROBED_PORTS", "health_report", "readiness", "readiness_response"]

PROBED_PORTS = (
    "vector_store",
    "documents",
    "memory_store",
    "model_registry",
    "experiments",
    "prediction_log",
    "artifacts",
    "usage_ledger",
    "audit_log",
    "cache",
    "bus",
    "llm",
    "embeddings",
    "limits",
)
"""The container's ports whose adapters are probed (those the app resolved). The model ports'
probes are cheap (an in-process model: whether it is loaded; LiteLLM: its configuration, and one
request only with ``llm_health_probe="request"``)."""

DEFAULT_TIMEOUT = 2.0
"""Seconds one probe may take before its component counts as ``down``."""


async def _timed(probe: Awaitable[ComponentHealth], timeout: float) -> ComponentHealth:
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout):
            return await probe
    except TimeoutError:
        return ComponentHealth(
            status="down",
            latency_ms=(time.perf_counter() - started) * 1000,
            error=f"no answer within {timeout} s",
        )
    except Exception as error:  # a probe that raises reports its component down, never the caller
        return ComponentHealth(
            status="down", latency_ms=(time.perf_counter() - started) * 1000, error=type(error).__name__
        )


async def _in_use(ai: AI, name: str) -> Any:
    """The app's adapter of port ``name`` (the ledger and audit log are the gateway's)."""
    if name in ai._ports:
        return ai._ports[name]
    provider = getattr(ai.container, name, None)
    if provider is None:
        return None
    adapter = provider()
    return await adapter if inspect.isawaitable(adapter) else adapter


def _shared_database(adapter: Any) -> Any:
    """The database pool an adapter shares with other stores (the PostgreSQL ones), if any."""
    for name in ("database", "_db"):
        database = getattr(adapter, name, None)
        if database is not None and hasattr(database, "health"):
            return database
    return None


async def _adapter(adapter: Any, shared: dict[int, asyncio.Task[ComponentHealth]]) -> ComponentHealth:
    """The adapter's own probe; stores over one database share that database's one probe, so a
    report makes one round trip per server rather than one per store."""
    database = _shared_database(adapter)
    if database is None:
        report: ComponentHealth = await adapter.health()
    else:
        if id(database) not in shared:
            shared[id(database)] = asyncio.ensure_future(database.health())
        report = await asyncio.shield(shared[id(database)])
        component = getattr(adapter, "component", None)
        if component:
            report = report.model_copy(update={"details": {**report.details, "component": component}})
    return report.model_copy(update={"details": {"adapter": type(adapter).__name__, **report.details}})


async def _gateway(ai: AI) -> ComponentHealth:
    started = time.perf_counter()
    gateway = await ai.gateway.health()
    details = dataclasses.asdict(gateway)
    status: HealthStatus = "degraded" if gateway.status != "ok" else "ok"
    return ComponentHealth(status=status, latency_ms=(time.perf_counter() - started) * 1000, details=details)


def _models(ai: AI) -> ComponentHealth:
    details = {
        "llm_model": ai.settings.gateway.default_model,
        "embedding_model": ai.settings.gateway.default_embedding_model,
        "loaded": ai.ready,
    }
    if ai.ready:
        return ComponentHealth(status="ok", details=details)
    return ComponentHealth(status="down", details=details, error="the models are still loading")


def _ml_serving(ai: AI) -> ComponentHealth:
    cache = ai.use_cases.model_cache
    details: dict[str, Any] = {
        "max_memory_mb": float(ai.settings.ml.max_memory_mb),
        "loaded_models": cache.loaded_count,
        "memory_used_mb": cache.used_bytes / (1024 * 1024),
        "evictions": cache.evictions,
    }
    return ComponentHealth(status="ok", details=details)


def _telemetry(ai: AI) -> ComponentHealth:
    telemetry = ai.port("telemetry")
    details: dict[str, Any] = {"adapter": type(telemetry).__name__}
    for name in ("service_name", "otlp_endpoint", "disabled"):
        if hasattr(telemetry, name):
            details[name] = getattr(telemetry, name)
    return ComponentHealth(status="ok", details=details)


async def health_report(ai: AI, *, timeout: float = DEFAULT_TIMEOUT) -> HealthReport:
    """Every component's health (see the module doc); never raises for a component that is down
    (a ``timeout`` that is not a positive number is a :class:`ValidationError`)."""
    if check_number("timeout", timeout, low=0.0, high=3600.0) == 0.0:
        raise ValidationError("timeout must be more than 0 seconds", field="timeout")
    probes: dict[str, Awaitable[ComponentHealth]] = {}
    shared: dict[int, asyncio.Task[ComponentHealth]] = {}
    for name in PROBED_PORTS:
        adapter = await _in_use(ai, name)
        if adapter is not None and hasattr(adapter, "health"):
            probes[name] = _timed(_adapter(adapter, shared), timeout)
    probes["gateway"] = _timed(_gateway(ai), timeout)
    try:
        results = await asyncio.gather(*probes.values())
    finally:
        for task in shared.values():
            task.cancel()
    components = dict(zip(probes, results, strict=True))
    components["models"] = _models(ai)
    components["ml_serving"] = _ml_serving(ai)
    components["telemetry"] = _telemetry(ai)
    status = worst([c.status for c in components.values()])
    return HealthReport(
        status=status,
        ready=ai.ready and status != "down",
        profile=ai.settings.profile,
        components=components,
    )


async def readiness(ai: AI, *, timeout: float = DEFAULT_TIMEOUT) -> tuple[bool, HealthReport]:
    """Whether the app can serve requests now, and the report that says why."""
    report = await health_report(ai, timeout=timeout)
    return report.ready, report


async def readiness_response(target: Any, *, timeout: float = DEFAULT_TIMEOUT) -> tuple[int, dict[str, Any]]:
    """The status code and body of ``GET /ready`` for ``target``: for a connected SDK 200 with the
    report when it is ready, else 503 with it; for any other target 200 unless it says it is not
    ``ready`` yet (503)."""
    from motadata_ai.api import AI

    if isinstance(target, AI):
        ready, report = await readiness(target, timeout=timeout)
        body = report.model_dump(mode="json")
        return (200 if ready else 503), body
    started = bool(getattr(target, "ready", True))  # a target without start-up work is ready
    return (200 if started else 503), {"status": "ready" if started else "starting"}

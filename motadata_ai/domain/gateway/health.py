"""The gateway's in-process counters and its health report (breakers, stores, ledger)."""

from __future__ import annotations

from dataclasses import dataclass, field

from motadata_ai.domain.gateway.circuit_cache import CircuitCache
from motadata_ai.domain.gateway.fallback_limits import FallbackLimits
from motadata_ai.domain.gateway.limits import circuit_label
from motadata_ai.ports.cache import CachePort
from motadata_ai.ports.ledger import UsageLedgerPort
from motadata_ai.ports.limits import LimitsPort

__all__ = ["GatewayHealth", "GatewayStats", "check_health"]


@dataclass
class GatewayStats:
    """In-process counters since start (the ledger holds the durable figures)."""

    calls: int = 0
    cache_lookups: int = 0
    cache_hits: int = 0
    semantic_lookups: int = 0
    semantic_hits: int = 0
    dedup_hits: int = 0
    provider_calls: int = 0
    cache_errors: int = 0
    limits_errors: int = 0
    ledger_errors: int = 0

    @property
    def cache_hit_rate(self) -> float:
        """Exact and semantic hits over lookups."""
        return self.cache_hits / self.cache_lookups if self.cache_lookups else 0.0

    @property
    def semantic_hit_rate(self) -> float:
        """Semantic hits over semantic lookups (those after an exact miss)."""
        return self.semantic_hits / self.semantic_lookups if self.semantic_lookups else 0.0


@dataclass
class GatewayHealth:
    """Breaker states and whether the cache, limits store and ledger answer.

    ``stores`` is the state of the shared stores' own circuits (``{"cache": "closed", "limits":
    "open"}``): ``open`` means the store failed and is not asked until it is probed again.
    """

    status: str
    breakers: dict[str, str] = field(default_factory=dict)
    cache: bool | None = None
    limits: bool | None = None
    ledger: bool | None = None
    stores: dict[str, str] = field(default_factory=dict)
    pending_ledger_writes: int = 0
    cache_hit_rate: float = 0.0
    semantic_hit_rate: float = 0.0
    errors: dict[str, str] = field(default_factory=dict)


async def check_health(
    *,
    limits: LimitsPort,
    cache: CachePort | None,
    ledger: UsageLedgerPort | None,
    stats: GatewayStats,
    pending: int,
) -> GatewayHealth:
    """Ping every store (a successful ping closes its circuit) and collect the breaker states."""
    health = GatewayHealth(status="ok", pending_ledger_writes=pending)
    health.cache_hit_rate = stats.cache_hit_rate
    health.semantic_hit_rate = stats.semantic_hit_rate
    health.limits = await _ping("limits", limits, health)
    if cache is not None:
        health.cache = await _ping("cache", cache, health)
    states = await limits.breaker_states()
    health.breakers = {circuit_label(key): state.state for key, state in states.items()}
    for name, port in (("limits", limits), ("cache", cache)):
        if isinstance(port, FallbackLimits | CircuitCache):
            health.stores[name] = port.circuit_state
    if ledger is not None:
        health.ledger = await _ping("ledger", ledger, health)
    if health.cache is False or health.ledger is False or health.limits is False:
        health.status = "degraded"
    if any(state != "closed" for state in health.stores.values()):
        health.status = "degraded"
    if any(state == "open" for state in health.breakers.values()):
        health.status = "degraded"
    return health


async def _ping(name: str, port: LimitsPort | CachePort | UsageLedgerPort, health: GatewayHealth) -> bool:
    try:
        return await port.ping()
    except Exception as error:
        health.errors[name] = str(error)
        return False

"""Health of the SDK's components: one :class:`ComponentHealth` per adapter, a :class:`HealthReport`
over all of them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field

from motadata_ai.domain.values.base import ValueModel

HealthStatus = Literal["ok", "degraded", "down"]
"""``ok``: works; ``degraded``: works with reduced service (an open breaker, a fallback);
``down``: does not answer."""

HEALTH_STATUSES: tuple[HealthStatus, ...] = ("ok", "degraded", "down")


class ComponentHealth(ValueModel):
    """One component's status, the latency of the probe that found it, and details (pool usage,
    breaker states, ...). ``error`` names what failed (type and message, no credentials)."""

    model_config = ConfigDict(frozen=True)

    status: HealthStatus
    latency_ms: float = Field(0.0, ge=0)
    details: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None


def worst(statuses: list[HealthStatus]) -> HealthStatus:
    """The worst of ``statuses`` (``ok`` when there are none)."""
    return max(statuses, key=HEALTH_STATUSES.index, default="ok")


class HealthReport(ValueModel):
    """The health of every component in use; ``status`` is the worst of theirs, ``ready`` whether
    the SDK can serve requests (start-up finished and no component down)."""

    model_config = ConfigDict(frozen=True)

    status: HealthStatus
    ready: bool
    profile: str
    components: dict[str, ComponentHealth]

"""InMemoryLimits: the in-process LimitsPort (one process; state lost on exit)."""

from __future__ import annotations

from typing import Any

from motadata_ai.adapters.memory._health import InProcessProbe
from motadata_ai.domain.gateway.limits import LocalLimits

__all__ = ["InMemoryLimits"]


class InMemoryLimits(InProcessProbe, LocalLimits):
    """Token buckets and circuit breakers in a dict; ``clock`` is injectable for tests."""

    def health_details(self) -> dict[str, Any]:
        """How many buckets and circuits the process holds."""
        return {"buckets": len(self._buckets), "circuits": len(self._breakers)}

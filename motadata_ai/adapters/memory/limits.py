"""InMemoryLimits: the in-process LimitsPort (one process; state lost on exit)."""

from __future__ import annotations

from motadata_ai.domain.gateway.limits import LocalLimits

__all__ = ["InMemoryLimits"]


class InMemoryLimits(LocalLimits):
    """Token buckets and circuit breakers in a dict; ``clock`` is injectable for tests."""

"""HealthProbe: the cheap health probe every store, cache and bus port advertises.

A probe makes one real round trip (``SELECT 1``, ``PING``, a flush of the connection) or, for an
in-process adapter, checks its own state; it never raises for a component that is down: it
reports ``down`` with the error. The shipped adapters of each port implement it (their contract
suites check it); an adapter that does not override it reports ``ok`` with ``probe: "none"``.
"""

from __future__ import annotations

from abc import ABC

from motadata_ai.domain.values.health import ComponentHealth

__all__ = ["NO_PROBE", "HealthProbe"]

NO_PROBE = "none"
"""``details["probe"]`` of an adapter without a probe of its own."""


class HealthProbe(ABC):  # noqa: B024 - a mixin of the ports, with a default
    """A component that can tell cheaply whether it works."""

    async def health(self) -> ComponentHealth:
        """This component's health from one cheap, real probe (never raises for a failure)."""
        return ComponentHealth(status="ok", details={"probe": NO_PROBE})

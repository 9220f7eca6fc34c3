"""The health probe of the in-process adapters: always up while the process runs, with a count
of what they hold when that is cheap."""

from __future__ import annotations

from typing import Any

from motadata_ai.domain.values.health import ComponentHealth

__all__ = ["InProcessProbe"]


class InProcessProbe:
    """Mixin: ``health()`` answers ``ok`` (probe ``in-process``) with :meth:`health_details`."""

    async def health(self) -> ComponentHealth:
        """``ok``: an in-process adapter is up as long as the process is."""
        return ComponentHealth(status="ok", details={"probe": "in-process", **self.health_details()})

    def health_details(self) -> dict[str, Any]:
        """Extra details of this adapter (none by default)."""
        return {}

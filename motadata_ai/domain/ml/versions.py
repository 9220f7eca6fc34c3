"""Resolving a model version: by number, or by alias through a short-lived per-system cache."""

from __future__ import annotations

from collections.abc import Callable

from motadata_ai.domain.values.ml import ModelVersion, validate_alias, validate_model_name
from motadata_ai.ports.ml import ModelRegistryPort


class VersionResolver:
    """The versions of one tenant's models; an alias's target is cached for ``alias_ttl`` seconds."""

    def __init__(
        self,
        *,
        tenant_id: str,
        registry: ModelRegistryPort,
        alias_ttl: float,
        timer: Callable[[], float],
    ) -> None:
        self.tenant_id = tenant_id
        self.registry = registry
        self.alias_ttl = alias_ttl
        self._timer = timer
        self._aliases: dict[tuple[str, str], tuple[float, ModelVersion]] = {}

    async def get(self, model_name: str, *, version: int | None, alias: str) -> ModelVersion:
        """The version asked for, or the one ``alias`` points at."""
        validate_model_name(model_name)
        if version is not None:
            return await self.registry.get_version(self.tenant_id, model_name, version)
        key = (model_name, validate_alias(alias))
        cached = self._aliases.get(key)
        now = self._timer()
        if cached is not None and now - cached[0] < self.alias_ttl:
            return cached[1]
        resolved = await self.registry.resolve_alias(self.tenant_id, model_name, alias)
        self._aliases[key] = (now, resolved)
        return resolved

    def forget(self, model_name: str, alias: str) -> None:
        """Drop the cached target of an alias that moved."""
        self._aliases.pop((model_name, alias), None)

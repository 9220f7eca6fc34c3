"""The loaded-model LRU: models kept in memory up to a byte budget, by their measured size."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Generic, TypeVar

from motadata_ai.domain.values.ml import ModelVersion

M = TypeVar("M")


@dataclass
class LoadedModel(Generic[M]):
    """A model in memory with its registered version and measured size."""

    version: ModelVersion
    model: M
    size_bytes: int


class ModelLRU(Generic[M]):
    """Least-recently-used models under ``max_bytes``; the newest model always stays, even alone
    over the budget, so a model larger than the budget is still served (and evicts the rest).

    Entries are keyed by tenant, model name and version, so one LRU can serve every tenant of a
    process: ``max_bytes`` then bounds the process, not each tenant.
    """

    def __init__(self, *, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[tuple[str, str, int], LoadedModel[M]] = OrderedDict()
        self.evictions = 0

    def get(self, tenant_id: str, model_name: str, version: int) -> LoadedModel[M] | None:
        """The loaded model (marked most recently used), or ``None``."""
        key = (tenant_id, model_name, version)
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
        return entry

    def put(self, entry: LoadedModel[M]) -> list[tuple[str, str, int]]:
        """Add ``entry`` and evict least-recently-used models until under budget; return evicted keys."""
        key = (entry.version.tenant_id, entry.version.model_name, entry.version.version)
        self._entries[key] = entry
        self._entries.move_to_end(key)
        evicted: list[tuple[str, str, int]] = []
        while self.used_bytes > self.max_bytes and len(self._entries) > 1:
            old_key, _ = self._entries.popitem(last=False)
            evicted.append(old_key)
            self.evictions += 1
        return evicted

    def discard(self, tenant_id: str, model_name: str, version: int | None = None) -> int:
        """Drop one version, or every version of the tenant's model when ``version`` is ``None``."""
        keys = [
            k
            for k in self._entries
            if k[0] == tenant_id and k[1] == model_name and (version is None or k[2] == version)
        ]
        for key in keys:
            del self._entries[key]
        return len(keys)

    def clear(self) -> None:
        """Drop every model."""
        self._entries.clear()

    @property
    def loaded_count(self) -> int:
        """How many models are loaded."""
        return len(self._entries)

    @property
    def used_bytes(self) -> int:
        """The summed measured size of the loaded models (every tenant's)."""
        return sum(e.size_bytes for e in self._entries.values())

    def used_bytes_of(self, tenant_id: str) -> int:
        """The summed measured size of one tenant's loaded models."""
        return sum(e.size_bytes for k, e in self._entries.items() if k[0] == tenant_id)

    def keys(self, tenant_id: str) -> list[tuple[str, int]]:
        """The tenant's loaded (model name, version) pairs, least recently used first."""
        return [(name, version) for tenant, name, version in self._entries if tenant == tenant_id]

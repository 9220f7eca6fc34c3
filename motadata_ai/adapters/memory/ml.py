"""In-memory ML stores: model registry, experiment store, artifact store and prediction log.

The zero-dependency mode and the unit-test fakes; they raise the same port errors as the real
adapters and pass the same contract suites.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import deque
from collections.abc import Sequence

from motadata_ai.adapters.memory._health import InProcessProbe
from motadata_ai.domain.values.ml import (
    AliasChange,
    ModelSummary,
    ModelVersion,
    PredictionLogEntry,
    TrainingRun,
)
from motadata_ai.domain.values.tenancy import validate_tenant_id
from motadata_ai.ports.ml import (
    AliasNotFound,
    ArtifactNotFound,
    ArtifactStorePort,
    ArtifactTampered,
    ExperimentStorePort,
    ModelNotFound,
    ModelRegistryPort,
    PredictionLogPort,
    RunNotFound,
    StoredArtifact,
    VersionNotFound,
)


class InMemoryModelRegistry(InProcessProbe, ModelRegistryPort):
    """Versions and aliases in dicts, changed under one lock (so promotions are atomic)."""

    def __init__(self) -> None:
        self._versions: dict[tuple[str, str], list[ModelVersion]] = {}
        self._aliases: dict[tuple[str, str, str], list[int]] = {}
        self._lock = asyncio.Lock()

    def _versions_of(self, tenant_id: str, model_name: str) -> list[ModelVersion]:
        versions = self._versions.get((validate_tenant_id(tenant_id), model_name))
        if not versions:
            raise ModelNotFound(
                f"no model {model_name!r} is registered for tenant {tenant_id!r}",
                tenant_id=tenant_id,
                model=model_name,
            )
        return versions

    async def register(self, version: ModelVersion) -> ModelVersion:
        """Store under the next number."""
        async with self._lock:
            versions = self._versions.setdefault((version.tenant_id, version.model_name), [])
            numbered = version.model_copy(update={"version": len(versions) + 1})
            versions.append(numbered)
            return numbered

    async def get_version(self, tenant_id: str, model_name: str, version: int) -> ModelVersion:
        """The version or a NotFound error."""
        for candidate in self._versions_of(tenant_id, model_name):
            if candidate.version == version:
                return candidate
        raise VersionNotFound(
            f"model {model_name!r} has no version {version}",
            tenant_id=tenant_id,
            model=model_name,
            version=version,
        )

    async def resolve_alias(self, tenant_id: str, model_name: str, alias: str) -> ModelVersion:
        """Follow the alias."""
        self._versions_of(tenant_id, model_name)
        history = self._aliases.get((tenant_id, model_name, alias))
        if not history:
            raise AliasNotFound(
                f"alias {alias!r} is not set on model {model_name!r}; promote a version first",
                tenant_id=tenant_id,
                model=model_name,
                alias=alias,
            )
        return await self.get_version(tenant_id, model_name, history[-1])

    async def list_versions(self, tenant_id: str, model_name: str) -> list[ModelVersion]:
        """Oldest first."""
        return list(self._versions_of(tenant_id, model_name))

    async def list_models(self, tenant_id: str) -> list[ModelSummary]:
        """By name."""
        validate_tenant_id(tenant_id)
        out = []
        for (tenant, name), versions in sorted(self._versions.items()):
            if tenant != tenant_id or not versions:
                continue
            aliases = {a: h[-1] for (t, n, a), h in self._aliases.items() if t == tenant and n == name and h}
            out.append(
                ModelSummary(
                    model_name=name,
                    latest_version=versions[-1].version,
                    versions=len(versions),
                    aliases=dict(sorted(aliases.items())),
                )
            )
        return out

    async def set_alias(self, tenant_id: str, model_name: str, alias: str, version: int) -> AliasChange:
        """Push the new target on the alias's history."""
        async with self._lock:
            await self.get_version(tenant_id, model_name, version)
            history = self._aliases.setdefault((tenant_id, model_name, alias), [])
            previous = history[-1] if history else None
            if previous != version:
                history.append(version)
            return AliasChange(model_name=model_name, alias=alias, previous=previous, current=version)

    async def rollback_alias(self, tenant_id: str, model_name: str, alias: str) -> AliasChange:
        """Pop the alias's history."""
        async with self._lock:
            self._versions_of(tenant_id, model_name)
            history = self._aliases.get((tenant_id, model_name, alias))
            if not history or len(history) < 2:
                raise AliasNotFound(
                    f"alias {alias!r} of model {model_name!r} has no earlier version to roll back to",
                    tenant_id=tenant_id,
                    model=model_name,
                    alias=alias,
                )
            previous = history.pop()
            return AliasChange(model_name=model_name, alias=alias, previous=previous, current=history[-1])


class InMemoryExperimentStore(InProcessProbe, ExperimentStorePort):
    """Runs in a dict per tenant."""

    def __init__(self) -> None:
        self._runs: dict[tuple[str, str], TrainingRun] = {}

    async def save_run(self, run: TrainingRun) -> None:
        """Insert or replace."""
        self._runs[(run.tenant_id, run.run_id)] = run

    async def get_run(self, tenant_id: str, run_id: str) -> TrainingRun:
        """The run or RunNotFound."""
        run = self._runs.get((validate_tenant_id(tenant_id), run_id))
        if run is None:
            raise RunNotFound(
                f"no run {run_id!r} for tenant {tenant_id!r}", tenant_id=tenant_id, run_id=run_id
            )
        return run

    async def list_runs(
        self,
        tenant_id: str,
        *,
        model_name: str | None = None,
        trace_id: str | None = None,
        limit: int = 100,
    ) -> list[TrainingRun]:
        """Newest first."""
        validate_tenant_id(tenant_id)
        runs = [
            r
            for (t, _), r in self._runs.items()
            if t == tenant_id
            and (model_name is None or r.model_name == model_name)
            and (trace_id is None or r.trace_id == trace_id)
        ]
        runs.sort(key=lambda r: (r.started_at, r.run_id), reverse=True)
        return runs[:limit]


class InMemoryArtifactStore(InProcessProbe, ArtifactStorePort):
    """Bytes in a dict per tenant, verified against their SHA-256 on read."""

    address = "memory://artifacts"

    def __init__(self) -> None:
        self._blobs: dict[tuple[str, str], bytes] = {}

    async def put(self, tenant_id: str, key: str, data: bytes) -> StoredArtifact:
        """Store a copy."""
        self._blobs[(validate_tenant_id(tenant_id), key)] = bytes(data)
        return StoredArtifact(key=key, sha256=hashlib.sha256(data).hexdigest(), size=len(data))

    async def get(self, tenant_id: str, key: str, *, sha256: str) -> bytes:
        """Verified bytes."""
        data = self._blobs.get((validate_tenant_id(tenant_id), key))
        if data is None:
            raise ArtifactNotFound(
                f"no artifact {key!r} for tenant {tenant_id!r}", tenant_id=tenant_id, key=key
            )
        actual = hashlib.sha256(data).hexdigest()
        if actual != sha256:
            raise ArtifactTampered(
                f"artifact {key!r} does not match its SHA-256; refusing to load it",
                tenant_id=tenant_id,
                key=key,
                expected=sha256,
                actual=actual,
            )
        return data

    async def delete(self, tenant_id: str, key: str) -> bool:
        """Remove."""
        return self._blobs.pop((validate_tenant_id(tenant_id), key), None) is not None

    def corrupt(self, tenant_id: str, key: str, *, offset: int = 0) -> None:
        """Flip one byte of a stored artifact (to test that tampering is refused)."""
        data = bytearray(self._blobs[(tenant_id, key)])
        data[offset % len(data)] ^= 0xFF
        self._blobs[(tenant_id, key)] = bytes(data)


class InMemoryPredictionLog(InProcessProbe, PredictionLogPort):
    """The newest ``max_entries`` sampled predictions per tenant and model."""

    def __init__(self, *, max_entries: int = 10_000) -> None:
        self._max = max_entries
        self._entries: dict[tuple[str, str], deque[PredictionLogEntry]] = {}

    async def append(self, entries: Sequence[PredictionLogEntry]) -> None:
        """Keep the entries, dropping the oldest beyond the bound."""
        for entry in entries:
            log = self._entries.setdefault((entry.tenant_id, entry.model_name), deque(maxlen=self._max))
            log.append(entry)

    async def recent(
        self, tenant_id: str, model_name: str, *, version: int | None = None, limit: int = 1000
    ) -> list[PredictionLogEntry]:
        """Newest first."""
        log = self._entries.get((validate_tenant_id(tenant_id), model_name), deque())
        out = [e for e in reversed(log) if version is None or e.version == version]
        return out[:limit]

    async def user_entries(self, tenant_id: str, user_id: str) -> list[PredictionLogEntry]:
        """Oldest first."""
        tenant = validate_tenant_id(tenant_id)
        logs = [log for (t, _), log in self._entries.items() if t == tenant]
        found = [e for log in logs for e in log if e.user_id == user_id]
        return sorted(found, key=lambda e: e.created_at)

    async def delete_user(self, tenant_id: str, user_id: str) -> int:
        """Drop the user's entries."""
        tenant = validate_tenant_id(tenant_id)
        deleted = 0
        for (t, model), log in list(self._entries.items()):
            if t != tenant:
                continue
            kept = deque((e for e in log if e.user_id != user_id), maxlen=log.maxlen)
            deleted += len(log) - len(kept)
            self._entries[(t, model)] = kept
        return deleted

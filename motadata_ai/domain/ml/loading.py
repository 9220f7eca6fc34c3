"""Loading registered model versions into memory: verified against their SHA-256, once per version."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable

from motadata_ai.domain.ml.serving import LoadedModel, ModelLRU
from motadata_ai.domain.values.ml import ModelVersion
from motadata_ai.ports.ml import (
    ArtifactNotFound,
    ArtifactStorePort,
    ArtifactTampered,
    TrainedModel,
    TrainerPort,
    UnknownEstimator,
)

logger = logging.getLogger(__name__)


def sha256_hex(data: bytes) -> str:
    """The SHA-256 of ``data`` in hex."""
    return hashlib.sha256(data).hexdigest()


class ModelLoader:
    """Loads one tenant's versions into a (possibly shared) :class:`ModelLRU`.

    Concurrent loads of one version share one read of the artifact; a digest that does not match
    the registered one raises :class:`ArtifactTampered` and loads nothing.
    """

    def __init__(
        self,
        *,
        tenant_id: str,
        artifacts: ArtifactStorePort,
        trainers: dict[str, TrainerPort],
        loaded: ModelLRU[TrainedModel],
        max_memory_mb: float,
        estimators: Callable[[], tuple[str, ...]],
    ) -> None:
        self.tenant_id = tenant_id
        self.artifacts = artifacts
        self.trainers = trainers
        self.loaded = loaded
        self.max_memory_mb = max_memory_mb
        self._estimators = estimators
        self._locks: dict[tuple[str, int], asyncio.Lock] = {}

    async def get(self, version: ModelVersion) -> LoadedModel[TrainedModel]:
        """The version in memory, loading and verifying it first if needed."""
        entry = self.loaded.get(self.tenant_id, version.model_name, version.version)
        if entry is not None:
            return entry
        key = (version.model_name, version.version)
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            entry = self.loaded.get(self.tenant_id, *key)
            if entry is not None:
                return entry
            trainer = self.trainers.get(version.trainer)
            if trainer is None:
                raise UnknownEstimator(
                    f"version {version.version} of {version.model_name!r} needs trainer {version.trainer!r}, "
                    "which is not configured",
                    estimator=f"{version.trainer}:{version.estimator}",
                    available=self._estimators(),
                )
            # the main artifact is verified first, whichever file serves: a version whose artifact
            # was tampered with is refused even when its twin would serve it
            data = await self._verified(version, version.artifact_key, version.artifact_sha256)
            model = await self._load_twin(trainer, version)
            if model is None:
                model = await trainer.loads(data)
            entry = LoadedModel(version=version, model=model, size_bytes=model.size_bytes())
            evicted = self.loaded.put(entry)
            if evicted:
                logger.info("evicted %s to stay under %s MB", evicted, self.max_memory_mb)
            return entry

    async def _load_twin(self, trainer: TrainerPort, version: ModelVersion) -> TrainedModel | None:
        """The version's serving twin, verified and loaded; ``None`` when it has none, the trainer
        reads no such format, or the twin's runtime is not installed (the main artifact serves)."""
        twin = version.serving
        if twin is None or twin.format != trainer.serving_format:
            return None
        try:
            data = await self._verified(version, twin.key, twin.sha256)
        except ArtifactNotFound:
            logger.warning(
                "the %s twin of %r v%s is missing; serving from its artifact",
                twin.format,
                version.model_name,
                version.version,
            )
            return None
        return await trainer.loads_serving(data)

    async def _verified(self, version: ModelVersion, key: str, sha256: str) -> bytes:
        """The bytes under ``key``, after checking they hash to the registered ``sha256``."""
        data = await self.artifacts.get(self.tenant_id, key, sha256=sha256)
        actual = sha256_hex(data)
        if actual != sha256:
            raise ArtifactTampered(
                f"artifact {key!r} of {version.model_name!r} v{version.version} "
                "does not match its registered SHA-256",
                tenant_id=self.tenant_id,
                model=version.model_name,
                version=version.version,
                expected=sha256,
                actual=actual,
            )
        return data

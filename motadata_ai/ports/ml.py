"""Ports of the ML framework: trainers, the model registry, the experiment store, artifacts and
sampled prediction logs, with their error tree::

    UsageError
    ├── ConfigurationError
    │   └── UnknownEstimator           the trainer does not know the estimator name
    ├── ValidationError
    │   └── ArtifactKeyInvalid         a malformed artifact key, or one whose path leaves the root
    └── NotFound
        ├── ModelNotFound              no such model name for this tenant
        │   ├── VersionNotFound        the model exists, the version does not
        │   └── AliasNotFound          the alias is not set on this model
        ├── RunNotFound
        └── ArtifactNotFound
    ServiceError
    ├── ArtifactRefused                the artifact must not be loaded
    │   ├── ArtifactTampered           its SHA-256 differs from the registered one
    │   └── UnsafeArtifact             it holds types outside the trusted allow-list
    ├── TrainingFailed                 the estimator raised while fitting
    ├── RegistryError                  → RegistryConflict (a concurrent change won), RegistryUnavailable*
    ├── ExperimentStoreError           → ExperimentStoreUnavailable*
    ├── ArtifactStoreError             → ArtifactStoreUnavailable*
    └── PredictionLogError             → PredictionLogUnavailable*

    * also a ``StoreUnavailable``, with ``address`` (credentials masked)

Every store call takes a tenant id; one tenant never sees another's models, runs or artifacts.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from motadata_ai.domain.values.errors import (
    ConfigurationError,
    NotFound,
    ServiceError,
    StoreUnavailable,
    ValidationError,
)
from motadata_ai.domain.values.ml import (
    AliasChange,
    Dataset,
    ModelSummary,
    ModelVersion,
    PredictionLogEntry,
    TrainingRun,
)
from motadata_ai.ports.health import HealthProbe

# --------------------------------------------------------------------------- errors


class UnknownEstimator(ConfigurationError):
    """The trainer has no estimator of that name; ``available`` lists the ones it has."""

    available: list[str] | None = None


class ModelNotFound(NotFound):
    """No model of that name is registered for the tenant."""


class VersionNotFound(ModelNotFound):
    """The model has no such version."""


class AliasNotFound(ModelNotFound):
    """The alias is not set on the model (promote a version first)."""


class RunNotFound(NotFound):
    """No training run with that id for the tenant."""


class ArtifactNotFound(NotFound):
    """No artifact under that key for the tenant."""


class ArtifactRefused(ServiceError):
    """The artifact is refused before loading; nothing of it was deserialised.

    A runtime failure: what the store holds is not what was registered (or not safe to load).
    """


class ArtifactTampered(ArtifactRefused):
    """The artifact's SHA-256 (``actual``) differs from the registered one (``expected``)."""

    expected: str | None = None
    actual: str | None = None


class UnsafeArtifact(ArtifactRefused):
    """The artifact names types outside the trusted allow-list (``untrusted``)."""

    untrusted: list[str] | None = None


class TrainingFailed(ServiceError):
    """Fitting the estimator failed; ``estimator`` and the cause say why. No version is registered."""


class RegistryError(ServiceError):
    """The model registry failed."""


class RegistryConflict(RegistryError):
    """A concurrent registration or alias change won the race; retrying helps."""


class RegistryUnavailable(RegistryError, StoreUnavailable):
    """The model registry cannot be reached; ``address`` has credentials masked."""


class ExperimentStoreError(ServiceError):
    """The experiment store failed."""


class ExperimentStoreUnavailable(ExperimentStoreError, StoreUnavailable):
    """The experiment store cannot be reached; ``address`` has credentials masked."""


class ArtifactStoreError(ServiceError):
    """The artifact store failed."""


class ArtifactStoreUnavailable(ArtifactStoreError, StoreUnavailable):
    """The artifact store cannot be read or written; ``address`` names it."""


class ArtifactKeyInvalid(ValidationError):
    """An artifact key (``key``) is malformed, or its path would leave the store's root."""


class PredictionLogError(ServiceError):
    """The prediction log failed."""


class PredictionLogUnavailable(PredictionLogError, StoreUnavailable):
    """The prediction log cannot be reached; ``address`` has credentials masked."""


# --------------------------------------------------------------------------- trainers


class TrainedModel(ABC):
    """A fitted model in memory: the whole pipeline, so it takes normalised raw records.

    ``predict_proba`` is CPU-bound and synchronous; callers run it off the event loop.
    """

    trainer: str
    """The name of the trainer that built (and can serialise) this model."""

    @property
    @abstractmethod
    def classes(self) -> tuple[str, ...]:
        """The class labels, in the order of the probability columns."""

    @abstractmethod
    def predict_proba(self, records: Sequence[dict[str, Any]]) -> list[list[float]]:
        """One probability row per record (columns in :attr:`classes` order)."""

    @abstractmethod
    def size_bytes(self) -> int:
        """The measured memory the model holds (arrays, tensors, vocabularies)."""


@dataclass(frozen=True)
class FitResult:
    """What a trainer returns: the model, the device it trained on, and notes (warnings)."""

    model: TrainedModel
    device: str = "cpu"
    notes: tuple[str, ...] = ()
    parameters: dict[str, Any] = field(default_factory=dict)


ProgressCallback = Callable[[int, int], None]
"""Called as ``progress(done, total)`` while training (epochs or stages); may be called from a thread."""


class TrainerPort(ABC):
    """Fits, serialises and safely loads models of one framework (scikit-learn, PyTorch, ...)."""

    name: str
    """The trainer's name (``sklearn``, ``torch``), recorded on runs and versions."""

    artifact_format: str
    """The artifact format it writes (``skops``, ``safetensors``)."""

    @abstractmethod
    def estimators(self) -> tuple[str, ...]:
        """The estimator names this trainer accepts."""

    @abstractmethod
    async def fit(
        self,
        dataset: Dataset,
        *,
        estimator: str,
        hyperparameters: dict[str, Any],
        validation_split: float,
        batch_size: int,
        seed: int,
        enable_gpu: bool,
        progress: ProgressCallback | None = None,
    ) -> FitResult:
        """Fit ``estimator`` on normalised, validated records (runs off the event loop).

        Raises :class:`UnknownEstimator` for a name outside :meth:`estimators`, :class:`TrainingFailed`
        when the estimator raises.
        """

    @abstractmethod
    async def dumps(self, model: TrainedModel) -> bytes:
        """Serialise ``model`` in :attr:`artifact_format` (never pickle)."""

    @abstractmethod
    async def loads(self, data: bytes) -> TrainedModel:
        """Load a model serialised by :meth:`dumps`; raise :class:`UnsafeArtifact` for anything
        outside the trusted allow-list, :class:`ArtifactRefused` when it cannot be parsed."""

    serving_format: str | None = None
    """The format of the serving twin this trainer can write beside its artifact (``onnx``), so
    that predicting needs no training framework; ``None``: it writes none (the default)."""

    async def dumps_serving(
        self, model: TrainedModel, records: Sequence[dict[str, Any]]
    ) -> bytes | None:
        """The serving twin of ``model`` in :attr:`serving_format`, or ``None`` when this model has
        none. A twin is returned only when its predictions of ``records`` (normalised feature rows)
        equal the model's own: the same labels, probabilities within ``1e-5``."""
        return None

    async def loads_serving(self, data: bytes) -> TrainedModel | None:
        """Load a twin written by :meth:`dumps_serving` (its digest already verified), or ``None``
        when its runtime is not installed (the main artifact then serves); :class:`ArtifactRefused`
        when the bytes are no twin of this trainer."""
        return None


# --------------------------------------------------------------------------- stores


class ModelRegistryPort(HealthProbe):
    """Registered model versions per tenant and model name, with aliases moved atomically."""

    @abstractmethod
    async def register(self, version: ModelVersion) -> ModelVersion:
        """Store ``version`` under the next version number (1, 2, ...) and return it numbered."""

    @abstractmethod
    async def get_version(self, tenant_id: str, model_name: str, version: int) -> ModelVersion:
        """The version, or :class:`VersionNotFound` (:class:`ModelNotFound` when the name is unknown)."""

    @abstractmethod
    async def resolve_alias(self, tenant_id: str, model_name: str, alias: str) -> ModelVersion:
        """The version the alias points at, or :class:`AliasNotFound` / :class:`ModelNotFound`."""

    @abstractmethod
    async def list_versions(self, tenant_id: str, model_name: str) -> list[ModelVersion]:
        """Every version of the model, oldest first (:class:`ModelNotFound` when unknown)."""

    @abstractmethod
    async def list_models(self, tenant_id: str) -> list[ModelSummary]:
        """The tenant's models, by name."""

    @abstractmethod
    async def set_alias(self, tenant_id: str, model_name: str, alias: str, version: int) -> AliasChange:
        """Point ``alias`` at ``version`` atomically, remembering the previous target for rollback."""

    @abstractmethod
    async def rollback_alias(self, tenant_id: str, model_name: str, alias: str) -> AliasChange:
        """Move ``alias`` back to its previous target atomically (:class:`AliasNotFound` when
        there is none to go back to)."""

    async def ping(self) -> bool:
        """``True`` when the registry answers."""
        await self.list_models("ping")
        return True


class ExperimentStorePort(HealthProbe):
    """Training runs per tenant: parameters, metrics, lineage; listed and compared."""

    @abstractmethod
    async def save_run(self, run: TrainingRun) -> None:
        """Insert the run, or replace it when its ``run_id`` exists for the tenant."""

    @abstractmethod
    async def get_run(self, tenant_id: str, run_id: str) -> TrainingRun:
        """The run, or :class:`RunNotFound`."""

    @abstractmethod
    async def list_runs(
        self,
        tenant_id: str,
        *,
        model_name: str | None = None,
        trace_id: str | None = None,
        limit: int = 100,
    ) -> list[TrainingRun]:
        """The tenant's runs, newest first, optionally of one model or of one trace (the
        ``trace_id`` a run was trained in)."""

    async def ping(self) -> bool:
        """``True`` when the store answers."""
        await self.list_runs("ping", limit=1)
        return True


@dataclass(frozen=True)
class StoredArtifact:
    """Where an artifact was written, its SHA-256 (hex) and size in bytes."""

    key: str
    sha256: str
    size: int


class ArtifactStorePort(HealthProbe):
    """Bytes by tenant and key, written atomically and verified against their SHA-256 on read."""

    address: str = ""
    """Where the store lives (a directory or URL, credentials masked), for errors."""

    @abstractmethod
    async def put(self, tenant_id: str, key: str, data: bytes) -> StoredArtifact:
        """Write ``data`` atomically under ``key`` and return its digest."""

    @abstractmethod
    async def get(self, tenant_id: str, key: str, *, sha256: str) -> bytes:
        """The bytes, after checking they hash to ``sha256``: :class:`ArtifactTampered` if not,
        :class:`ArtifactNotFound` when absent."""

    @abstractmethod
    async def delete(self, tenant_id: str, key: str) -> bool:
        """Remove the artifact; ``True`` when it existed."""

    async def ping(self) -> bool:
        """``True`` when the store is reachable."""
        return True


class PredictionLogPort(HealthProbe):
    """Sampled predictions per tenant and model, for drift monitoring and audit."""

    @abstractmethod
    async def append(self, entries: Sequence[PredictionLogEntry]) -> None:
        """Store the entries."""

    @abstractmethod
    async def recent(
        self, tenant_id: str, model_name: str, *, version: int | None = None, limit: int = 1000
    ) -> list[PredictionLogEntry]:
        """The newest entries of the model (of one version when given), newest first."""

    @abstractmethod
    async def user_entries(self, tenant_id: str, user_id: str) -> list[PredictionLogEntry]:
        """Every entry of predictions made for ``user_id``, oldest first."""

    @abstractmethod
    async def delete_user(self, tenant_id: str, user_id: str) -> int:
        """Delete the entries of predictions made for ``user_id``; return how many."""

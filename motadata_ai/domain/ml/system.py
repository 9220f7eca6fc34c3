"""MLSystem: a tenant's model lifecycle — train, track, register, promote, serve, monitor.

Everything is scoped to the tenant given at construction; the stores, trainers, cache and bus
come in through ports. CPU-heavy work (fitting, predicting, serialising) runs off the event loop.
This module is the facade; training is :mod:`~motadata_ai.domain.ml.training`, loading
:mod:`~motadata_ai.domain.ml.loading`, serving :mod:`~motadata_ai.domain.ml.predictions`, alias
resolution :mod:`~motadata_ai.domain.ml.versions` and events :mod:`~motadata_ai.domain.ml.events`.
It is a little over 400 lines because it is the one place every public ML operation is declared,
each a short, documented delegation to those modules with its audit action.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from importlib import metadata
from typing import Any, Unpack

from motadata_ai.domain.ml.config import MLConfig, MLOptions
from motadata_ai.domain.ml.dataset import normalise_record
from motadata_ai.domain.ml.drift import version_drift
from motadata_ai.domain.ml.events import MLEvents
from motadata_ai.domain.ml.loading import ModelLoader
from motadata_ai.domain.ml.predictions import Predictor
from motadata_ai.domain.ml.serving import ModelLRU
from motadata_ai.domain.ml.training import TrainerSet, Training
from motadata_ai.domain.ml.versions import VersionResolver
from motadata_ai.domain.privacy.audit import AuditTrail, audit_action
from motadata_ai.domain.privacy.training_consent import TrainingConsent
from motadata_ai.domain.values.arguments import check_collection, check_positive_int, check_string
from motadata_ai.domain.values.errors import ValidationError
from motadata_ai.domain.values.ml import (
    AliasChange,
    Dataset,
    DriftReport,
    MLHealth,
    ModelSummary,
    ModelVersion,
    Prediction,
    PredictionLogEntry,
    RunComparison,
    TrainingRun,
    validate_alias,
    validate_model_name,
)
from motadata_ai.domain.values.tenancy import TenantContext
from motadata_ai.ports.bus import BusPort
from motadata_ai.ports.cache import CachePort
from motadata_ai.ports.ml import (
    ArtifactStorePort,
    ExperimentStorePort,
    ModelRegistryPort,
    PredictionLogPort,
    ProgressCallback,
    TrainedModel,
    TrainerPort,
)

PACKAGE_NAME = "motadata-ai-sdk"


def package_version() -> str:
    """The installed SDK version (``unknown`` when not installed)."""
    try:
        return metadata.version(PACKAGE_NAME)
    except metadata.PackageNotFoundError:
        return "unknown"


class MLSystem:
    """One tenant's ML framework: the use-cases over registry, experiments, artifacts and trainers.

    ``trainers`` maps trainer names (``sklearn``, ``torch``) to :class:`TrainerPort` adapters;
    estimators are named bare (``random_forest``) or qualified (``torch:mlp``). ``model_cache``
    (a :class:`ModelLRU`) may be shared by every tenant's system of a process, so that
    ``max_memory_mb`` bounds the process; without it the system keeps its own. The tunables are
    ``config`` (an :class:`MLConfig`) with any of its fields given as keywords on top.
    ``training_consent`` (a :class:`TrainingConsent`, which an app always passes) drops or refuses
    the rows of users without consent to ``training`` in a dataset with a ``user_column``.
    """

    def __init__(
        self,
        *,
        tenant: TenantContext | str,
        registry: ModelRegistryPort,
        experiments: ExperimentStorePort,
        artifacts: ArtifactStorePort,
        trainers: Mapping[str, TrainerPort],
        cache: CachePort | None = None,
        bus: BusPort | None = None,
        prediction_log: PredictionLogPort | None = None,
        config: MLConfig | None = None,
        model_cache: ModelLRU[TrainedModel] | None = None,
        code_version: str | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        timer: Callable[[], float] = time.perf_counter,
        rng: random.Random | None = None,
        id_factory: Callable[[], str] = lambda: uuid.uuid4().hex,
        training_consent: TrainingConsent | None = None,
        audit_trail: AuditTrail | None = None,
        **options: Unpack[MLOptions],
    ) -> None:
        self.audit_trail = audit_trail
        """Where training, promotion and prediction record their audit events (``None``: not audited)."""
        trainer_set = TrainerSet(trainers)
        self.config = config = (config or MLConfig()).with_options(options)
        max_memory_mb = config.max_memory_mb
        self.tenant = TenantContext.of(tenant)
        self.tenant_id = self.tenant.tenant_id
        self._registry = registry
        self._experiments = experiments
        self._artifacts = artifacts
        self._trainers = trainer_set
        self._bus = bus
        self._log = prediction_log
        self.max_memory_mb = max_memory_mb
        self.enable_gpu = config.enable_gpu
        self.code_version = code_version or package_version()
        self._psi_threshold = config.drift_psi_threshold
        self._ks_alpha = config.drift_ks_alpha
        self._ks_min = config.drift_ks_min_statistic
        self._loaded: ModelLRU[TrainedModel] = model_cache or ModelLRU(
            max_bytes=int(max_memory_mb * 1024 * 1024)
        )
        self._events = MLEvents(self.tenant, bus)
        self._versions = VersionResolver(
            tenant_id=self.tenant_id, registry=registry, alias_ttl=config.alias_cache_ttl, timer=timer
        )
        self._loader = ModelLoader(
            tenant_id=self.tenant_id,
            artifacts=artifacts,
            trainers=trainer_set.by_name,
            loaded=self._loaded,
            max_memory_mb=max_memory_mb,
            estimators=self.estimators,
        )
        self._training = Training(
            tenant_id=self.tenant_id,
            trainers=trainer_set,
            registry=registry,
            experiments=experiments,
            artifacts=artifacts,
            loaded=self._loaded,
            events=self._events,
            enable_gpu=config.enable_gpu,
            code_version=self.code_version,
            clock=clock,
            timer=timer,
            id_factory=id_factory,
            consent=training_consent,
        )
        self._predictor = Predictor(
            tenant_id=self.tenant_id,
            versions=self._versions,
            loader=self._loader,
            cache=cache,
            cache_predictions=config.cache_predictions,
            cache_ttl=config.prediction_cache_ttl,
            prediction_log=prediction_log,
            sample_rate=config.log_sample_rate,
            clock=clock,
            rng=rng or random.Random(0),
        )
        self.cache_predictions = self._predictor.cache_predictions

    # ------------------------------------------------------------------ training

    def estimators(self) -> tuple[str, ...]:
        """Every estimator of every configured trainer, qualified as ``trainer:estimator``."""
        return self._trainers.estimators()

    @audit_action("ml.train", resource=lambda _, _a, k: k.get("model_name", ""))
    async def train(
        self,
        dataset: Dataset,
        *,
        model_name: str,
        estimator: str = "logistic_regression",
        hyperparameters: Mapping[str, Any] | None = None,
        validation_split: float = 0.2,
        batch_size: int = 32,
        seed: int = 42,
        progress: ProgressCallback | None = None,
    ) -> TrainingRun:
        """Validate ``dataset``, fit ``estimator``, evaluate on a held-out split, store the artifact
        and register a new version of ``model_name``; return the finished run.

        The run is recorded either way; a failed training registers no version and leaves no artifact.
        Raises a ``DatasetInvalid`` subclass for bad data, :class:`UnknownEstimator`, or
        :class:`TrainingFailed`.
        """
        return await self._training.train(
            dataset,
            model_name=model_name,
            estimator=estimator,
            hyperparameters=hyperparameters,
            validation_split=validation_split,
            batch_size=batch_size,
            seed=seed,
            progress=progress,
            trace_id=self._trace_id(),
        )

    def _trace_id(self) -> str:
        """The id of the trace the running call belongs to ('' without tracing)."""
        return ""

    # ------------------------------------------------------------------ experiments and registry

    async def list_runs(
        self, *, model_name: str | None = None, trace_id: str | None = None, limit: int = 100
    ) -> list[TrainingRun]:
        """The tenant's training runs, newest first (of one model, or of one trace, when given)."""
        return await self._experiments.list_runs(
            self.tenant_id, model_name=model_name, trace_id=trace_id, limit=check_positive_int("limit", limit)
        )

    async def get_run(self, run_id: str) -> TrainingRun:
        """One run of the tenant (``RunNotFound`` otherwise)."""
        return await self._experiments.get_run(self.tenant_id, check_string("run_id", run_id))

    async def compare_runs(
        self,
        run_ids: Sequence[str] | None = None,
        *,
        model_name: str | None = None,
        metric: str = "f1_macro",
        limit: int = 20,
    ) -> RunComparison:
        """Finished runs side by side (the given ids, or the latest of ``model_name``), best first."""
        check_string("metric", metric)
        check_positive_int("limit", limit)
        if run_ids is not None:
            runs = [await self.get_run(run_id) for run_id in check_collection("run_ids", run_ids)]
        else:
            runs = [
                r for r in await self.list_runs(model_name=model_name, limit=limit) if r.status == "finished"
            ]
        runs.sort(key=lambda r: r.metrics.get(metric, float("-inf")), reverse=True)
        names = sorted({k for r in runs for k in r.metrics})
        table = tuple(
            {
                "run_id": r.run_id,
                "model_name": r.model_name,
                "estimator": r.estimator,
                "version": r.version,
                "status": r.status,
                "duration_s": r.duration_s,
                "trace_id": r.trace_id,
                **{k: r.metrics.get(k) for k in names},
            }
            for r in runs
        )
        best = next((r.run_id for r in runs if metric in r.metrics), None)
        return RunComparison(metric=metric, runs=tuple(runs), table=table, best_run_id=best)

    async def list_models(self) -> list[ModelSummary]:
        """The tenant's registered models with their aliases."""
        return await self._registry.list_models(self.tenant_id)

    async def list_versions(self, model_name: str) -> list[ModelVersion]:
        """Every version of ``model_name``, oldest first."""
        return await self._registry.list_versions(self.tenant_id, validate_model_name(model_name))

    async def get_version(
        self, model_name: str, *, version: int | None = None, alias: str = "champion"
    ) -> ModelVersion:
        """The version asked for, or the one ``alias`` points at."""
        return await self._versions.get(model_name, version=version, alias=alias)

    @audit_action("ml.promote", resource=lambda _, a, k: a[0] if a else k.get("model_name", ""))
    async def promote(self, model_name: str, version: int, alias: str = "champion") -> AliasChange:
        """Point ``alias`` at ``version`` atomically (``VersionNotFound`` when it does not exist)."""
        validate_model_name(model_name)
        validate_alias(alias)
        change = await self._registry.set_alias(self.tenant_id, model_name, alias, version)
        self._versions.forget(model_name, alias)
        await self._events.publish("version_promoted", change.model_dump())
        return change

    async def rollback(self, model_name: str, alias: str = "champion") -> AliasChange:
        """Move ``alias`` back to the version it pointed at before the last promotion, atomically."""
        validate_model_name(model_name)
        validate_alias(alias)
        change = await self._registry.rollback_alias(self.tenant_id, model_name, alias)
        self._versions.forget(model_name, alias)
        await self._events.publish("version_rolled_back", change.model_dump())
        return change

    # ------------------------------------------------------------------ serving

    async def load(
        self, model_name: str, *, version: int | None = None, alias: str = "champion"
    ) -> ModelVersion:
        """Make sure the version is in memory (loading and verifying it if needed); return it."""
        entry = await self._loader.get(await self.get_version(model_name, version=version, alias=alias))
        return entry.version

    def unload(self, model_name: str, version: int | None = None) -> int:
        """Drop a model (one version or all) from memory; return how many were dropped."""
        return self._loaded.discard(self.tenant_id, model_name, version)

    @audit_action("ml.predict", resource=lambda _, a, k: a[0] if a else k.get("model_name", ""))
    async def predict(
        self,
        model_name: str,
        record: Mapping[str, Any],
        *,
        version: int | None = None,
        alias: str = "champion",
        user_id: str | None = None,
    ) -> Prediction:
        """Predict one record with a version (or the one ``alias`` points at).

        The record must hold every feature of the signature (``None`` for missing) and nothing else.
        Answers come from the prediction cache when enabled.
        """
        return await self._predictor.predict(
            model_name, record, version=version, alias=alias, user_id=user_id
        )

    @audit_action("ml.predict", resource=lambda _, a, k: a[0] if a else k.get("model_name", ""))
    async def predict_batch(
        self,
        model_name: str,
        records: Sequence[Mapping[str, Any]],
        *,
        version: int | None = None,
        alias: str = "champion",
        chunk_size: int = 1000,
        user_id: str | None = None,
    ) -> list[Prediction]:
        """Predict many records in chunks of ``chunk_size``; every record is checked against the
        signature before any is predicted (the error names the row). The cache is not consulted."""
        return await self._predictor.predict_batch(
            model_name, check_collection("records", records), version=version, alias=alias,
            chunk_size=chunk_size, user_id=user_id,
        )

    async def prediction_log(
        self, model_name: str, *, version: int | None = None, limit: int = 1000
    ) -> list[PredictionLogEntry]:
        """The sampled predictions of the model, newest first."""
        if self._log is None:
            return []
        return await self._log.recent(
            self.tenant_id, validate_model_name(model_name), version=version,
            limit=check_positive_int("limit", limit),
        )

    # ------------------------------------------------------------------ monitoring

    async def drift_report(
        self,
        model_name: str,
        records: Sequence[Mapping[str, Any]] | None = None,
        *,
        version: int | None = None,
        alias: str = "champion",
        threshold: float | None = None,
        ks_alpha: float | None = None,
    ) -> DriftReport:
        """Per-feature drift of ``records`` (default: the sampled prediction log of that version)
        against the version's training reference. Publishes ``drift_detected`` when any feature drifts."""
        resolved = await self.get_version(model_name, version=version, alias=alias)
        if records is None:
            logged = await self.prediction_log(model_name, version=resolved.version)
            rows = [e.inputs for e in logged]
        else:
            rows = [normalise_record(r, resolved.signature, row=i) for i, r in enumerate(records)]
        if not rows:
            raise ValidationError(
                "no records to compare: pass records, or serve predictions with logging enabled first",
                field="records",
            )
        psi_threshold = self._psi_threshold if threshold is None else threshold
        alpha = self._ks_alpha if ks_alpha is None else ks_alpha
        report = version_drift(
            resolved, rows, psi_threshold=psi_threshold, ks_alpha=alpha, ks_min_statistic=self._ks_min
        )
        if report.drifted:
            await self._events.publish(
                "drift_detected",
                {
                    "model_name": model_name,
                    "version": resolved.version,
                    "features": list(report.drifted_features),
                    "sample_size": len(rows),
                },
            )
        return report

    async def health(self) -> MLHealth:
        """Whether each store answers, what is loaded, and the serving counters."""
        details: dict[str, str] = {}

        async def check(name: str, probe: Callable[[], Any]) -> bool:
            try:
                await probe()
            except Exception as exc:
                details[name] = f"{type(exc).__name__}: {exc}"
                return False
            return True

        registry = await check("registry", self._registry.ping)
        experiments = await check("experiments", self._experiments.ping)
        artifacts = await check("artifacts", self._artifacts.ping)
        ok = registry and experiments and artifacts
        return MLHealth(
            status="ok" if ok else "degraded",
            registry=registry,
            experiments=experiments,
            artifacts=artifacts,
            loaded_models=tuple(f"{n}:v{v}" for n, v in self._loaded.keys(self.tenant_id)),
            memory_used_mb=self._loaded.used_bytes_of(self.tenant_id) / (1024 * 1024),
            max_memory_mb=float(self.max_memory_mb),
            predictions=self._predictor.predictions,
            cache_hits=self._predictor.cache_hits,
            errors=self._predictor.errors,
            device=self._training.last_device,
            details=details,
        )

    @property
    def memory_used_bytes(self) -> int:
        """The measured size of this tenant's models held in memory."""
        return self._loaded.used_bytes_of(self.tenant_id)

    @property
    def loaded_models(self) -> list[tuple[str, int]]:
        """(model name, version) pairs in memory, least recently used first."""
        return self._loaded.keys(self.tenant_id)

"""MLSystem: a tenant's model lifecycle — train, track, register, promote, serve, monitor.

Everything is scoped to the tenant given at construction; the stores, trainers, cache and bus
come in through ports. CPU-heavy work (fitting, predicting, serialising) runs off the event loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import random
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

from motadata_ai.domain.bus.subjects import event_subject
from motadata_ai.domain.ml.dataset import (
    dataset_hash,
    normalise_record,
    split_indices,
    validate_dataset,
)
from motadata_ai.domain.ml.drift import build_profile, feature_drift
from motadata_ai.domain.ml.metrics import argmax_labels, classification_metrics
from motadata_ai.domain.ml.serving import LoadedModel, ModelLRU
from motadata_ai.domain.privacy.audit import audit_action
from motadata_ai.domain.values import keys
from motadata_ai.domain.values.bus import Envelope
from motadata_ai.domain.values.errors import MotadataError, ValidationError
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
    ArtifactTampered,
    ExperimentStorePort,
    ModelRegistryPort,
    PredictionLogPort,
    ProgressCallback,
    StoredArtifact,
    TrainedModel,
    TrainerPort,
    TrainingFailed,
    UnknownEstimator,
)

logger = logging.getLogger(__name__)

PACKAGE_NAME = "motadata-ai-sdk"


def package_version() -> str:
    """The installed SDK version (``unknown`` when not installed)."""
    try:
        return metadata.version(PACKAGE_NAME)
    except metadata.PackageNotFoundError:
        return "unknown"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class MLSystem:
    """One tenant's ML framework: the use-cases over registry, experiments, artifacts and trainers.

    ``trainers`` maps trainer names (``sklearn``, ``torch``) to :class:`TrainerPort` adapters;
    estimators are named bare (``random_forest``) or qualified (``torch:mlp``). ``model_cache``
    (a :class:`ModelLRU`) may be shared by every tenant's system of a process, so that
    ``max_memory_mb`` bounds the process; without it the system keeps its own.
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
        max_memory_mb: float = 2048,
        model_cache: ModelLRU[TrainedModel] | None = None,
        enable_gpu: bool = False,
        cache_predictions: bool = True,
        prediction_cache_ttl: float | None = 3600.0,
        log_sample_rate: float = 0.1,
        drift_psi_threshold: float = 0.2,
        drift_ks_alpha: float = 0.01,
        drift_ks_min_statistic: float = 0.1,
        alias_cache_ttl: float = 2.0,
        code_version: str | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        timer: Callable[[], float] = time.perf_counter,
        rng: random.Random | None = None,
        id_factory: Callable[[], str] = lambda: uuid.uuid4().hex,
    ) -> None:
        if not trainers:
            raise ValidationError("at least one trainer is needed", field="trainers")
        if max_memory_mb <= 0:
            raise ValidationError("max_memory_mb must be positive", field="max_memory_mb")
        if not 0.0 <= log_sample_rate <= 1.0:
            raise ValidationError("log_sample_rate must lie in [0, 1]", field="log_sample_rate")
        self.tenant = TenantContext.of(tenant)
        self.tenant_id = self.tenant.tenant_id
        self._registry = registry
        self._experiments = experiments
        self._artifacts = artifacts
        self._trainers = dict(trainers)
        self._cache = cache
        self._bus = bus
        self._log = prediction_log
        self.max_memory_mb = max_memory_mb
        self.enable_gpu = enable_gpu
        self.cache_predictions = cache_predictions and cache is not None
        self._cache_ttl = prediction_cache_ttl
        self._sample_rate = log_sample_rate
        self._psi_threshold = drift_psi_threshold
        self._ks_alpha = drift_ks_alpha
        self._ks_min = drift_ks_min_statistic
        self._alias_ttl = alias_cache_ttl
        self.code_version = code_version or package_version()
        self._now = clock
        self._timer = timer
        self._rng = rng or random.Random(0)
        self._new_id = id_factory
        self._loaded: ModelLRU[TrainedModel] = model_cache or ModelLRU(
            max_bytes=int(max_memory_mb * 1024 * 1024)
        )
        self._load_locks: dict[tuple[str, int], asyncio.Lock] = {}
        self._aliases: dict[tuple[str, str], tuple[float, ModelVersion]] = {}
        self._predictions = 0
        self._cache_hits = 0
        self._errors = 0
        self._last_device = "cpu"

    # ------------------------------------------------------------------ training

    def _trainer_for(self, estimator: str) -> tuple[TrainerPort, str]:
        if ":" in estimator:
            trainer_name, _, name = estimator.partition(":")
            trainer = self._trainers.get(trainer_name)
            if trainer is None:
                raise UnknownEstimator(
                    f"no trainer named {trainer_name!r}; configured: {', '.join(sorted(self._trainers))}",
                    estimator=estimator,
                    available=self.estimators(),
                )
            if name not in trainer.estimators():
                raise UnknownEstimator(
                    f"trainer {trainer_name!r} has no estimator {name!r}; "
                    f"it has {', '.join(trainer.estimators())}",
                    estimator=estimator,
                    available=self.estimators(),
                )
            return trainer, name
        for trainer in self._trainers.values():
            if estimator in trainer.estimators():
                return trainer, estimator
        raise UnknownEstimator(
            f"no configured trainer has an estimator {estimator!r}; "
            f"available: {', '.join(self.estimators())}",
            estimator=estimator,
            available=self.estimators(),
        )

    def estimators(self) -> tuple[str, ...]:
        """Every estimator of every configured trainer, qualified as ``trainer:estimator``."""
        return tuple(f"{n}:{e}" for n, t in sorted(self._trainers.items()) for e in t.estimators())

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
        validate_model_name(model_name)
        trainer, estimator_name = self._trainer_for(estimator)
        if batch_size < 1:
            raise ValidationError("batch_size must be at least 1", field="batch_size")
        rows, labels = await asyncio.to_thread(validate_dataset, dataset)
        schema = dataset.dataset_schema
        training_idx, validation_idx = split_indices(
            labels, validation_split=validation_split, seed=seed, groups=dataset.groups
        )
        parameters: dict[str, Any] = {
            "estimator": estimator_name,
            "hyperparameters": dict(hyperparameters or {}),
            "validation_split": validation_split,
            "batch_size": batch_size,
            "seed": seed,
            "enable_gpu": self.enable_gpu,
            "features": [f.model_dump() for f in schema.features],
            "target": schema.target,
            "training_rows": len(training_idx),
            "validation_rows": len(validation_idx),
        }
        started = self._timer()
        run = TrainingRun(
            run_id=self._new_id(),
            tenant_id=self.tenant_id,
            model_name=model_name,
            trainer=trainer.name,
            estimator=estimator_name,
            status="running",
            parameters=parameters,
            dataset_hash=dataset_hash(schema, rows, labels),
            dataset_rows=len(rows),
            code_version=self.code_version,
            started_at=self._now(),
        )
        await self._experiments.save_run(run)
        stored: StoredArtifact | None = None
        try:
            training_records = [{**rows[i], schema.target: labels[i]} for i in training_idx]
            training_set = Dataset.from_records(training_records, schema, name=dataset.name)
            result = await trainer.fit(
                training_set,
                estimator=estimator_name,
                hyperparameters=dict(hyperparameters or {}),
                validation_split=validation_split,
                batch_size=batch_size,
                seed=seed,
                enable_gpu=self.enable_gpu,
                progress=progress,
            )
            model = result.model
            self._last_device = result.device
            validation_rows = [rows[i] for i in validation_idx]
            probabilities = await asyncio.to_thread(model.predict_proba, validation_rows)
            metrics = classification_metrics(
                [labels[i] for i in validation_idx], probabilities, model.classes
            )
            metrics["training_rows"] = float(len(training_idx))
            data = await trainer.dumps(model)
            artifact_key = f"models/{model_name}/{run.run_id}.{trainer.artifact_format}"
            stored = await self._artifacts.put(self.tenant_id, artifact_key, data)
            if stored.sha256 != _sha256(data):
                raise ArtifactTampered(
                    "the artifact store returned a digest that does not match the bytes written",
                    key=artifact_key,
                    tenant_id=self.tenant_id,
                )
            reference = tuple(
                build_profile(spec, [rows[i] for i in training_idx]) for spec in schema.features
            )
            version = await self._registry.register(
                ModelVersion(
                    tenant_id=self.tenant_id,
                    model_name=model_name,
                    run_id=run.run_id,
                    trainer=trainer.name,
                    estimator=estimator_name,
                    signature=schema.features,
                    target=schema.target,
                    classes=model.classes,
                    artifact_key=stored.key,
                    artifact_sha256=stored.sha256,
                    artifact_format=trainer.artifact_format,
                    artifact_size=stored.size,
                    metrics=metrics,
                    reference=reference,
                    created_at=self._now(),
                )
            )
        except BaseException as exc:
            if stored is not None:
                try:
                    await self._artifacts.delete(self.tenant_id, stored.key)
                except Exception:  # the failure being reported matters more than the cleanup's
                    logger.exception("could not delete the artifact of failed run %s", run.run_id)
            failed = run.model_copy(
                update={
                    "status": "failed",
                    "error": f"{type(exc).__name__}: {exc}",
                    "finished_at": self._now(),
                    "duration_s": self._timer() - started,
                }
            )
            try:
                await asyncio.shield(self._experiments.save_run(failed))
            except Exception:
                logger.exception("could not record failed run %s", run.run_id)
            if isinstance(exc, MotadataError) or not isinstance(exc, Exception):
                raise
            raise TrainingFailed(
                f"training {estimator_name!r} for model {model_name!r} failed: {exc}",
                tenant_id=self.tenant_id,
                model=model_name,
                estimator=estimator_name,
                run_id=run.run_id,
            ) from exc
        finished = run.model_copy(
            update={
                "status": "finished",
                "metrics": metrics,
                "finished_at": self._now(),
                "duration_s": self._timer() - started,
                "device": result.device,
                "artifact_sha256": stored.sha256,
                "artifact_key": stored.key,
                "version": version.version,
                "notes": result.notes,
                "parameters": {**parameters, **({"trainer": result.parameters} if result.parameters else {})},
            }
        )
        await self._experiments.save_run(finished)
        self._loaded.put(LoadedModel(version=version, model=model, size_bytes=model.size_bytes()))
        await self._publish(
            "training_finished",
            {
                "model_name": model_name,
                "version": version.version,
                "run_id": run.run_id,
                "estimator": estimator_name,
                "metrics": metrics,
                "device": result.device,
            },
        )
        return finished

    # ------------------------------------------------------------------ experiments and registry

    async def list_runs(self, *, model_name: str | None = None, limit: int = 100) -> list[TrainingRun]:
        """The tenant's training runs, newest first."""
        return await self._experiments.list_runs(self.tenant_id, model_name=model_name, limit=limit)

    async def get_run(self, run_id: str) -> TrainingRun:
        """One run of the tenant (``RunNotFound`` otherwise)."""
        return await self._experiments.get_run(self.tenant_id, run_id)

    async def compare_runs(
        self,
        run_ids: Sequence[str] | None = None,
        *,
        model_name: str | None = None,
        metric: str = "f1_macro",
        limit: int = 20,
    ) -> RunComparison:
        """Finished runs side by side (the given ids, or the latest of ``model_name``), best first."""
        if run_ids is not None:
            runs = [await self.get_run(run_id) for run_id in run_ids]
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
        validate_model_name(model_name)
        if version is not None:
            return await self._registry.get_version(self.tenant_id, model_name, version)
        key = (model_name, validate_alias(alias))
        cached = self._aliases.get(key)
        now = self._timer()
        if cached is not None and now - cached[0] < self._alias_ttl:
            return cached[1]
        resolved = await self._registry.resolve_alias(self.tenant_id, model_name, alias)
        self._aliases[key] = (now, resolved)
        return resolved

    @audit_action("ml.promote", resource=lambda _, a, k: a[0] if a else k.get("model_name", ""))
    async def promote(self, model_name: str, version: int, alias: str = "champion") -> AliasChange:
        """Point ``alias`` at ``version`` atomically (``VersionNotFound`` when it does not exist)."""
        validate_model_name(model_name)
        validate_alias(alias)
        change = await self._registry.set_alias(self.tenant_id, model_name, alias, version)
        self._aliases.pop((model_name, alias), None)
        await self._publish("version_promoted", change.model_dump())
        return change

    async def rollback(self, model_name: str, alias: str = "champion") -> AliasChange:
        """Move ``alias`` back to the version it pointed at before the last promotion, atomically."""
        validate_model_name(model_name)
        validate_alias(alias)
        change = await self._registry.rollback_alias(self.tenant_id, model_name, alias)
        self._aliases.pop((model_name, alias), None)
        await self._publish("version_rolled_back", change.model_dump())
        return change

    # ------------------------------------------------------------------ serving

    async def load(
        self, model_name: str, *, version: int | None = None, alias: str = "champion"
    ) -> ModelVersion:
        """Make sure the version is in memory (loading and verifying it if needed); return it."""
        entry = await self._loaded_model(await self.get_version(model_name, version=version, alias=alias))
        return entry.version

    def unload(self, model_name: str, version: int | None = None) -> int:
        """Drop a model (one version or all) from memory; return how many were dropped."""
        return self._loaded.discard(self.tenant_id, model_name, version)

    async def _loaded_model(self, version: ModelVersion) -> LoadedModel[TrainedModel]:
        entry = self._loaded.get(self.tenant_id, version.model_name, version.version)
        if entry is not None:
            return entry
        key = (version.model_name, version.version)
        lock = self._load_locks.setdefault(key, asyncio.Lock())
        async with lock:
            entry = self._loaded.get(self.tenant_id, *key)
            if entry is not None:
                return entry
            trainer = self._trainers.get(version.trainer)
            if trainer is None:
                raise UnknownEstimator(
                    f"version {version.version} of {version.model_name!r} needs trainer {version.trainer!r}, "
                    "which is not configured",
                    estimator=f"{version.trainer}:{version.estimator}",
                    available=self.estimators(),
                )
            data = await self._artifacts.get(
                self.tenant_id, version.artifact_key, sha256=version.artifact_sha256
            )
            actual = _sha256(data)
            if actual != version.artifact_sha256:
                raise ArtifactTampered(
                    f"artifact of {version.model_name!r} v{version.version} "
                    "does not match its registered SHA-256",
                    tenant_id=self.tenant_id,
                    model=version.model_name,
                    version=version.version,
                    expected=version.artifact_sha256,
                    actual=actual,
                )
            model = await trainer.loads(data)
            entry = LoadedModel(version=version, model=model, size_bytes=model.size_bytes())
            evicted = self._loaded.put(entry)
            if evicted:
                logger.info("evicted %s to stay under %s MB", evicted, self.max_memory_mb)
            return entry

    def _cache_key(self, version: ModelVersion, record: Mapping[str, Any]) -> str:
        body = json.dumps(record, sort_keys=True, default=str).encode()
        return keys.tenant_key(
            self.tenant_id,
            keys.ML,
            "pred",
            version.model_name,
            version.version,
            version.artifact_sha256[:16],
            hashlib.sha256(body).hexdigest(),
        )

    def _prediction(
        self, version: ModelVersion, probabilities: Sequence[float], classes: Sequence[str]
    ) -> Prediction:
        label = argmax_labels([probabilities], classes)[0]
        return Prediction(
            model_name=version.model_name,
            version=version.version,
            label=label,
            probabilities={c: float(p) for c, p in zip(classes, probabilities, strict=True)},
        )

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
        try:
            resolved = await self.get_version(model_name, version=version, alias=alias)
            normalised = normalise_record(record, resolved.signature)
            key = self._cache_key(resolved, normalised) if self.cache_predictions else None
            if key is not None and self._cache is not None:
                hit = await self._cache.get(key)
                if hit is not None:
                    self._cache_hits += 1
                    self._predictions += 1
                    return Prediction.model_validate_json(hit).model_copy(update={"cached": True})
            entry = await self._loaded_model(resolved)
            probabilities = await asyncio.to_thread(entry.model.predict_proba, [normalised])
            prediction = self._prediction(resolved, probabilities[0], entry.model.classes)
            if key is not None and self._cache is not None:
                await self._cache.set(key, prediction.model_dump_json().encode(), ttl=self._cache_ttl)
        except Exception:
            self._errors += 1
            raise
        self._predictions += 1
        await self._sample([(normalised, prediction.label)], resolved, user_id=user_id)
        return prediction

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
        if chunk_size < 1:
            raise ValidationError("chunk_size must be at least 1", field="chunk_size")
        try:
            resolved = await self.get_version(model_name, version=version, alias=alias)
            normalised = [normalise_record(r, resolved.signature, row=i) for i, r in enumerate(records)]
            entry = await self._loaded_model(resolved)
            classes = entry.model.classes
            predictions: list[Prediction] = []
            for start in range(0, len(normalised), chunk_size):
                chunk = normalised[start : start + chunk_size]
                probabilities = await asyncio.to_thread(entry.model.predict_proba, chunk)
                predictions.extend(self._prediction(resolved, p, classes) for p in probabilities)
        except Exception:
            self._errors += 1
            raise
        self._predictions += len(predictions)
        pairs = [(r, p.label) for r, p in zip(normalised, predictions, strict=True)]
        await self._sample(pairs, resolved, user_id=user_id)
        return predictions

    async def _sample(
        self,
        pairs: Sequence[tuple[dict[str, Any], str]],
        version: ModelVersion,
        *,
        user_id: str | None = None,
    ) -> None:
        if self._log is None or self._sample_rate <= 0:
            return
        now = self._now()
        entries = [
            PredictionLogEntry(
                tenant_id=self.tenant_id,
                model_name=version.model_name,
                version=version.version,
                inputs=inputs,
                label=label,
                user_id=user_id,
                created_at=now,
            )
            for inputs, label in pairs
            if self._rng.random() < self._sample_rate
        ]
        if not entries:
            return
        try:
            await self._log.append(entries)
        except MotadataError:  # losing a sample must not fail a prediction that succeeded
            logger.warning("could not write %d prediction log entries", len(entries), exc_info=True)

    async def prediction_log(
        self, model_name: str, *, version: int | None = None, limit: int = 1000
    ) -> list[PredictionLogEntry]:
        """The sampled predictions of the model, newest first."""
        if self._log is None:
            return []
        return await self._log.recent(
            self.tenant_id, validate_model_name(model_name), version=version, limit=limit
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
        profiles = {p.name: p for p in resolved.reference}
        features = tuple(
            feature_drift(
                profiles[spec.name],
                spec,
                rows,
                psi_threshold=psi_threshold,
                ks_alpha=alpha,
                ks_min_statistic=self._ks_min,
            )
            for spec in resolved.signature
            if spec.name in profiles
        )
        report = DriftReport(
            model_name=model_name,
            version=resolved.version,
            sample_size=len(rows),
            psi_threshold=psi_threshold,
            ks_alpha=alpha,
            features=features,
            drifted_features=tuple(f.feature for f in features if f.drifted),
        )
        if report.drifted:
            await self._publish(
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
            predictions=self._predictions,
            cache_hits=self._cache_hits,
            errors=self._errors,
            device=self._last_device,
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

    async def _publish(self, event: str, payload: dict[str, Any]) -> None:
        if self._bus is None:
            return
        envelope = Envelope(
            tenant_id=self.tenant_id, type=f"ml.{event}", payload=json.loads(json.dumps(payload, default=str))
        )
        try:
            await self._bus.publish(event_subject(self.tenant, "ml", event), envelope)
        except MotadataError:  # the event is a notification; the change it reports has happened
            logger.warning("could not publish ml.%s for tenant %s", event, self.tenant_id, exc_info=True)

"""Training: the configured trainers, and one training run from dataset to registered version.

A run is recorded either way; a failed run registers no version and leaves no artifact behind.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from motadata_ai.domain.ml.dataset import dataset_hash, split_indices, validate_dataset
from motadata_ai.domain.ml.drift import build_profile
from motadata_ai.domain.ml.events import MLEvents
from motadata_ai.domain.ml.loading import sha256_hex
from motadata_ai.domain.ml.metrics import classification_metrics
from motadata_ai.domain.ml.serving import LoadedModel, ModelLRU
from motadata_ai.domain.privacy.training_consent import ConsentedDataset, TrainingConsent, strip_user_column
from motadata_ai.domain.values.arguments import check_mapping, check_number, check_positive_int
from motadata_ai.domain.values.errors import MotadataError, ValidationError
from motadata_ai.domain.values.ml import (
    Dataset,
    ModelVersion,
    ServingArtifact,
    TrainingRun,
    validate_model_name,
)
from motadata_ai.ports.ml import (
    ArtifactStorePort,
    ArtifactTampered,
    ExperimentStorePort,
    ModelRegistryPort,
    ProgressCallback,
    StoredArtifact,
    TrainedModel,
    TrainerPort,
    TrainingFailed,
    UnknownEstimator,
)

logger = logging.getLogger(__name__)


def check_training_options(
    dataset: object, hyperparameters: object, validation_split: object, batch_size: object, seed: object
) -> None:
    """Refuse arguments of :meth:`MLSystem.train` of the wrong kind, as :class:`ValidationError`
    on the argument (the estimator's name is :meth:`TrainerSet.resolve`'s)."""
    if not isinstance(dataset, Dataset):
        raise ValidationError(f"dataset must be a Dataset, got {type(dataset).__name__}", field="dataset")
    check_mapping("hyperparameters", hyperparameters)
    check_number("validation_split", validation_split)
    check_positive_int("batch_size", batch_size)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValidationError(f"seed must be an integer of at least 0, got {seed!r:.40}", field="seed")


class TrainerSet:
    """The trainers by name; estimators named bare (``random_forest``) or qualified (``torch:mlp``)."""

    def __init__(self, trainers: Mapping[str, TrainerPort]) -> None:
        if not trainers:
            raise ValidationError("at least one trainer is needed", field="trainers")
        self.by_name: dict[str, TrainerPort] = dict(trainers)

    def estimators(self) -> tuple[str, ...]:
        """Every estimator of every trainer, qualified as ``trainer:estimator``."""
        return tuple(f"{n}:{e}" for n, t in sorted(self.by_name.items()) for e in t.estimators())

    def resolve(self, estimator: str) -> tuple[TrainerPort, str]:
        """The trainer of ``estimator`` and the estimator's bare name (``UnknownEstimator`` otherwise)."""
        if not isinstance(estimator, str):
            raise UnknownEstimator(
                f"estimator must be a name, got {type(estimator).__name__}",
                estimator=repr(estimator),
                available=self.estimators(),
            )
        if ":" in estimator:
            trainer_name, _, name = estimator.partition(":")
            trainer = self.by_name.get(trainer_name)
            if trainer is None:
                raise UnknownEstimator(
                    f"no trainer named {trainer_name!r}; configured: {', '.join(sorted(self.by_name))}",
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
        for trainer in self.by_name.values():
            if estimator in trainer.estimators():
                return trainer, estimator
        raise UnknownEstimator(
            f"no configured trainer has an estimator {estimator!r}; "
            f"available: {', '.join(self.estimators())}",
            estimator=estimator,
            available=self.estimators(),
        )


class Training:
    """Runs training for one tenant: fit, evaluate, store the artifact, register, load, announce."""

    def __init__(
        self,
        *,
        tenant_id: str,
        trainers: TrainerSet,
        registry: ModelRegistryPort,
        experiments: ExperimentStorePort,
        artifacts: ArtifactStorePort,
        loaded: ModelLRU[TrainedModel],
        events: MLEvents,
        enable_gpu: bool,
        code_version: str,
        clock: Callable[[], datetime],
        timer: Callable[[], float],
        id_factory: Callable[[], str],
        consent: TrainingConsent | None = None,
    ) -> None:
        self.tenant_id = tenant_id
        self.consent = consent
        self.trainers = trainers
        self.registry = registry
        self.experiments = experiments
        self.artifacts = artifacts
        self.loaded = loaded
        self.events = events
        self.enable_gpu = enable_gpu
        self.code_version = code_version
        self._now = clock
        self._timer = timer
        self._new_id = id_factory
        self.last_device = "cpu"

    async def train(
        self,
        dataset: Dataset,
        *,
        model_name: str,
        estimator: str,
        hyperparameters: Mapping[str, Any] | None,
        validation_split: float,
        batch_size: int,
        seed: int,
        progress: ProgressCallback | None,
        trace_id: str = "",
    ) -> TrainingRun:
        """One training run (see :meth:`MLSystem.train`); ``trace_id`` is that of the trace it runs
        in, stored with the run."""
        validate_model_name(model_name)
        check_training_options(dataset, hyperparameters, validation_split, batch_size, seed)
        trainer, estimator_name = self.trainers.resolve(estimator)
        user_column = dataset.dataset_schema.user_column
        consented = (
            await self.consent.apply(self.tenant_id, dataset)
            if self.consent is not None
            else ConsentedDataset(strip_user_column(dataset))
        )
        dataset = consented.dataset
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
        if user_column is not None:
            parameters["user_column"] = user_column
            parameters["rows_without_consent"] = consented.rows_dropped
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
            trace_id=trace_id,
        )
        await self.experiments.save_run(run)
        stored: StoredArtifact | None = None
        twin: StoredArtifact | None = None
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
            self.last_device = result.device
            validation_rows = [rows[i] for i in validation_idx]
            probabilities = await asyncio.to_thread(model.predict_proba, validation_rows)
            metrics = classification_metrics(
                [labels[i] for i in validation_idx], probabilities, model.classes
            )
            metrics["training_rows"] = float(len(training_idx))
            data = await trainer.dumps(model)
            artifact_key = f"models/{model_name}/{run.run_id}.{trainer.artifact_format}"
            stored = await self.artifacts.put(self.tenant_id, artifact_key, data)
            if stored.sha256 != sha256_hex(data):
                raise ArtifactTampered(
                    "the artifact store returned a digest that does not match the bytes written",
                    key=artifact_key,
                    tenant_id=self.tenant_id,
                )
            twin = await self._store_twin(trainer, model, rows, model_name, run.run_id)
            reference = tuple(
                build_profile(spec, [rows[i] for i in training_idx]) for spec in schema.features
            )
            version = await self.registry.register(
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
                    serving=None
                    if twin is None
                    else ServingArtifact(
                        key=twin.key,
                        sha256=twin.sha256,
                        format=trainer.serving_format or "",
                        size=twin.size,
                    ),
                )
            )
        except BaseException as exc:
            await self._record_failure(run, (stored, twin), exc, started)
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
        await self.experiments.save_run(finished)
        self.loaded.put(LoadedModel(version=version, model=model, size_bytes=model.size_bytes()))
        await self.events.publish(
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

    async def _store_twin(
        self,
        trainer: TrainerPort,
        model: TrainedModel,
        rows: list[dict[str, Any]],
        model_name: str,
        run_id: str,
    ) -> StoredArtifact | None:
        """Write the trainer's serving twin of ``model`` (checked against its predictions of
        ``rows``) beside the artifact; ``None`` when the trainer writes none for this model."""
        if trainer.serving_format is None:
            return None
        data = await trainer.dumps_serving(model, rows)
        if data is None:
            return None
        key = f"models/{model_name}/{run_id}.{trainer.serving_format}"
        stored = await self.artifacts.put(self.tenant_id, key, data)
        if stored.sha256 != sha256_hex(data):
            await self.artifacts.delete(self.tenant_id, key)
            raise ArtifactTampered(
                "the artifact store returned a digest that does not match the bytes written",
                key=key,
                tenant_id=self.tenant_id,
            )
        return stored

    async def _record_failure(
        self,
        run: TrainingRun,
        written: tuple[StoredArtifact | None, ...],
        exc: BaseException,
        started: float,
    ) -> None:
        for stored in written:
            if stored is None:
                continue
            try:
                await self.artifacts.delete(self.tenant_id, stored.key)
            except Exception:  # the failure being reported matters more than the cleanup's
                logger.exception("could not delete an artifact of failed run %s", run.run_id)
        failed = run.model_copy(
            update={
                "status": "failed",
                "error": f"{type(exc).__name__}: {exc}",
                "finished_at": self._now(),
                "duration_s": self._timer() - started,
            }
        )
        try:
            await asyncio.shield(self.experiments.save_run(failed))
        except Exception:
            logger.exception("could not record failed run %s", run.run_id)

"""MLSystem on in-memory stores: lifecycle, serving, isolation, safety and failure paths."""

from __future__ import annotations

import random
from collections.abc import Callable
from importlib import metadata
from typing import Any

import pytest

from motadata_ai.adapters.memory.bus import InMemoryBus
from motadata_ai.adapters.memory.cache import InMemoryCache
from motadata_ai.adapters.memory.ml import InMemoryArtifactStore, InMemoryModelRegistry
from motadata_ai.adapters.sklearn import SklearnTrainer
from motadata_ai.domain.ml import MLSystem
from motadata_ai.domain.values.bus import Envelope
from motadata_ai.domain.values.errors import ValidationError
from motadata_ai.domain.values.ml import Dataset, ModelVersion, SignatureViolation, TooManyMissing
from motadata_ai.ports.ml import (
    AliasNotFound,
    ArtifactStoreUnavailable,
    ArtifactTampered,
    FitResult,
    ModelNotFound,
    RegistryUnavailable,
    StoredArtifact,
    TrainedModel,
    TrainerPort,
    TrainingFailed,
    UnknownEstimator,
    VersionNotFound,
)
from motadata_ai.testing.contracts.bus import eventually

from .conftest import SCHEMA, Stores, features_of, make_records

MakeSystem = Callable[..., MLSystem]
RECORD = {"hours_open": 9.0, "category": "network", "summary": "production outage"}

SKOPS_SERVED = {"preprocess__text:summary__sublinear_tf": True}
"""A TF-IDF setting the ONNX twin does not reproduce: the versions load from skops, each as large
as the model training left in memory, which the memory bounds below are sized by."""


async def test_train_registers_a_version_and_records_the_run(
    make_system: MakeSystem, dataset: Dataset
) -> None:
    ml = make_system()
    run = await ml.train(dataset, model_name="escalation", estimator="logistic_regression")
    assert run.status == "finished" and run.version == 1
    assert set(run.metrics) >= {"accuracy", "f1_macro", "precision_macro", "recall_macro", "roc_auc"}
    assert run.metrics["accuracy"] > 0.7
    assert len(run.dataset_hash) == 64 and run.dataset_rows == 200
    assert run.code_version == metadata.version("motadata-ai-sdk")  # the installed SDK by default
    assert run.duration_s is not None and run.duration_s > 0
    assert run.parameters["seed"] == 42 and run.parameters["validation_split"] == 0.2
    [version] = await ml.list_versions("escalation")
    assert version.run_id == run.run_id and version.artifact_sha256 == run.artifact_sha256
    assert [f.name for f in version.signature] == ["hours_open", "category", "summary"]
    assert {p.name for p in version.reference} == {"hours_open", "category", "summary"}
    assert await ml.get_run(run.run_id) == run
    [summary] = await ml.list_models()
    assert (summary.model_name, summary.latest_version, summary.aliases) == ("escalation", 1, {})


async def test_same_seed_same_data_same_metrics(make_system: MakeSystem, dataset: Dataset) -> None:
    ml = make_system()
    first = await ml.train(
        dataset, model_name="m", estimator="random_forest", hyperparameters={"n_estimators": 20}
    )
    second = await ml.train(
        dataset, model_name="m", estimator="random_forest", hyperparameters={"n_estimators": 20}
    )
    assert first.metrics == second.metrics and first.dataset_hash == second.dataset_hash


async def test_promote_predict_and_rollback(make_system: MakeSystem, dataset: Dataset) -> None:
    ml = make_system()
    await ml.train(dataset, model_name="m")
    await ml.train(dataset, model_name="m", estimator="decision_tree")
    with pytest.raises(AliasNotFound):
        await ml.predict("m", RECORD)
    change = await ml.promote("m", 1)
    assert (change.previous, change.current) == (None, 1)
    prediction = await ml.predict("m", RECORD)
    assert prediction.version == 1 and prediction.label == "yes"
    assert prediction.probabilities is not None and sum(prediction.probabilities.values()) == pytest.approx(1)
    await ml.promote("m", 2)
    assert (await ml.predict("m", RECORD)).version == 2
    await ml.promote("m", 1, alias="challenger")
    assert (await ml.predict("m", RECORD, alias="challenger")).version == 1
    assert (await ml.predict("m", RECORD, version=2)).version == 2
    back = await ml.rollback("m")
    assert (back.previous, back.current) == (2, 1)
    assert (await ml.predict("m", RECORD)).version == 1
    [summary] = await ml.list_models()
    assert summary.aliases == {"challenger": 1, "champion": 1}


async def test_unknown_model_version_alias_and_estimator(make_system: MakeSystem, dataset: Dataset) -> None:
    ml = make_system()
    with pytest.raises(ModelNotFound):
        await ml.predict("missing", RECORD)
    await ml.train(dataset, model_name="m")
    with pytest.raises(VersionNotFound):
        await ml.predict("m", RECORD, version=5)
    with pytest.raises(VersionNotFound):
        await ml.promote("m", 5)
    with pytest.raises(AliasNotFound):
        await ml.predict("m", RECORD, alias="challenger")
    with pytest.raises(AliasNotFound):
        await ml.rollback("m")
    with pytest.raises(UnknownEstimator) as caught:
        await ml.train(dataset, model_name="m", estimator="xgboost")
    assert "sklearn:logistic_regression" in caught.value.available
    with pytest.raises(UnknownEstimator):
        await ml.train(dataset, model_name="m", estimator="torch:mlp")
    with pytest.raises(ValidationError):
        await ml.train(dataset, model_name="bad name!")
    for estimator in (None, 5, b"sklearn:logistic_regression"):
        with pytest.raises(UnknownEstimator):
            await ml.train(dataset, model_name="m", estimator=estimator)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "arguments",
    [
        {"dataset": [{"hours_open": 1.0}]},
        {"dataset": None},
        {"hyperparameters": "C=1"},
        {"hyperparameters": [("C", 1)]},
        {"validation_split": "0.2"},
        {"validation_split": None},
        {"batch_size": None},
        {"batch_size": 2.5},
        {"seed": [1, 2]},
        {"seed": -1},
        {"seed": True},
    ],
)
async def test_training_arguments_of_the_wrong_kind_are_refused(
    make_system: MakeSystem, dataset: Dataset, arguments: dict[str, object]
) -> None:
    ml = make_system()
    call = {"dataset": dataset, **arguments}
    with pytest.raises(ValidationError) as caught:
        await ml.train(call.pop("dataset"), model_name="m", **call)  # type: ignore[arg-type]
    assert caught.value.field == next(iter(arguments))
    assert await ml.list_models() == []
    with pytest.raises(ValidationError):
        await ml.promote("m", 1, alias="Not An Alias")


async def test_records_violating_the_signature(make_system: MakeSystem, dataset: Dataset) -> None:
    ml = make_system()
    await ml.train(dataset, model_name="m")
    await ml.promote("m", 1)
    with pytest.raises(SignatureViolation):
        await ml.predict("m", {"hours_open": 1.0, "category": "network"})
    with pytest.raises(SignatureViolation):
        await ml.predict("m", RECORD | {"priority": "1 - Critical"})
    with pytest.raises(SignatureViolation) as caught:
        await ml.predict_batch("m", [RECORD, RECORD | {"hours_open": "later"}])
    assert caught.value.row == 1
    assert (await ml.health()).errors == 3
    missing_values = await ml.predict("m", {"hours_open": None, "category": None, "summary": None})
    assert missing_values.label in {"yes", "no"}


async def test_invalid_training_data_registers_nothing(make_system: MakeSystem, stores: Stores) -> None:
    ml = make_system()
    rows = make_records(20)
    for row in rows[:15]:
        row["summary"] = None
    with pytest.raises(TooManyMissing):
        await ml.train(Dataset.from_records(rows, SCHEMA), model_name="m")
    assert await ml.list_models() == []
    assert await ml.list_runs() == []


class ExplodingTrainer(TrainerPort):
    name = "exploding"
    artifact_format = "none"

    def estimators(self) -> tuple[str, ...]:
        return ("boom",)

    async def fit(self, dataset: Dataset, **options: Any) -> FitResult:
        raise RuntimeError("the estimator diverged")

    async def dumps(self, model: TrainedModel) -> bytes:
        raise AssertionError

    async def loads(self, data: bytes) -> TrainedModel:
        raise AssertionError


async def test_failed_fit_is_recorded_and_registers_nothing(
    make_system: MakeSystem, dataset: Dataset
) -> None:
    ml = make_system(trainers={"sklearn": SklearnTrainer(), "exploding": ExplodingTrainer()})
    with pytest.raises(TrainingFailed) as caught:
        await ml.train(dataset, model_name="m", estimator="boom")
    assert "diverged" in str(caught.value)
    [run] = await ml.list_runs()
    assert run.status == "failed" and "diverged" in (run.error or "")
    assert await ml.list_models() == []
    with pytest.raises(ValidationError):
        await ml.train(dataset, model_name="m", hyperparameters={"no_such_parameter": 1})
    assert [r.status for r in await ml.list_runs()] == ["failed", "failed"]
    assert await ml.list_models() == []


class FailingRegistry(InMemoryModelRegistry):
    async def register(self, version: ModelVersion) -> ModelVersion:
        raise RegistryUnavailable("registry down", address="postgresql://app:***@db/ml")


async def test_registry_failure_removes_the_artifact(make_system: MakeSystem, dataset: Dataset) -> None:
    artifacts = InMemoryArtifactStore()
    ml = make_system(registry=FailingRegistry(), artifacts=artifacts)
    with pytest.raises(RegistryUnavailable):
        await ml.train(dataset, model_name="m")
    assert artifacts._blobs == {}
    [run] = await ml.list_runs()
    assert run.status == "failed"


class FullDisk(InMemoryArtifactStore):
    async def put(self, tenant_id: str, key: str, data: bytes) -> StoredArtifact:
        raise ArtifactStoreUnavailable("disk full", address="/var/artifacts")


async def test_artifact_store_failure_registers_nothing(make_system: MakeSystem, dataset: Dataset) -> None:
    ml = make_system(artifacts=FullDisk())
    with pytest.raises(ArtifactStoreUnavailable):
        await ml.train(dataset, model_name="m")
    assert await ml.list_models() == []


async def test_tampered_artifact_is_refused(
    make_system: MakeSystem, stores: Stores, dataset: Dataset
) -> None:
    ml = make_system()
    run = await ml.train(dataset, model_name="m")
    await ml.promote("m", 1)
    ml.unload("m")
    stores.artifacts.corrupt("tenant-a", run.artifact_key or "", offset=100)
    with pytest.raises(ArtifactTampered):
        await ml.predict("m", RECORD)
    assert ml.loaded_models == []


class LyingStore(InMemoryArtifactStore):
    """A store that skips verification and hands back whatever it holds."""

    async def get(self, tenant_id: str, key: str, *, sha256: str) -> bytes:
        return self._blobs[(tenant_id, key)]


async def test_system_verifies_the_digest_itself(make_system: MakeSystem, dataset: Dataset) -> None:
    artifacts = LyingStore()
    ml = make_system(artifacts=artifacts)
    run = await ml.train(dataset, model_name="m")
    ml.unload("m")
    artifacts.corrupt("tenant-a", run.artifact_key or "")
    with pytest.raises(ArtifactTampered) as caught:
        await ml.load("m", version=1)
    assert caught.value.expected == run.artifact_sha256


async def test_tenant_isolation(make_system: MakeSystem, dataset: Dataset) -> None:
    alice = make_system("tenant-a")
    bob = make_system("tenant-b")
    run = await alice.train(dataset, model_name="m")
    await alice.promote("m", 1)
    assert await bob.list_models() == []
    assert await bob.list_runs() == []
    with pytest.raises(ModelNotFound):
        await bob.predict("m", RECORD)
    with pytest.raises(ModelNotFound):
        await bob.load("m", version=1)
    with pytest.raises(ModelNotFound):
        await bob.promote("m", 1)
    with pytest.raises(Exception) as caught:
        await bob.get_run(run.run_id)
    assert type(caught.value).__name__ == "RunNotFound"
    await bob.train(dataset, model_name="m", estimator="decision_tree")
    assert [v.estimator for v in await bob.list_versions("m")] == ["decision_tree"]
    assert [v.estimator for v in await alice.list_versions("m")] == ["logistic_regression"]


async def test_lru_evicts_under_the_memory_bound(make_system: MakeSystem, dataset: Dataset) -> None:
    probe = make_system()
    await probe.train(dataset, model_name="probe", hyperparameters=SKOPS_SERVED)
    one_model = probe.memory_used_bytes
    assert one_model > 1000
    ml = make_system(max_memory_mb=1.5 * one_model / (1024 * 1024))
    for name in ("a", "b", "c"):
        await ml.train(dataset, model_name=name, hyperparameters=SKOPS_SERVED)
        await ml.promote(name, 1)
    assert ml.loaded_models == [("c", 1)]
    await ml.predict("a", RECORD)
    await ml.predict("b", RECORD)
    assert ml.loaded_models == [("b", 1)]
    assert ml.memory_used_bytes <= 1.5 * one_model
    big_budget = make_system(max_memory_mb=10 * one_model / (1024 * 1024))
    for name in ("a", "b", "c"):
        await big_budget.predict(name, RECORD)
    assert big_budget.loaded_models == [("a", 1), ("b", 1), ("c", 1)]
    await big_budget.predict("a", RECORD)
    assert big_budget.loaded_models[-1] == ("a", 1)


async def test_prediction_cache_is_keyed_by_tenant_version_and_input(
    make_system: MakeSystem, dataset: Dataset
) -> None:
    cache = InMemoryCache()
    ml = make_system(cache=cache)
    await ml.train(dataset, model_name="m")
    await ml.promote("m", 1)
    first = await ml.predict("m", RECORD)
    again = await ml.predict("m", dict(reversed(list(RECORD.items()))))
    assert not first.cached and again.cached and again.label == first.label
    assert not (await ml.predict("m", RECORD | {"hours_open": 1.0})).cached
    assert (await ml.health()).cache_hits == 1
    await ml.train(dataset, model_name="m", estimator="decision_tree")
    await ml.promote("m", 2)
    assert not (await ml.predict("m", RECORD)).cached
    keys = list(cache._data)
    assert keys and all(k.startswith("{tenant-a}:ml:pred:m:") for k in keys)
    other = make_system("tenant-b", cache=cache)
    await other.train(dataset, model_name="m")
    await other.promote("m", 1)
    assert not (await other.predict("m", RECORD)).cached


async def test_the_prediction_cache_holds_a_hash_of_the_record_never_the_record(
    make_system: MakeSystem, dataset: Dataset, stores: Any
) -> None:
    cache = InMemoryCache()
    ml = make_system(cache=cache, log_sample_rate=1.0)
    await ml.train(dataset, model_name="m")
    await ml.promote("m", 1)
    secret = "outage reported by bob@example.com"
    await ml.predict("m", RECORD | {"summary": secret}, user_id="bob")
    assert (await ml.predict("m", RECORD | {"summary": secret}, user_id="bob")).cached
    stored = [(key, value) for key, (value, _) in cache._data.items()]
    assert stored and all("bob" not in key and b"bob@example.com" not in value for key, value in stored)
    # the sampled prediction log keeps the record for drift monitoring, under the user, so that
    # erasing the user removes it
    (entry, *_) = await stores.log.user_entries("tenant-a", "bob")
    assert entry.inputs["summary"] == secret


async def test_batch_prediction_matches_single_predictions(make_system: MakeSystem, dataset: Dataset) -> None:
    ml = make_system()
    await ml.train(
        dataset, model_name="m", estimator="gradient_boosting", hyperparameters={"n_estimators": 20}
    )
    await ml.promote("m", 1)
    records = features_of(make_records(25, seed=9))
    batch = await ml.predict_batch("m", records, chunk_size=7)
    singles = [await ml.predict("m", r) for r in records]
    assert [p.label for p in batch] == [p.label for p in singles]
    for b, s in zip(batch, singles, strict=True):
        assert b.probabilities == pytest.approx(s.probabilities)
    with pytest.raises(ValidationError):
        await ml.predict_batch("m", records, chunk_size=0)


async def test_drift_report_on_shift_and_resample(make_system: MakeSystem) -> None:
    bus = InMemoryBus()
    received: list[Envelope] = []

    async def handler(envelope: Envelope) -> None:
        received.append(envelope)

    await bus.subscribe("events.tenant-a.ml.>", handler)
    ml = make_system(bus=bus, log_sample_rate=1.0)
    reference = make_records(1000, seed=1)
    await ml.train(Dataset.from_records(reference, SCHEMA), model_name="m")
    await ml.promote("m", 1)
    rng = random.Random(5)
    resample = features_of([rng.choice(reference) for _ in range(400)])
    calm = await ml.drift_report("m", resample)
    assert not calm.drifted and calm.sample_size == 400
    shifted = features_of(make_records(400, seed=2, shift=4.0))
    report = await ml.drift_report("m", shifted)
    assert "hours_open" in report.drifted_features
    drift = next(f for f in report.features if f.feature == "hours_open")
    assert drift.psi > 0.2 and drift.ks_statistic is not None and drift.ks_p_value is not None
    await ml.predict_batch("m", shifted)
    from_log = await ml.drift_report("m")
    assert "hours_open" in from_log.drifted_features and from_log.sample_size == 400
    await eventually(
        lambda: [e.type for e in received].count("ml.drift_detected") == 2, what="two drift events"
    )
    types = [e.type for e in received]
    assert {"ml.training_finished", "ml.version_promoted"} <= set(types)
    assert all(e.tenant_id == "tenant-a" for e in received)
    await bus.aclose()


async def test_prediction_log_is_sampled(make_system: MakeSystem, dataset: Dataset) -> None:
    ml = make_system(log_sample_rate=0.25, rng=random.Random(3))
    await ml.train(dataset, model_name="m")
    await ml.promote("m", 1)
    await ml.predict_batch("m", features_of(make_records(400, seed=4)))
    logged = await ml.prediction_log("m")
    assert 60 < len(logged) < 140
    assert all(e.version == 1 and e.tenant_id == "tenant-a" for e in logged)
    silent = make_system(log_sample_rate=0.0)
    await silent.predict("m", RECORD)
    assert len(await silent.prediction_log("m")) == len(logged)


async def test_compare_runs_and_health(make_system: MakeSystem, dataset: Dataset) -> None:
    ml = make_system()
    a = await ml.train(dataset, model_name="m", estimator="logistic_regression")
    b = await ml.train(dataset, model_name="m", estimator="decision_tree")
    comparison = await ml.compare_runs(model_name="m", metric="accuracy")
    assert {r.run_id for r in comparison.runs} == {a.run_id, b.run_id}
    scores = [r.metrics["accuracy"] for r in comparison.runs]
    assert scores == sorted(scores, reverse=True) and scores[0] == max(
        a.metrics["accuracy"], b.metrics["accuracy"]
    )
    assert comparison.best_run_id == comparison.runs[0].run_id == comparison.table[0]["run_id"]
    assert comparison.table[0]["accuracy"] == scores[0]
    explicit = await ml.compare_runs([a.run_id], metric="f1_macro")
    assert [r.run_id for r in explicit.runs] == [a.run_id]
    health = await ml.health()
    assert health.status == "ok" and health.loaded_models and health.memory_used_mb > 0


async def test_health_reports_a_failing_store(make_system: MakeSystem) -> None:
    class DownRegistry(InMemoryModelRegistry):
        async def ping(self) -> bool:
            raise RegistryUnavailable("down", address="postgresql://app:***@db/ml")

    health = await make_system(registry=DownRegistry()).health()
    assert health.status == "degraded" and not health.registry and "down" in health.details["registry"]


def test_constructor_checks_its_options(stores: Stores) -> None:
    common: dict[str, Any] = {
        "registry": stores.registry,
        "experiments": stores.experiments,
        "artifacts": stores.artifacts,
    }
    with pytest.raises(ValidationError):
        MLSystem(tenant="t", trainers={}, **common)
    with pytest.raises(ValidationError):
        MLSystem(tenant="t", trainers={"sklearn": SklearnTrainer()}, max_memory_mb=0, **common)
    with pytest.raises(ValidationError):
        MLSystem(tenant="bad tenant", trainers={"sklearn": SklearnTrainer()}, **common)


async def test_one_model_cache_bounds_every_tenant_of_a_process(
    make_system: MakeSystem, dataset: Dataset
) -> None:
    from motadata_ai.domain.ml.serving import ModelLRU

    probe = make_system()
    await probe.train(dataset, model_name="probe", hyperparameters=SKOPS_SERVED)
    one_model = probe.memory_used_bytes
    shared: ModelLRU[Any] = ModelLRU(max_bytes=int(1.5 * one_model))
    alice = make_system("alice", model_cache=shared)
    bob = make_system("bob", model_cache=shared)
    for system in (alice, bob):  # the same model name and version in both tenants
        await system.train(dataset, model_name="m", hyperparameters=SKOPS_SERVED)
        await system.promote("m", 1)
    assert alice.loaded_models == [] and bob.loaded_models == [("m", 1)]
    assert shared.used_bytes <= 1.5 * one_model
    await alice.predict("m", RECORD)  # loads alice's own model, evicting bob's
    assert alice.loaded_models == [("m", 1)] and bob.loaded_models == []
    assert alice.unload("m") == 1 and bob.unload("m") == 0


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda ml: ml.list_runs(limit=2.5), "limit"),
        (lambda ml: ml.list_runs(limit=0), "limit"),
        (lambda ml: ml.get_run(["r1"]), "run_id"),
        (lambda ml: ml.compare_runs(5), "run_ids"),
        (lambda ml: ml.compare_runs(metric=["f1"]), "metric"),
        (lambda ml: ml.compare_runs(limit="20"), "limit"),
        (lambda ml: ml.predict_batch("m", None), "records"),
        (lambda ml: ml.predict_batch("m", {"hours_open": 1.0}), "records"),
        (lambda ml: ml.prediction_log("m", limit=1.5), "limit"),
    ],
)
async def test_registry_and_serving_arguments_of_the_wrong_kind_are_refused(
    make_system: MakeSystem, dataset: Dataset, call: Callable[[MLSystem], Any], field: str
) -> None:
    ml = make_system()
    run = await ml.train(dataset, model_name="m")
    await ml.promote("m", run.version)
    with pytest.raises(ValidationError) as caught:
        await call(ml)
    assert caught.value.field == field

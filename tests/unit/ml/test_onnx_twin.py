"""The ONNX twin of a scikit-learn model: written beside the skops artifact, verified like it,
predicting what scikit-learn predicts, and kept only for the pipelines it converts exactly."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from motadata_ai.adapters.memory.ml import InMemoryArtifactStore, InMemoryModelRegistry
from motadata_ai.adapters.sklearn import SklearnModel, SklearnTrainer
from motadata_ai.adapters.sklearn.onnx_twin import TOLERANCE, OnnxModel
from motadata_ai.domain.ml import MLSystem
from motadata_ai.domain.ml.dataset import normalise_record, validate_dataset
from motadata_ai.domain.values.ml import Dataset, DatasetSchema, ModelVersion, TrainingRun
from motadata_ai.ports.ml import ArtifactTampered, RegistryUnavailable, TrainedModel

from .conftest import SCHEMA, Stores, features_of, make_records

MakeSystem = Callable[..., MLSystem]
TABULAR = DatasetSchema.of("escalated", hours_open="numeric", category="categorical")
RECORD = {"hours_open": 9.0, "category": "network"}


def tabular(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k != "summary"} for r in rows]


def tabular_dataset(n: int = 200) -> Dataset:
    return Dataset.from_records(tabular(make_records(n)), TABULAR)


def unseen() -> list[dict[str, Any]]:
    records = tabular(features_of(make_records(60, seed=7)))
    records += [{"hours_open": None, "category": "never-seen"}, {"hours_open": 1e6, "category": None}]
    return [normalise_record(r, TABULAR.features) for r in records]


def rows_for(schema: DatasetSchema) -> list[dict[str, Any]]:
    return make_records(150) if schema is SCHEMA else tabular(make_records(150))


async def fit(estimator: str, schema: DatasetSchema = TABULAR, **hyper: Any) -> SklearnModel:
    result = await SklearnTrainer().fit(
        Dataset.from_records(rows_for(schema), schema),
        estimator=estimator,
        hyperparameters=hyper,
        validation_split=0.2,
        batch_size=32,
        seed=1,
        enable_gpu=False,
    )
    assert isinstance(result.model, SklearnModel)
    return result.model


def training_rows(schema: DatasetSchema = TABULAR) -> list[dict[str, Any]]:
    normalised, _ = validate_dataset(Dataset.from_records(rows_for(schema), schema))
    return normalised


@pytest.mark.parametrize("estimator", ["logistic_regression", "sgd"])
async def test_the_twin_predicts_what_scikit_learn_predicts(estimator: str) -> None:
    trainer = SklearnTrainer()
    model = await fit(estimator)
    data = await trainer.dumps_serving(model, training_rows())
    assert data is not None
    twin = await trainer.loads_serving(data)
    assert isinstance(twin, OnnxModel)
    assert twin.classes == model.classes == ("no", "yes")
    records = unseen()  # missing values, an unknown category, an outlier
    expected, actual = np.array(model.predict_proba(records)), np.array(twin.predict_proba(records))
    assert (expected.argmax(axis=1) == actual.argmax(axis=1)).all()
    np.testing.assert_allclose(actual, expected, rtol=0, atol=TOLERANCE)


@pytest.mark.parametrize(
    ("estimator", "schema"),
    [
        ("logistic_regression", SCHEMA),  # a text feature: TF-IDF is not converted
        ("random_forest", TABULAR),  # trees: float32 thresholds in onnxruntime
        ("gradient_boosting", TABULAR),
        ("decision_tree", TABULAR),
    ],
    ids=["text feature", "random forest", "gradient boosting", "decision tree"],
)
async def test_a_pipeline_not_converted_exactly_gets_no_twin(estimator: str, schema: DatasetSchema) -> None:
    hyper = {"n_estimators": 10} if estimator in ("random_forest", "gradient_boosting") else {}
    model = await fit(estimator, schema, **hyper)
    assert await SklearnTrainer().dumps_serving(model, training_rows(schema)) is None


class CountingTrainer(SklearnTrainer):
    """Records which of its artifacts each load read."""

    def __init__(self) -> None:
        super().__init__()
        self.loaded: list[str] = []

    async def loads(self, data: bytes) -> TrainedModel:
        self.loaded.append("skops")
        return await super().loads(data)

    async def loads_serving(self, data: bytes) -> TrainedModel | None:
        self.loaded.append("onnx")
        return await super().loads_serving(data)


async def promoted_and_unloaded(make_system: MakeSystem) -> tuple[MLSystem, CountingTrainer, TrainingRun]:
    """Model ``m`` trained on the tabular data, promoted, and out of memory; a counting trainer."""
    trainer = CountingTrainer()
    ml = make_system(trainers={"sklearn": trainer})
    run = await ml.train(tabular_dataset(), model_name="m")
    await ml.promote("m", 1)
    ml.unload("m")
    return ml, trainer, run


async def test_training_registers_the_twin_and_serving_loads_it(
    make_system: MakeSystem, stores: Stores
) -> None:
    trainer = CountingTrainer()
    ml = make_system(trainers={"sklearn": trainer})
    run = await ml.train(tabular_dataset(), model_name="m")
    await ml.promote("m", 1)
    version = await ml.get_version("m", version=1)
    assert version.serving is not None and version.serving.format == "onnx"
    assert version.serving.key == f"models/m/{run.run_id}.onnx"
    skops_answer = await ml.predict("m", RECORD)  # the model training left in memory
    ml.unload("m")
    onnx_answer = await ml.predict("m", RECORD)
    assert trainer.loaded == ["onnx"]
    assert onnx_answer.label == skops_answer.label
    for label, p in (skops_answer.probabilities or {}).items():
        assert abs((onnx_answer.probabilities or {})[label] - p) <= TOLERANCE


async def test_a_tampered_twin_is_refused(make_system: MakeSystem, stores: Stores) -> None:
    ml, trainer, _ = await promoted_and_unloaded(make_system)
    twin = (await ml.get_version("m", version=1)).serving
    assert twin is not None
    stores.artifacts.corrupt("tenant-a", twin.key, offset=50)
    with pytest.raises(ArtifactTampered) as caught:
        await ml.predict("m", RECORD)
    assert caught.value.expected == twin.sha256
    assert trainer.loaded == [] and ml.loaded_models == []


async def test_a_missing_twin_falls_back_to_the_skops_artifact(
    make_system: MakeSystem, stores: Stores
) -> None:
    ml, trainer, _ = await promoted_and_unloaded(make_system)
    twin = (await ml.get_version("m", version=1)).serving
    assert twin is not None
    await stores.artifacts.delete("tenant-a", twin.key)
    await ml.predict("m", RECORD)
    assert trainer.loaded == ["skops"]


async def test_a_model_without_a_twin_is_served_from_skops(make_system: MakeSystem) -> None:
    trainer = CountingTrainer()
    ml = make_system(trainers={"sklearn": trainer})
    await ml.train(Dataset.from_records(make_records(), SCHEMA), model_name="m")  # a text feature
    await ml.promote("m", 1)
    assert (await ml.get_version("m", version=1)).serving is None
    ml.unload("m")
    await ml.predict("m", {"hours_open": 9.0, "category": "network", "summary": "production outage"})
    assert trainer.loaded == ["skops"]


async def test_another_tenant_cannot_read_the_twin(make_system: MakeSystem, stores: Stores) -> None:
    alice = make_system("tenant-a")
    await alice.train(tabular_dataset(), model_name="m")
    twin = (await alice.get_version("m", version=1)).serving
    assert twin is not None
    artifacts: InMemoryArtifactStore = stores.artifacts
    assert ("tenant-a", twin.key) in artifacts._blobs
    assert not any(key == twin.key for (tenant, key) in artifacts._blobs if tenant != "tenant-a")


class DownRegistry(InMemoryModelRegistry):
    async def register(self, version: ModelVersion) -> ModelVersion:
        raise RegistryUnavailable("registry down", address="memory")


async def test_a_failed_registration_leaves_neither_artifact(make_system: MakeSystem, stores: Stores) -> None:
    ml = make_system(registry=DownRegistry())
    with pytest.raises(RegistryUnavailable):
        await ml.train(tabular_dataset(), model_name="m")
    artifacts: InMemoryArtifactStore = stores.artifacts
    assert artifacts._blobs == {}


def test_feeds_follow_the_signature() -> None:
    from motadata_ai.adapters.sklearn.onnx_twin import _feeds

    feeds = _feeds([{"hours_open": None, "category": None}], TABULAR.features)
    assert np.isnan(feeds["hours_open"][0, 0]) and feeds["category"][0, 0] == "None"
    assert {k: v.shape for k, v in feeds.items()} == {"hours_open": (1, 1), "category": (1, 1)}


async def test_a_tampered_skops_artifact_is_refused_though_the_twin_would_serve(
    make_system: MakeSystem, stores: Stores
) -> None:
    ml, trainer, run = await promoted_and_unloaded(make_system)
    stores.artifacts.corrupt("tenant-a", run.artifact_key or "", offset=100)
    with pytest.raises(ArtifactTampered):
        await ml.predict("m", RECORD)
    assert trainer.loaded == []

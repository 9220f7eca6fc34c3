"""The ONNX twin of a scikit-learn model: written beside the skops artifact, verified like it,
predicting what scikit-learn predicts, and kept only for the pipelines it converts exactly."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from motadata_ai.adapters.memory.ml import InMemoryArtifactStore, InMemoryModelRegistry
from motadata_ai.adapters.sklearn import SklearnModel, SklearnTrainer
from motadata_ai.adapters.sklearn.onnx_twin import TOLERANCE, OnnxModel, same_labels
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


def unseen(schema: DatasetSchema = TABULAR) -> list[dict[str, Any]]:
    """New records: missing values, an unknown category, an outlier (and, with text, odd text)."""
    records = features_of(make_records(60, seed=7))
    records += [
        {"hours_open": None, "category": "never-seen", "summary": None},
        {"hours_open": 1e6, "category": None, "summary": ""},
        {"hours_open": 3.0, "category": "network", "summary": "ÜBER outage!! VPN-gateway_01 DOWN, down; ça"},
    ]
    if schema is TABULAR:
        records = tabular(records)
    return [normalise_record(r, schema.features) for r in records]


def rows_for(schema: DatasetSchema) -> list[dict[str, Any]]:
    return make_records(150) if schema is SCHEMA else tabular(make_records(150))


async def twin_of(model: SklearnModel, schema: DatasetSchema = TABULAR) -> tuple[bytes, OnnxModel]:
    """The model's twin as training writes it (checked on the training rows) and as serving loads it."""
    trainer = SklearnTrainer()
    data = await trainer.dumps_serving(model, training_rows(schema))
    assert data is not None
    twin = await trainer.loads_serving(data)
    assert isinstance(twin, OnnxModel)
    return data, twin


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


TREES = ["random_forest", "extra_trees", "gradient_boosting", "decision_tree"]


@pytest.mark.parametrize(
    ("estimator", "schema"),
    [(name, TABULAR) for name in ["logistic_regression", "sgd", *TREES]]
    + [("logistic_regression", SCHEMA), ("random_forest", SCHEMA)],
    ids=[*(["logistic_regression", "sgd", *TREES]), "text, logistic_regression", "text, random_forest"],
)
async def test_the_twin_predicts_what_scikit_learn_predicts(estimator: str, schema: DatasetSchema) -> None:
    model = await fit(estimator, schema, **({"n_estimators": 30} if estimator in TREES[:3] else {}))
    _, twin = await twin_of(model, schema)
    assert twin.classes == model.classes == ("no", "yes")
    records = unseen(schema)
    expected, actual = np.array(model.predict_proba(records)), np.array(twin.predict_proba(records))
    assert same_labels(expected, actual)
    np.testing.assert_allclose(actual, expected, rtol=0, atol=TOLERANCE)


async def test_a_batch_larger_than_one_run_is_predicted_whole_and_in_order() -> None:
    from motadata_ai.adapters.sklearn.onnx_twin import ROWS_PER_RUN

    model = await fit("logistic_regression", SCHEMA)
    _, twin = await twin_of(model, SCHEMA)
    records = (unseen(SCHEMA) * (2 * ROWS_PER_RUN // 60 + 1))[: 2 * ROWS_PER_RUN + 7]
    np.testing.assert_allclose(
        twin.predict_proba(records), model.predict_proba(records), rtol=0, atol=TOLERANCE
    )


async def test_a_text_twin_counts_its_vocabulary_in_its_size() -> None:
    """The model cache bounds memory by each model's size: a text twin holds its vocabulary as
    Python strings and a dict besides the graph's bytes."""
    text_model = await fit("logistic_regression", SCHEMA)
    data, twin = await twin_of(text_model, SCHEMA)
    vectorizer = text_model.pipeline.named_steps["preprocess"].named_transformers_["text:summary"]
    vocabulary = sum(sys.getsizeof(term) for term in vectorizer.vocabulary_)
    assert twin.size_bytes() >= len(data) + vocabulary
    tabular_data, tabular_twin = await twin_of(await fit("logistic_regression"))
    assert tabular_twin.size_bytes() == len(tabular_data)


def test_labels_must_agree_except_where_scikit_learn_ties() -> None:
    expected = np.array([[0.5, 0.5], [0.7, 0.3], [0.2, 0.8]])
    assert same_labels(expected, np.array([[0.4999999, 0.5000001], [0.7, 0.3], [0.2, 0.8]]))
    assert not same_labels(expected, np.array([[0.5, 0.5], [0.4, 0.6], [0.2, 0.8]]))


OTHER_TFIDF = {"preprocess__text:summary__sublinear_tf": True}
"""A TF-IDF setting the twin's NumPy TF-IDF does not reproduce."""


async def test_a_text_feature_whose_tf_idf_the_twin_does_not_reproduce_gets_no_twin() -> None:
    model = await fit("logistic_regression", SCHEMA, **OTHER_TFIDF)
    assert await SklearnTrainer().dumps_serving(model, training_rows(SCHEMA)) is None


def varied_texts() -> list[str]:
    return [
        "VPN down", "vpn DOWN down down", "", "   ", "a b c", "ça marche pas, l'écran est noir",
        "ÜBER-Ausfall im Straße_3", "printer_01 jammed!!", "e-mail  not\tsyncing\n again", "x" * 300,
        "日本語のテキスト 障害", "12 34 5678", "tab\there", "it's the user's issue",
    ]  # fmt: skip


def test_the_numpy_tf_idf_is_scikit_learns() -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer

    from motadata_ai.adapters.sklearn.onnx_text import TextColumn, reproducible

    corpus = [s for s in varied_texts() if s.strip()] + [r["summary"] for r in make_records(80)]
    vectorizer = TfidfVectorizer(max_features=50).fit(corpus)
    assert reproducible(vectorizer)
    column = TextColumn.from_state(TextColumn.of(vectorizer).state())
    texts = [*varied_texts(), "unseen words only", "vpn vpn vpn printer"]
    np.testing.assert_allclose(column(texts), vectorizer.transform(texts).toarray(), rtol=0, atol=1e-12)
    assert not reproducible(TfidfVectorizer(sublinear_tf=True).fit(corpus))
    assert not reproducible(TfidfVectorizer(ngram_range=(1, 2)).fit(corpus))
    assert not reproducible(TfidfVectorizer())  # not fitted


def boundary_tree() -> tuple[Any, np.ndarray]:
    """A one-split tree whose float64 threshold lies just below a float32 value, and the two
    float32 values either side of it: the nearest float32 to the threshold is the upper one."""
    from sklearn.tree import DecisionTreeClassifier

    low, high = np.float32(0.1), np.float32(0.3)
    while np.float64(np.float32((np.float64(low) + high) / 2)) <= (np.float64(low) + high) / 2:
        high = np.nextafter(high, np.float32(1))
    tree = DecisionTreeClassifier(random_state=0).fit(np.array([[low], [high]], dtype=np.float64), [0, 1])
    above = np.float32(tree.tree_.threshold[0])
    return tree, np.array([[np.nextafter(above, np.float32(0))], [above]], dtype=np.float64)


def test_a_tree_twin_splits_a_value_beside_the_threshold_as_scikit_learn_does() -> None:
    """The value just above the threshold rounds to its nearest float32: a float32 comparison
    with that would send it left, scikit-learn sends it right."""
    import onnxruntime
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import DoubleTensorType

    from motadata_ai.adapters.sklearn.onnx_trees import float32_trees

    tree, values = boundary_tree()
    assert tree.predict(values).tolist() == [0, 1]
    graph = convert_sklearn(
        tree,
        initial_types=[("x", DoubleTensorType([None, 1]))],
        options={id(tree): {"zipmap": False}},
        target_opset={"": 17, "ai.onnx.ml": 3},
    )
    float32_trees(graph.graph, tree)
    session = onnxruntime.InferenceSession(graph.SerializeToString(), providers=["CPUExecutionProvider"])
    _, probabilities = session.run(None, {"x": values})
    assert probabilities.dtype == np.float64
    np.testing.assert_array_equal(probabilities, tree.predict_proba(values))


def test_float32_split_is_the_float64_comparison_for_every_float32() -> None:
    from motadata_ai.adapters.sklearn.onnx_trees import float32_split

    rng = np.random.default_rng(3)
    thresholds = np.concatenate([rng.standard_normal(2000) * 10.0 ** rng.integers(-8, 8, 2000), [0.0, 1e39]])
    for threshold in thresholds:
        split = np.float32(float32_split(threshold))
        with np.errstate(over="ignore"):
            nearest = np.float32(threshold)
        for x in (nearest, *(np.nextafter(nearest, np.float32(side)) for side in (-np.inf, np.inf))):
            assert (np.float64(x) <= threshold) == (x <= split), (threshold, x)


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
    await ml.train(  # a TF-IDF setting the twin does not reproduce
        Dataset.from_records(make_records(), SCHEMA), model_name="m", hyperparameters=OTHER_TFIDF
    )
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

    feeds = _feeds([{"hours_open": None, "category": None}], TABULAR.features, {})
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

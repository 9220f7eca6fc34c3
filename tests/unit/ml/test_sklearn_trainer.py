"""SklearnTrainer: the direct serving transform, skops round trip and the type allow-list."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest
import skops.io as sio

from motadata_ai.adapters.sklearn import TRUSTED_TYPES, SklearnModel, SklearnTrainer, build_pipeline
from motadata_ai.adapters.sklearn.safety import declared_types
from motadata_ai.domain.ml.dataset import normalise_record, validate_dataset
from motadata_ai.domain.values.ml import Dataset
from motadata_ai.ports.ml import ArtifactRefused, UnknownEstimator, UnsafeArtifact

from .conftest import SCHEMA, features_of, make_records


async def fitted(estimator: str = "logistic_regression", **hyper: object) -> SklearnModel:
    rows, labels = validate_dataset(Dataset.from_records(make_records(150), SCHEMA))
    data = Dataset.from_records([r | {"escalated": y} for r, y in zip(rows, labels, strict=True)], SCHEMA)
    result = await SklearnTrainer().fit(
        data,
        estimator=estimator,
        hyperparameters=dict(hyper),
        validation_split=0.2,
        batch_size=32,
        seed=1,
        enable_gpu=False,
    )
    assert isinstance(result.model, SklearnModel)
    return result.model


def unseen_records() -> list[dict[str, object]]:
    records = features_of(make_records(30, seed=7))
    records += [
        {"hours_open": None, "category": "never-seen", "summary": ""},
        {"hours_open": 1e6, "category": None, "summary": "words nobody used before"},
    ]
    return [normalise_record(r, SCHEMA.features) for r in records]


@pytest.mark.parametrize("estimator", ["logistic_regression", "random_forest", "gradient_boosting", "sgd"])
async def test_direct_transform_matches_the_pipeline(estimator: str) -> None:
    model = await fitted(
        estimator, **({"n_estimators": 10} if "forest" in estimator or "boost" in estimator else {})
    )
    records = unseen_records()
    np.testing.assert_allclose(
        model.predict_proba(records), model.predict_proba_reference(records), atol=1e-9
    )


async def test_skops_round_trip_predicts_the_same() -> None:
    trainer = SklearnTrainer()
    model = await fitted("random_forest", n_estimators=10)
    data = await trainer.dumps(model)
    assert declared_types(data) <= TRUSTED_TYPES
    loaded = await trainer.loads(data)
    records = unseen_records()
    assert loaded.predict_proba(records) == model.predict_proba(records)
    assert loaded.classes == model.classes == ("no", "yes")
    assert loaded.size_bytes() > 10_000


def test_artifact_with_an_untrusted_type_is_refused() -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import FunctionTransformer

    pipeline = build_pipeline(SCHEMA, LogisticRegression())
    pipeline.steps.insert(0, ("log", FunctionTransformer(np.log1p)))
    data = sio.dumps({"pipeline": pipeline, "features": [["hours_open", "numeric"]]})
    with pytest.raises(UnsafeArtifact) as caught:
        SklearnTrainer()._loads_sync(data)
    assert any("FunctionTransformer" in t or "log1p" in t for t in caught.value.untrusted)


def test_schema_smuggling_an_unlisted_class_is_refused() -> None:
    from sklearn.linear_model import LogisticRegression

    data = sio.dumps({"pipeline": build_pipeline(SCHEMA, LogisticRegression()), "features": []})
    archive = zipfile.ZipFile(io.BytesIO(data))
    schema = json.loads(archive.read("schema.json"))
    schema["content"]["features"] = {"__class__": "system", "__module__": "os", "__loader__": "FunctionNode"}
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as rewritten:
        for name in archive.namelist():
            rewritten.writestr(name, json.dumps(schema) if name == "schema.json" else archive.read(name))
    with pytest.raises(UnsafeArtifact) as caught:
        SklearnTrainer()._loads_sync(out.getvalue())
    assert "os.system" in caught.value.untrusted


def test_garbage_bytes_are_refused() -> None:
    with pytest.raises(ArtifactRefused):
        SklearnTrainer()._loads_sync(b"\x80\x04definitely not a skops file")


async def test_unknown_estimator() -> None:
    with pytest.raises(UnknownEstimator):
        await SklearnTrainer().fit(
            Dataset.from_records(make_records(10), SCHEMA),
            estimator="svm",
            hyperparameters={},
            validation_split=0.2,
            batch_size=32,
            seed=1,
            enable_gpu=False,
        )

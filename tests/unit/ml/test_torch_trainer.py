"""TorchTrainer: tiny MLP training, reproducibility, CPU fallback, safetensors artifacts."""

from __future__ import annotations

import json
import struct
import warnings

import numpy as np
import pytest

from motadata_ai.adapters.torch import GpuUnavailableWarning, TabularEncoder, TorchModel, TorchTrainer
from motadata_ai.domain.ml.dataset import normalise_record, validate_dataset
from motadata_ai.domain.values.errors import ValidationError
from motadata_ai.domain.values.ml import Dataset
from motadata_ai.ports.ml import ArtifactRefused, FitResult

from .conftest import SCHEMA, features_of, make_records

TINY = {"hidden_sizes": [16], "max_epochs": 6, "patience": 2, "learning_rate": 0.01}


def training_set(n: int = 160) -> Dataset:
    rows, labels = validate_dataset(Dataset.from_records(make_records(n), SCHEMA))
    return Dataset.from_records([r | {"escalated": y} for r, y in zip(rows, labels, strict=True)], SCHEMA)


async def fit(seed: int = 0, enable_gpu: bool = False, **hyper: object) -> FitResult:
    return await TorchTrainer(num_threads=1).fit(
        training_set(),
        estimator="mlp",
        hyperparameters={**TINY, **hyper},
        validation_split=0.2,
        batch_size=32,
        seed=seed,
        enable_gpu=enable_gpu,
    )


def records() -> list[dict[str, object]]:
    return [normalise_record(r, SCHEMA.features) for r in features_of(make_records(20, seed=3))]


async def test_trains_reproducibly_and_round_trips_through_safetensors() -> None:
    first, second = await fit(seed=5), await fit(seed=5)
    assert first.model.predict_proba(records()) == second.model.predict_proba(records())
    assert first.parameters["epochs"] <= 6 and first.device == "cpu"
    trainer = TorchTrainer()
    data = await trainer.dumps(first.model)
    assert not data.startswith(b"\x80")  # no pickle protocol header
    loaded = await trainer.loads(data)
    assert isinstance(loaded, TorchModel)
    np.testing.assert_allclose(
        loaded.predict_proba(records()), first.model.predict_proba(records()), atol=1e-6
    )
    assert loaded.classes == ("no", "yes") and loaded.size_bytes() > 0


async def test_enable_gpu_without_cuda_warns_and_uses_cpu() -> None:
    import torch

    if torch.cuda.is_available():  # on a GPU machine the device must be CUDA instead
        result = await fit(enable_gpu=True)
        assert result.device.startswith("cuda")
        return
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = await fit(enable_gpu=True)
    assert result.device == "cpu"
    assert any(issubclass(w.category, GpuUnavailableWarning) for w in caught)
    assert "no CUDA device" in result.notes[0]


async def test_unknown_hyperparameter_is_refused() -> None:
    with pytest.raises(ValidationError):
        await fit(layers=3)


def _rewrite_metadata(data: bytes, **changes: str) -> bytes:
    (size,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + size])
    header["__metadata__"].update(changes)
    encoded = json.dumps(header).encode()
    encoded += b" " * (-len(encoded) % 8)
    return struct.pack("<Q", len(encoded)) + encoded + data[8 + size :]


async def test_foreign_or_inconsistent_artifacts_are_refused() -> None:
    trainer = TorchTrainer()
    data = await trainer.dumps((await fit()).model)
    with pytest.raises(ArtifactRefused):
        await trainer.loads(_rewrite_metadata(data, format="someone-else/9"))
    with pytest.raises(ArtifactRefused):
        await trainer.loads(
            _rewrite_metadata(
                data,
                architecture=json.dumps(
                    {"input_size": 3, "hidden_sizes": [16], "dropout": 0.1, "classes": 2}
                ),
            )
        )
    with pytest.raises(ArtifactRefused):
        await trainer.loads(b"garbage")


def test_encoder_state_is_json_and_matches_tfidf() -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer

    texts = ["disk full on server", "server down", "password reset for user", "disk slow"]
    encoder = TabularEncoder.fit([{"t": t} for t in texts], [("t", "text")])
    restored = TabularEncoder(json.loads(json.dumps(encoder.state)))
    reference = TfidfVectorizer().fit(texts)
    expected = reference.transform(texts).toarray()
    order = [restored.state["columns"][0]["vocabulary"].index(t) for t in reference.get_feature_names_out()]
    got = restored.transform([{"t": t} for t in texts])[:, order]
    np.testing.assert_allclose(got, expected, atol=1e-6)

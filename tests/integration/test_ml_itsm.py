"""The ML framework end to end on real stores: PostgreSQL registry, experiments and prediction log,
file-system artifacts, on the ITSM incident log (one row per incident, fields known at opening)."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from motadata_ai.adapters.filesystem import FilesystemArtifactStore
from motadata_ai.adapters.postgres.database import PostgresDatabase
from motadata_ai.adapters.postgres.ml import (
    PostgresExperimentStore,
    PostgresModelRegistry,
    PostgresPredictionLog,
)
from motadata_ai.adapters.sklearn import SklearnTrainer
from motadata_ai.adapters.torch import TorchTrainer
from motadata_ai.domain.ml import MLSystem
from motadata_ai.domain.values.ml import Dataset
from motadata_ai.ports.ml import ArtifactTampered, ModelNotFound, TrainingFailed

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples" / "ml"))
from itsm_data import SCHEMA, features, incident_rows

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture(scope="module")
def incidents() -> tuple[list[dict[str, Any]], list[str]]:
    return incident_rows()


@pytest_asyncio.fixture(loop_scope="session")
async def system_factory(pg_isolated_database: PostgresDatabase, tmp_path: Path) -> AsyncIterator[Any]:
    def make(tenant: str = "acme", **options: Any) -> MLSystem:
        return MLSystem(
            tenant=tenant,
            registry=PostgresModelRegistry(pg_isolated_database),
            experiments=PostgresExperimentStore(pg_isolated_database),
            artifacts=FilesystemArtifactStore(tmp_path / "artifacts"),
            prediction_log=PostgresPredictionLog(pg_isolated_database),
            trainers={"sklearn": SklearnTrainer(), "torch": TorchTrainer(num_threads=1)},
            log_sample_rate=1.0,
            **options,
        )

    yield make


async def test_itsm_train_promote_serve_after_restart(
    system_factory: Any, incidents: tuple[list[dict[str, Any]], list[str]], tmp_path: Path
) -> None:
    records, numbers = incidents
    dataset = Dataset.from_records(records, SCHEMA, groups=numbers)
    ml = system_factory()
    run = await ml.train(dataset, model_name="incident-sla", estimator="logistic_regression")
    assert run.status == "finished" and run.version == 1
    assert run.metrics["roc_auc"] > 0.6, run.metrics  # a real signal, above chance
    assert run.parameters["validation_rows"] + run.parameters["training_rows"] == len(records)
    await ml.promote("incident-sla", 1)
    queries = [features(r) for r in records[:20]]
    served = await ml.predict_batch("incident-sla", queries)

    restarted = system_factory()
    assert [m.model_name for m in await restarted.list_models()] == ["incident-sla"]
    again = await restarted.predict_batch("incident-sla", queries)
    # the restarted process serves the version's ONNX twin (a linear model over numeric and
    # categorical features): the same labels, probabilities within the twin's 1e-5
    assert (await restarted.get_version("incident-sla")).serving is not None
    assert [p.label for p in again] == [p.label for p in served]
    for new, old in zip(again, served, strict=True):
        assert new.probabilities is not None and old.probabilities is not None
        assert all(abs(new.probabilities[c] - old.probabilities[c]) <= 1e-5 for c in old.probabilities)
    assert (await restarted.get_run(run.run_id)).metrics == run.metrics
    drift = await restarted.drift_report("incident-sla")
    assert drift.sample_size == 40  # both processes logged their 20 predictions

    other = system_factory("globex")
    assert await other.list_models() == []
    with pytest.raises(ModelNotFound):
        await other.predict("incident-sla", queries[0])

    artifact = tmp_path / "artifacts" / "acme" / (run.artifact_key or "")
    data = bytearray(artifact.read_bytes())
    data[len(data) // 2] ^= 0x01
    artifact.write_bytes(bytes(data))
    with pytest.raises(ArtifactTampered):
        await system_factory().predict("incident-sla", queries[0])


async def test_failed_training_registers_nothing_in_postgres(
    system_factory: Any, incidents: tuple[list[dict[str, Any]], list[str]]
) -> None:
    records, numbers = incidents
    ml = system_factory()
    with pytest.raises(TrainingFailed):
        await ml.train(
            Dataset.from_records(records, SCHEMA, groups=numbers),
            model_name="broken",
            estimator="logistic_regression",
            hyperparameters={"C": -1.0},
        )
    assert await ml.list_models() == []
    [run] = await ml.list_runs()
    assert run.status == "failed" and run.version is None


async def test_torch_mlp_on_itsm_round_trips_through_the_registry(
    system_factory: Any, incidents: tuple[list[dict[str, Any]], list[str]]
) -> None:
    records, numbers = incidents
    ml = system_factory()
    run = await ml.train(
        Dataset.from_records(records, SCHEMA, groups=numbers),
        model_name="incident-sla-mlp",
        estimator="torch:mlp",
        hyperparameters={"hidden_sizes": [32], "max_epochs": 5, "patience": 2},
    )
    assert run.trainer == "torch" and run.device == "cpu"
    queries = [features(r) for r in records[:10]]
    first = await ml.predict_batch("incident-sla-mlp", queries, version=1)
    second = await system_factory().predict_batch("incident-sla-mlp", queries, version=1)
    for a, b in zip(first, second, strict=True):
        assert a.label == b.label
        assert a.probabilities == pytest.approx(b.probabilities, abs=1e-6)

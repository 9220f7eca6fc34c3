"""Small synthetic ITSM-like data and an MLSystem on in-memory stores."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest

from motadata_ai.adapters.memory.ml import (
    InMemoryArtifactStore,
    InMemoryExperimentStore,
    InMemoryModelRegistry,
    InMemoryPredictionLog,
)
from motadata_ai.adapters.sklearn import SklearnTrainer
from motadata_ai.domain.ml import MLSystem
from motadata_ai.domain.values.ml import Dataset, DatasetSchema

SCHEMA = DatasetSchema.of("escalated", hours_open="numeric", category="categorical", summary="text")

WORDS = {
    "yes": ["outage", "down", "critical", "production"],
    "no": ["password", "reset", "question", "howto"],
}


def make_records(n: int = 200, *, seed: int = 0, shift: float = 0.0) -> list[dict[str, Any]]:
    """Rows where ``escalated`` follows hours open, category and summary words (learnable)."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        category = rng.choice(["network", "hardware", "software"])
        hours = rng.gauss(5 + shift, 2)
        score = 0.4 * (hours - 5) + (1.0 if category == "network" else -0.3) + rng.gauss(0, 0.7)
        label = "yes" if score > 0 else "no"
        words = rng.sample(WORDS[label], 2) + rng.sample(WORDS["yes" if rng.random() < 0.2 else "no"], 1)
        rows.append(
            {
                "hours_open": None if rng.random() < 0.05 else round(hours, 2),
                "category": category,
                "summary": " ".join(words),
                "escalated": label,
            }
        )
    return rows


def features_of(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows without their target."""
    return [{k: v for k, v in r.items() if k != "escalated"} for r in rows]


@pytest.fixture
def dataset() -> Dataset:
    return Dataset.from_records(make_records(), SCHEMA)


class Stores:
    def __init__(self) -> None:
        self.registry = InMemoryModelRegistry()
        self.experiments = InMemoryExperimentStore()
        self.artifacts = InMemoryArtifactStore()
        self.log = InMemoryPredictionLog()


@pytest.fixture
def stores() -> Stores:
    return Stores()


@pytest.fixture
def make_system(stores: Stores) -> Callable[..., MLSystem]:
    def make(tenant: str = "tenant-a", **options: Any) -> MLSystem:
        options.setdefault("trainers", {"sklearn": SklearnTrainer()})
        return MLSystem(
            tenant=tenant,
            registry=options.pop("registry", stores.registry),
            experiments=options.pop("experiments", stores.experiments),
            artifacts=options.pop("artifacts", stores.artifacts),
            prediction_log=options.pop("prediction_log", stores.log),
            **options,
        )

    return make

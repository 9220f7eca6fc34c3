"""The ML framework through the public app object: ``connect(settings)`` then ``ai.ml(tenant)``,
on the services profile pointed at the real PostgreSQL (artifacts under the data directory)."""

from __future__ import annotations

from pathlib import Path

import pytest

from motadata_ai.adapters.memory.bus import InMemoryBus
from motadata_ai.api import connect
from motadata_ai.domain.values.bus import Envelope
from motadata_ai.domain.values.ml import Dataset
from motadata_ai.ports.ml import ModelNotFound
from motadata_ai.settings import Settings

from ..unit.ml.conftest import SCHEMA, features_of, make_records

pytestmark = pytest.mark.postgres


async def test_train_promote_predict_through_connect(postgres_dsn: str, tmp_path: Path) -> None:
    settings = Settings(profile="services", postgres_dsn=postgres_dsn, data_dir=tmp_path, max_memory_mb=64)
    model = f"escalation-{tmp_path.name}"
    async with connect(settings) as ai:
        ml = ai.ml("acme-app")
        assert ml is ai.ml("acme-app") and ml.max_memory_mb == 64
        events: list[Envelope] = []
        bus = ml._bus
        assert isinstance(bus, InMemoryBus)  # no NATS URL: the in-process bus

        async def collect(envelope: Envelope) -> None:
            events.append(envelope)

        await bus.subscribe("events.acme-app.ml.>", collect)
        run = await ml.train(Dataset.from_records(make_records(200), SCHEMA), model_name=model)
        await ml.promote(model, run.version or 0)
        first = await ml.predict(model, features_of(make_records(1, seed=3))[0])
        assert first.version == run.version
        assert list((tmp_path / "artifacts" / "acme-app").rglob("*.skops"))
        with pytest.raises(ModelNotFound):
            await ai.ml("globex-app").predict(model, features_of(make_records(1))[0])
        assert (await ml.health()).status == "ok"
    async with connect(settings) as again:
        restarted = again.ml("acme-app")
        assert [m.model_name for m in await restarted.list_models() if m.model_name == model] == [model]
        second = await restarted.predict(model, features_of(make_records(1, seed=3))[0])
        assert second.label == first.label and second.probabilities == first.probabilities
    assert {"ml.training_finished", "ml.version_promoted"} <= {e.type for e in events}

"""ML training through the app honours consent to 'training', with either consent store: the
in-memory one (memory profile) and PostgreSQL's (services profile). A dataset whose schema names a
user column trains only on the rows of users who consented (or, set to refuse, not at all)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from motadata_ai.adapters.memory.consent import InMemoryConsentStore
from motadata_ai.adapters.postgres.consent import PostgresConsentStore
from motadata_ai.api import AI, connect
from motadata_ai.domain.values.ml import Dataset, DatasetSchema
from motadata_ai.errors import ConsentRequired
from motadata_ai.settings import Settings

SCHEMA = DatasetSchema.of("made_sla", user_column="requester", category="categorical", hours="numeric")
USERS = ("bob", "alice", "carol")


def records(n: int) -> list[dict[str, Any]]:
    return [
        {
            "category": ["network", "software"][i % 2],
            "hours": float(i % 7),
            "made_sla": "yes" if (i // 3) % 2 else "no",
            "requester": USERS[i % 3],
        }
        for i in range(n)
    ]


@pytest.fixture(
    params=["memory", pytest.param("services", marks=pytest.mark.postgres)], ids=["memory", "postgres"]
)
def profile(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def settings_for(profile: str, tmp_path: Path, request: pytest.FixtureRequest, **privacy: Any) -> Settings:
    options: dict[str, Any] = {"profile": profile, "data_dir": tmp_path, "privacy": privacy}
    if profile == "services":
        options["postgres_dsn"] = request.getfixturevalue("postgres_dsn")
    return Settings(**options)


@pytest_asyncio.fixture
async def ai(profile: str, tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[AI]:
    async with connect(settings_for(profile, tmp_path, request), warm_up=False) as app:
        yield app


def tenant() -> str:
    return f"acme-{uuid.uuid4().hex[:8]}"


async def test_rows_of_users_without_training_consent_are_not_trained_on(ai: AI, profile: str) -> None:
    store = type(ai.port("consent_store"))
    assert store is (InMemoryConsentStore if profile == "memory" else PostgresConsentStore)
    acme = tenant()
    for user in ("bob", "alice"):
        await ai.consent.grant(tenant_id=acme, user_id=user, purpose="training")
    await ai.consent.revoke(tenant_id=acme, user_id="alice", purpose="training")
    ml = ai.ml(acme)
    run = await ml.train(Dataset.from_records(records(60), SCHEMA), model_name="sla")
    assert run.status == "finished"
    assert run.dataset_rows == 20  # bob's rows only: alice revoked, carol never consented
    assert run.parameters["rows_without_consent"] == 40
    assert run.parameters["user_column"] == "requester"
    version = await ml.get_version("sla", version=run.version)
    assert [f.name for f in version.signature] == ["category", "hours"]  # the user column is no feature


async def test_refuse_mode_trains_nothing_without_everyones_consent(
    profile: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    settings = settings_for(profile, tmp_path, request, training_without_consent="refuse")
    async with connect(settings, warm_up=False) as ai:
        acme = tenant()
        await ai.consent.grant(tenant_id=acme, user_id="bob", purpose="training")
        ml = ai.ml(acme)
        with pytest.raises(ConsentRequired) as caught:
            await ml.train(Dataset.from_records(records(60), SCHEMA), model_name="sla")
        assert caught.value.purpose == "training"
        assert await ml.list_runs() == []
        for user in ("alice", "carol"):
            await ai.consent.grant(tenant_id=acme, user_id=user, purpose="training")
        run = await ml.train(Dataset.from_records(records(60), SCHEMA), model_name="sla")
        assert (run.dataset_rows, run.parameters["rows_without_consent"]) == (60, 0)

"""Contracts of the ML stores: one suite per port that every adapter must pass.

Subclass in a module pytest collects (class name starting with ``Test``) and implement the
``make_*`` hook to return a fresh, empty store; adapters behind a server subclass the
``*ServerContract`` classes and implement ``make_unreachable_*`` to return one pointed at a server
that does not answer, with the password ``s3cret`` in its address::

    class TestMyRegistry(ModelRegistryContract):
        async def make_registry(self) -> ModelRegistryPort:
            return MyRegistry(...)

Suites: :class:`ModelRegistryContract`, :class:`ExperimentStoreContract`,
:class:`ArtifactStoreContract` (plus its ``corrupt`` hook), :class:`PredictionLogContract`.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from motadata_ai.domain.values.errors import InvalidTenant, StoreUnavailable
from motadata_ai.domain.values.ml import (
    CategoricalProfile,
    FeatureProfile,
    FeatureSpec,
    ModelVersion,
    NumericProfile,
    PredictionLogEntry,
    TrainingRun,
)
from motadata_ai.ports.ml import (
    AliasNotFound,
    ArtifactNotFound,
    ArtifactStorePort,
    ArtifactTampered,
    ExperimentStorePort,
    ModelNotFound,
    ModelRegistryPort,
    PredictionLogPort,
    RunNotFound,
    VersionNotFound,
)
from motadata_ai.testing.contracts.health import assert_probe_answers, assert_probe_reports_down

__all__ = [
    "SECRET",
    "ArtifactStoreContract",
    "ExperimentStoreContract",
    "ExperimentStoreServerContract",
    "ModelRegistryContract",
    "ModelRegistryServerContract",
    "PredictionLogContract",
    "sample_run",
    "sample_version",
]

SECRET = "s3cret"
TENANT_A = "tenant-a"
TENANT_B = "tenant-b"


def sample_version(
    tenant_id: str = TENANT_A, model_name: str = "priority", run_id: str = "run-1"
) -> ModelVersion:
    """An unnumbered version as the ML system registers it."""
    return ModelVersion(
        tenant_id=tenant_id,
        model_name=model_name,
        run_id=run_id,
        trainer="sklearn",
        estimator="logistic_regression",
        signature=(
            FeatureSpec(name="category", type="categorical"),
            FeatureSpec(name="hour", type="numeric"),
        ),
        target="made_sla",
        classes=("False", "True"),
        artifact_key=f"models/{model_name}/{run_id}.skops",
        artifact_sha256=hashlib.sha256(run_id.encode()).hexdigest(),
        artifact_format="skops",
        artifact_size=123,
        metrics={"accuracy": 0.75, "f1_macro": 0.7},
        reference=(
            FeatureProfile(
                name="category",
                type="categorical",
                categorical=CategoricalProfile(proportions={"a": 0.5, "b": 0.5}),
            ),
            FeatureProfile(
                name="hour",
                type="numeric",
                numeric=NumericProfile(edges=(1.0, 2.0), proportions=(0.2, 0.3, 0.5), sample=(0.5, 1.5, 3.0)),
            ),
        ),
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


def sample_run(
    tenant_id: str = TENANT_A, run_id: str = "run-1", model_name: str = "priority", minutes: int = 0
) -> TrainingRun:
    """A finished run started ``minutes`` after a fixed instant."""
    return TrainingRun(
        run_id=run_id,
        tenant_id=tenant_id,
        model_name=model_name,
        trainer="sklearn",
        estimator="random_forest",
        status="finished",
        parameters={"seed": 42, "hyperparameters": {"n_estimators": 50}},
        metrics={"accuracy": 0.8, "f1_macro": 0.75},
        dataset_hash="ab" * 32,
        dataset_rows=100,
        code_version="motadata-ai-sdk==0.1.0",
        started_at=datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=minutes),
        duration_s=1.5,
        version=1,
    )


class ModelRegistryContract:
    """Behaviour every :class:`ModelRegistryPort` adapter shares."""

    async def make_registry(self) -> ModelRegistryPort:
        """A fresh, empty registry."""
        raise NotImplementedError

    async def test_starts_empty(self) -> None:
        registry = await self.make_registry()
        assert await registry.list_models(TENANT_A) == []
        with pytest.raises(ModelNotFound):
            await registry.list_versions(TENANT_A, "priority")

    async def test_register_numbers_versions_per_model(self) -> None:
        registry = await self.make_registry()
        first = await registry.register(sample_version(run_id="r1"))
        second = await registry.register(sample_version(run_id="r2"))
        other = await registry.register(sample_version(model_name="sla", run_id="r3"))
        assert (first.version, second.version, other.version) == (1, 2, 1)
        assert [v.run_id for v in await registry.list_versions(TENANT_A, "priority")] == ["r1", "r2"]

    async def test_get_version_round_trips_every_field(self) -> None:
        registry = await self.make_registry()
        registered = await registry.register(sample_version())
        loaded = await registry.get_version(TENANT_A, "priority", registered.version)
        assert loaded == registered
        assert loaded.reference[1].numeric is not None
        assert loaded.reference[1].numeric.sample == (0.5, 1.5, 3.0)

    async def test_unknown_model_version_and_alias_are_typed_errors(self) -> None:
        registry = await self.make_registry()
        with pytest.raises(ModelNotFound) as unknown:
            await registry.get_version(TENANT_A, "nope", 1)
        assert not isinstance(unknown.value, VersionNotFound)
        await registry.register(sample_version())
        with pytest.raises(VersionNotFound):
            await registry.get_version(TENANT_A, "priority", 7)
        with pytest.raises(AliasNotFound):
            await registry.resolve_alias(TENANT_A, "priority", "champion")
        with pytest.raises(ModelNotFound):
            await registry.resolve_alias(TENANT_A, "nope", "champion")
        with pytest.raises(VersionNotFound):
            await registry.set_alias(TENANT_A, "priority", "champion", 9)

    async def test_alias_promotion_and_rollback(self) -> None:
        registry = await self.make_registry()
        for run in ("r1", "r2", "r3"):
            await registry.register(sample_version(run_id=run))
        change = await registry.set_alias(TENANT_A, "priority", "champion", 1)
        assert (change.previous, change.current) == (None, 1)
        await registry.set_alias(TENANT_A, "priority", "champion", 2)
        change = await registry.set_alias(TENANT_A, "priority", "champion", 3)
        assert (change.previous, change.current) == (2, 3)
        assert (await registry.resolve_alias(TENANT_A, "priority", "champion")).run_id == "r3"
        await registry.set_alias(TENANT_A, "priority", "challenger", 1)
        [summary] = await registry.list_models(TENANT_A)
        assert summary.aliases == {"challenger": 1, "champion": 3}
        assert (summary.latest_version, summary.versions) == (3, 3)
        change = await registry.rollback_alias(TENANT_A, "priority", "champion")
        assert (change.previous, change.current) == (3, 2)
        assert (await registry.resolve_alias(TENANT_A, "priority", "champion")).version == 2
        await registry.rollback_alias(TENANT_A, "priority", "champion")
        assert (await registry.resolve_alias(TENANT_A, "priority", "champion")).version == 1
        with pytest.raises(AliasNotFound):
            await registry.rollback_alias(TENANT_A, "priority", "champion")
        assert (await registry.resolve_alias(TENANT_A, "priority", "champion")).version == 1

    async def test_promoting_the_current_target_again_changes_nothing(self) -> None:
        registry = await self.make_registry()
        await registry.register(sample_version(run_id="r1"))
        await registry.register(sample_version(run_id="r2"))
        await registry.set_alias(TENANT_A, "priority", "champion", 1)
        await registry.set_alias(TENANT_A, "priority", "champion", 2)
        change = await registry.set_alias(TENANT_A, "priority", "champion", 2)
        assert (change.previous, change.current) == (2, 2)
        assert (await registry.rollback_alias(TENANT_A, "priority", "champion")).current == 1

    async def test_concurrent_registrations_get_distinct_numbers(self) -> None:
        registry = await self.make_registry()
        versions = await asyncio.gather(
            *(registry.register(sample_version(run_id=f"r{i}")) for i in range(6))
        )
        assert sorted(v.version for v in versions) == [1, 2, 3, 4, 5, 6]

    async def test_tenant_isolation(self) -> None:
        registry = await self.make_registry()
        registered = await registry.register(sample_version(tenant_id=TENANT_A))
        await registry.set_alias(TENANT_A, "priority", "champion", registered.version)
        assert await registry.list_models(TENANT_B) == []
        with pytest.raises(ModelNotFound):
            await registry.get_version(TENANT_B, "priority", registered.version)
        with pytest.raises(ModelNotFound):
            await registry.resolve_alias(TENANT_B, "priority", "champion")
        with pytest.raises(ModelNotFound):
            await registry.set_alias(TENANT_B, "priority", "champion", registered.version)
        mine = await registry.register(sample_version(tenant_id=TENANT_B))
        assert mine.version == 1
        assert (await registry.resolve_alias(TENANT_A, "priority", "champion")).tenant_id == TENANT_A

    async def test_a_reachable_registry_answers_ping(self) -> None:
        assert await (await self.make_registry()).ping() is True

    async def test_invalid_tenant_is_refused(self) -> None:
        registry = await self.make_registry()
        with pytest.raises(InvalidTenant):
            await registry.list_models("bad tenant!")

    async def test_health_probe_answers(self) -> None:
        await assert_probe_answers(await self.make_registry())


class ExperimentStoreContract:
    """Behaviour every :class:`ExperimentStorePort` adapter shares."""

    async def make_store(self) -> ExperimentStorePort:
        """A fresh, empty experiment store."""
        raise NotImplementedError

    async def test_a_reachable_store_answers_ping(self) -> None:
        assert await (await self.make_store()).ping() is True

    async def test_starts_empty(self) -> None:
        store = await self.make_store()
        assert await store.list_runs(TENANT_A) == []
        with pytest.raises(RunNotFound):
            await store.get_run(TENANT_A, "run-1")

    async def test_save_and_get_round_trip(self) -> None:
        store = await self.make_store()
        run = sample_run()
        await store.save_run(run)
        assert await store.get_run(TENANT_A, "run-1") == run

    async def test_save_replaces_a_run_with_the_same_id(self) -> None:
        store = await self.make_store()
        await store.save_run(sample_run().model_copy(update={"status": "running", "metrics": {}}))
        await store.save_run(sample_run())
        runs = await store.list_runs(TENANT_A)
        assert len(runs) == 1
        assert runs[0].status == "finished"
        assert runs[0].metrics["f1_macro"] == 0.75

    async def test_list_newest_first_filtered_and_limited(self) -> None:
        store = await self.make_store()
        await store.save_run(sample_run(run_id="old", minutes=0))
        await store.save_run(sample_run(run_id="new", minutes=5))
        await store.save_run(sample_run(run_id="other", model_name="sla", minutes=3))
        assert [r.run_id for r in await store.list_runs(TENANT_A)] == ["new", "other", "old"]
        assert [r.run_id for r in await store.list_runs(TENANT_A, model_name="priority")] == ["new", "old"]
        assert [r.run_id for r in await store.list_runs(TENANT_A, limit=1)] == ["new"]

    async def test_a_run_keeps_its_trace_id_and_is_found_by_it(self) -> None:
        store = await self.make_store()
        traced = "4bf92f3577b34da6a3ce929d0e0e4736"
        await store.save_run(sample_run(run_id="traced").model_copy(update={"trace_id": traced}))
        await store.save_run(sample_run(run_id="untraced", minutes=1))
        other = sample_run(tenant_id=TENANT_B, run_id="traced")
        await store.save_run(other.model_copy(update={"trace_id": traced}))
        assert (await store.get_run(TENANT_A, "traced")).trace_id == traced
        assert [r.run_id for r in await store.list_runs(TENANT_A, trace_id=traced)] == ["traced"]
        assert [r.tenant_id for r in await store.list_runs(TENANT_B, trace_id=traced)] == [TENANT_B]
        assert await store.list_runs(TENANT_A, trace_id="0" * 32) == []

    async def test_tenant_isolation(self) -> None:
        store = await self.make_store()
        await store.save_run(sample_run(tenant_id=TENANT_A))
        assert await store.list_runs(TENANT_B) == []
        with pytest.raises(RunNotFound):
            await store.get_run(TENANT_B, "run-1")
        await store.save_run(sample_run(tenant_id=TENANT_B).model_copy(update={"status": "failed"}))
        assert (await store.get_run(TENANT_A, "run-1")).status == "finished"

    async def test_health_probe_answers(self) -> None:
        await assert_probe_answers(await self.make_store())


class ArtifactStoreContract:
    """Behaviour every :class:`ArtifactStorePort` adapter shares."""

    async def make_store(self) -> ArtifactStorePort:
        """A fresh, empty artifact store."""
        raise NotImplementedError

    async def corrupt(self, store: ArtifactStorePort, tenant_id: str, key: str) -> None:
        """Change one byte of a stored artifact behind the store's back."""
        raise NotImplementedError

    async def test_put_get_round_trip_with_sha256(self) -> None:
        store = await self.make_store()
        data = bytes(range(256)) * 10
        stored = await store.put(TENANT_A, "models/m/run-1.skops", data)
        assert stored.sha256 == hashlib.sha256(data).hexdigest()
        assert stored.size == len(data)
        assert await store.get(TENANT_A, stored.key, sha256=stored.sha256) == data

    async def test_missing_artifact_is_not_found(self) -> None:
        store = await self.make_store()
        with pytest.raises(ArtifactNotFound):
            await store.get(TENANT_A, "models/m/none.skops", sha256="0" * 64)

    async def test_wrong_digest_is_refused(self) -> None:
        store = await self.make_store()
        stored = await store.put(TENANT_A, "models/m/a.skops", b"payload")
        with pytest.raises(ArtifactTampered):
            await store.get(TENANT_A, stored.key, sha256=hashlib.sha256(b"other").hexdigest())

    async def test_one_changed_byte_is_refused(self) -> None:
        store = await self.make_store()
        stored = await store.put(TENANT_A, "models/m/a.skops", b"model bytes " * 100)
        await self.corrupt(store, TENANT_A, stored.key)
        with pytest.raises(ArtifactTampered) as caught:
            await store.get(TENANT_A, stored.key, sha256=stored.sha256)
        assert caught.value.fields["expected"] == stored.sha256

    async def test_overwrite_and_delete(self) -> None:
        store = await self.make_store()
        await store.put(TENANT_A, "models/m/a.skops", b"one")
        stored = await store.put(TENANT_A, "models/m/a.skops", b"two")
        assert await store.get(TENANT_A, stored.key, sha256=stored.sha256) == b"two"
        assert await store.delete(TENANT_A, stored.key) is True
        assert await store.delete(TENANT_A, stored.key) is False
        with pytest.raises(ArtifactNotFound):
            await store.get(TENANT_A, stored.key, sha256=stored.sha256)

    async def test_tenant_isolation(self) -> None:
        store = await self.make_store()
        stored = await store.put(TENANT_A, "models/m/a.skops", b"secret model")
        with pytest.raises(ArtifactNotFound):
            await store.get(TENANT_B, stored.key, sha256=stored.sha256)
        assert await store.delete(TENANT_B, stored.key) is False
        assert await store.get(TENANT_A, stored.key, sha256=stored.sha256) == b"secret model"

    async def test_invalid_tenant_is_refused(self) -> None:
        store = await self.make_store()
        with pytest.raises(InvalidTenant):
            await store.put("../escape", "models/m/a.skops", b"x")

    async def test_health_probe_answers(self) -> None:
        await assert_probe_answers(await self.make_store())


class PredictionLogContract:
    """Behaviour every :class:`PredictionLogPort` adapter shares."""

    async def make_log(self) -> PredictionLogPort:
        """A fresh, empty prediction log."""
        raise NotImplementedError

    @staticmethod
    def entry(tenant_id: str = TENANT_A, version: int = 1, n: int = 0) -> PredictionLogEntry:
        return PredictionLogEntry(
            tenant_id=tenant_id,
            model_name="priority",
            version=version,
            inputs={"category": f"c{n}", "hour": float(n)},
            label="True" if n % 2 else "False",
            created_at=datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=n),
        )

    async def test_starts_empty(self) -> None:
        log = await self.make_log()
        assert await log.recent(TENANT_A, "priority") == []

    async def test_recent_newest_first_with_version_filter_and_limit(self) -> None:
        log = await self.make_log()
        await log.append([self.entry(n=0), self.entry(n=1, version=2)])
        await log.append([self.entry(n=2)])
        recent = await log.recent(TENANT_A, "priority")
        assert [e.inputs["hour"] for e in recent] == [2.0, 1.0, 0.0]
        assert recent[0] == self.entry(n=2)
        assert [e.inputs["hour"] for e in await log.recent(TENANT_A, "priority", version=1)] == [2.0, 0.0]
        assert len(await log.recent(TENANT_A, "priority", limit=1)) == 1

    async def test_tenant_isolation(self) -> None:
        log = await self.make_log()
        await log.append([self.entry(tenant_id=TENANT_A)])
        assert await log.recent(TENANT_B, "priority") == []

    async def test_health_probe_answers(self) -> None:
        await assert_probe_answers(await self.make_log())
    async def test_a_users_entries_are_exported_and_erased_alone(self) -> None:
        log = await self.make_log()
        user = f"bob-{uuid.uuid4().hex[:8]}"
        mine = [self.entry(n=n).model_copy(update={"user_id": user}) for n in (0, 1)]
        other_tenant = self.entry(tenant_id=TENANT_B, n=2).model_copy(update={"user_id": user})
        await log.append([*mine, self.entry(n=3), other_tenant])
        assert await log.user_entries(TENANT_A, user) == mine
        assert await log.delete_user(TENANT_A, user) == 2
        assert await log.delete_user(TENANT_A, user) == 0
        assert await log.user_entries(TENANT_A, user) == []
        assert self.entry(n=3) in await log.recent(TENANT_A, "priority")
        assert await log.user_entries(TENANT_B, user) == [other_tenant]


class ModelRegistryServerContract(ModelRegistryContract):
    """The ModelRegistry contract plus error translation, for adapters behind a server."""

    async def make_unreachable_registry(self) -> ModelRegistryPort:
        """An adapter pointed at a server that does not answer, with the password ``s3cret`` in
        its address."""
        raise NotImplementedError

    async def test_unreachable_server_is_store_unavailable_with_masked_address(self) -> None:
        registry = await self.make_unreachable_registry()
        with pytest.raises(StoreUnavailable) as caught:
            await registry.list_models(TENANT_A)
        assert SECRET not in str(caught.value)
        assert SECRET not in str(caught.value.fields.get("address", ""))
        assert caught.value.fields.get("address")

    async def test_health_probe_reports_an_unreachable_server_down(self) -> None:
        await assert_probe_reports_down(await self.make_unreachable_registry(), secret=SECRET)


class ExperimentStoreServerContract(ExperimentStoreContract):
    """The ExperimentStore contract plus error translation, for adapters behind a server."""

    async def make_unreachable_store(self) -> ExperimentStorePort:
        """An adapter pointed at a server that does not answer, with the password ``s3cret`` in
        its address."""
        raise NotImplementedError

    async def test_unreachable_server_is_store_unavailable_with_masked_address(self) -> None:
        store = await self.make_unreachable_store()
        with pytest.raises(StoreUnavailable) as caught:
            await store.list_runs(TENANT_A)
        assert SECRET not in str(caught.value)
        assert caught.value.fields.get("address")

    async def test_health_probe_reports_an_unreachable_server_down(self) -> None:
        await assert_probe_reports_down(await self.make_unreachable_store(), secret=SECRET)

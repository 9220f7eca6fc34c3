"""The ML store contracts on the in-memory adapters and the file-system artifact store."""

from __future__ import annotations

import pytest

from motadata_ai.adapters.filesystem import FilesystemArtifactStore
from motadata_ai.adapters.memory.ml import (
    InMemoryArtifactStore,
    InMemoryExperimentStore,
    InMemoryModelRegistry,
    InMemoryPredictionLog,
)
from motadata_ai.domain.values.errors import InvalidTenant, ValidationError
from motadata_ai.ports.ml import (
    ArtifactKeyInvalid,
    ArtifactStorePort,
    ArtifactStoreUnavailable,
    ExperimentStorePort,
    ModelRegistryPort,
    PredictionLogPort,
)
from motadata_ai.testing.contracts.ml import (
    ArtifactStoreContract,
    ExperimentStoreContract,
    ModelRegistryContract,
    PredictionLogContract,
)


class TestInMemoryModelRegistry(ModelRegistryContract):
    async def make_registry(self) -> ModelRegistryPort:
        return InMemoryModelRegistry()


class TestInMemoryExperimentStore(ExperimentStoreContract):
    async def make_store(self) -> ExperimentStorePort:
        return InMemoryExperimentStore()


class TestInMemoryArtifactStore(ArtifactStoreContract):
    async def make_store(self) -> ArtifactStorePort:
        return InMemoryArtifactStore()

    async def corrupt(self, store: ArtifactStorePort, tenant_id: str, key: str) -> None:
        assert isinstance(store, InMemoryArtifactStore)
        store.corrupt(tenant_id, key, offset=7)


class TestInMemoryPredictionLog(PredictionLogContract):
    async def make_log(self) -> PredictionLogPort:
        return InMemoryPredictionLog()


class TestFilesystemArtifactStore(ArtifactStoreContract):
    @pytest.fixture(autouse=True)
    def _root(self, tmp_path: object) -> None:
        self.root = tmp_path

    async def make_store(self) -> ArtifactStorePort:
        return FilesystemArtifactStore(self.root)  # type: ignore[arg-type]

    async def corrupt(self, store: ArtifactStorePort, tenant_id: str, key: str) -> None:
        assert isinstance(store, FilesystemArtifactStore)
        path = store.root.joinpath(tenant_id, *key.split("/"))
        data = bytearray(path.read_bytes())
        data[7] ^= 0x01
        path.write_bytes(bytes(data))

    async def test_keys_cannot_escape_the_tenant_folder(self) -> None:
        store = await self.make_store()
        for key in ("../tenant-b/models/x.skops", "/etc/passwd", "models//x", "models/x y"):
            with pytest.raises(ValidationError):
                await store.put("tenant-a", key, b"x")

    async def test_tenant_dot_dot_cannot_write_outside_the_root(self) -> None:
        root = self.root / "artifacts"  # type: ignore[operator]
        store = FilesystemArtifactStore(root)
        for tenant in ("..", ".", "-", "acme\n"):
            with pytest.raises(InvalidTenant):
                await store.put(tenant, "models/sla/run-1.skops", b"x")
        assert not (self.root / "models").exists()  # type: ignore[operator]
        assert not root.exists() or list(root.iterdir()) == []

    async def test_paths_resolving_outside_the_tenant_folder_are_refused(self) -> None:
        root = self.root / "artifacts"  # type: ignore[operator]
        outside = self.root / "outside"  # type: ignore[operator]
        outside.mkdir()
        (root / "tenant-a").mkdir(parents=True)
        (root / "tenant-a" / "models").symlink_to(outside, target_is_directory=True)
        (root / "tenant-b").symlink_to(outside, target_is_directory=True)
        store = FilesystemArtifactStore(root)
        for tenant, key in (("tenant-a", "models/m/a.skops"), ("tenant-b", "models/m/a.skops")):
            with pytest.raises(ArtifactKeyInvalid) as caught:
                await store.put(tenant, key, b"x")
            assert caught.value.reason == "outside_root" and caught.value.field == "key"
            with pytest.raises(ArtifactKeyInvalid):
                await store.get(tenant, key, sha256="0" * 64)
            with pytest.raises(ArtifactKeyInvalid):
                await store.delete(tenant, key)
        assert list(outside.iterdir()) == []

    async def test_write_leaves_no_temporary_files(self) -> None:
        store = await self.make_store()
        assert isinstance(store, FilesystemArtifactStore)
        await store.put("tenant-a", "models/m/a.skops", b"x" * 1000)
        names = sorted(p.name for p in (store.root / "tenant-a" / "models" / "m").iterdir())
        assert names == ["a.skops"]

    async def test_unwritable_root_is_artifact_store_unavailable(self) -> None:
        blocker = self.root / "file"  # type: ignore[operator]
        blocker.write_bytes(b"not a directory")
        store = FilesystemArtifactStore(blocker)
        with pytest.raises(ArtifactStoreUnavailable) as caught:
            await store.put("tenant-a", "models/m/a.skops", b"x")
        assert caught.value.address == str(blocker)

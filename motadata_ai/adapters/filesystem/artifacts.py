"""FilesystemArtifactStore: artifacts in a local directory, one folder per tenant.

Writes are atomic (a temporary file in the same folder, fsynced, then renamed over the target);
every read re-hashes the bytes and refuses them unless they match the expected SHA-256. Every path
is resolved (symlinks followed) and refused with :class:`ArtifactKeyInvalid` unless it stays
inside the tenant's folder under the root.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import tempfile
import time
from pathlib import Path

from motadata_ai.domain.values.health import ComponentHealth
from motadata_ai.domain.values.tenancy import validate_tenant_id
from motadata_ai.ports.ml import (
    ArtifactKeyInvalid,
    ArtifactNotFound,
    ArtifactStorePort,
    ArtifactStoreUnavailable,
    ArtifactTampered,
    StoredArtifact,
)

_SEGMENT = re.compile(r"[A-Za-z0-9_.-]{1,128}")


class FilesystemArtifactStore(ArtifactStorePort):
    """``root/<tenant>/<key>`` on a local file system."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.address = str(self.root)

    async def health(self) -> ComponentHealth:
        """Whether the root directory exists (or can be created) and is writable."""
        started = time.perf_counter()
        details = {"probe": "access", "address": self.address}

        def writable() -> bool:
            self.root.mkdir(parents=True, exist_ok=True)
            return os.access(self.root, os.W_OK | os.X_OK)

        try:
            ok = await asyncio.to_thread(writable)
        except OSError as error:
            return ComponentHealth(
                status="down", details=details, error=f"{type(error).__name__}: {error.strerror}"
            )
        latency_ms = (time.perf_counter() - started) * 1000
        if not ok:
            return ComponentHealth(
                status="down", latency_ms=latency_ms, details=details, error="not writable"
            )
        return ComponentHealth(status="ok", latency_ms=latency_ms, details=details)

    def _path(self, tenant_id: str, key: str) -> Path:
        tenant = validate_tenant_id(tenant_id)
        segments = key.split("/") if isinstance(key, str) else []
        if not segments or any(_SEGMENT.fullmatch(s) is None or s in {".", ".."} for s in segments):
            raise ArtifactKeyInvalid(
                f"artifact key {key!r} must be '/'-separated segments of [A-Za-z0-9_.-]",
                field="key",
                key=key,
                tenant_id=tenant,
            )
        folder = self.root.joinpath(tenant).resolve()
        path = folder.joinpath(*segments).resolve()
        if folder.parent != self.root.resolve() or not path.is_relative_to(folder) or path == folder:
            raise ArtifactKeyInvalid(
                f"artifact key {key!r} of tenant {tenant!r} resolves outside the tenant's folder "
                f"under {self.address}",
                field="key",
                key=key,
                tenant_id=tenant,
                reason="outside_root",
            )
        return path

    async def put(self, tenant_id: str, key: str, data: bytes) -> StoredArtifact:
        """Write atomically; return the digest of what was written."""
        path = self._path(tenant_id, key)
        return await asyncio.to_thread(self._put_sync, path, key, bytes(data))

    def _put_sync(self, path: Path, key: str, data: bytes) -> StoredArtifact:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(temporary, path)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise ArtifactStoreUnavailable(
                f"cannot write artifact {key!r}: {exc}", address=self.address, key=key
            ) from exc
        return StoredArtifact(key=key, sha256=hashlib.sha256(data).hexdigest(), size=len(data))

    async def get(self, tenant_id: str, key: str, *, sha256: str) -> bytes:
        """Read and verify; :class:`ArtifactTampered` when the bytes changed."""
        path = self._path(tenant_id, key)
        try:
            data = await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError as exc:
            raise ArtifactNotFound(
                f"no artifact {key!r} for tenant {tenant_id!r}", tenant_id=tenant_id, key=key
            ) from exc
        except OSError as exc:
            raise ArtifactStoreUnavailable(
                f"cannot read artifact {key!r}: {exc}", address=self.address, key=key
            ) from exc
        actual = hashlib.sha256(data).hexdigest()
        if actual != sha256:
            raise ArtifactTampered(
                f"artifact {key!r} does not match its registered SHA-256; refusing to load it",
                tenant_id=tenant_id,
                key=key,
                expected=sha256,
                actual=actual,
                address=self.address,
            )
        return data

    async def delete(self, tenant_id: str, key: str) -> bool:
        """Remove the file."""
        path = self._path(tenant_id, key)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise ArtifactStoreUnavailable(
                f"cannot delete artifact {key!r}: {exc}", address=self.address, key=key
            ) from exc
        return True

    async def ping(self) -> bool:
        """``True`` when the root exists (or can be created) and is writable."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ArtifactStoreUnavailable(f"artifact root unusable: {exc}", address=self.address) from exc
        if not os.access(self.root, os.W_OK):
            raise ArtifactStoreUnavailable("artifact root is not writable", address=self.address)
        return True

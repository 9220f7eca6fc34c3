"""VectorStorePort: tenant-scoped chunk storage with dense and keyword search."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence

from motadata_ai.domain.values.errors import ServiceError, StoreUnavailable, ValidationError
from motadata_ai.domain.values.tenancy import TenantContext
from motadata_ai.domain.values.vectors import MetadataFilter, SearchHit, VectorRecord
from motadata_ai.ports.health import HealthProbe


class VectorStoreError(ServiceError):
    """The vector store failed."""


class VectorStoreUnavailable(VectorStoreError, StoreUnavailable):
    """The vector store cannot be reached; ``address`` names it with credentials masked."""


class DimensionMismatch(ValidationError):
    """A vector's length (``actual``) differs from the store's ``dimensions`` (``expected``):
    the embedding model and the store disagree, a developer mistake (not a store failure)."""

    expected: int | None = None
    actual: int | None = None


class VectorStorePort(HealthProbe):
    """Chunks with embeddings, every operation scoped to one tenant.

    A tenant never reads, lists, counts or deletes another tenant's records through any method.
    A document's chunks are written together with its version through
    :meth:`DocumentStorePort.write_version <motadata_ai.ports.documents.DocumentStorePort.write_version>`
    (one transaction); :meth:`upsert` is for records that no document version owns.
    """

    dimensions: int

    @abstractmethod
    async def upsert(self, tenant: TenantContext, records: Sequence[VectorRecord]) -> int:
        """Insert or replace records by id; every record's ``tenant_id`` must be the tenant's."""

    @abstractmethod
    async def delete(
        self,
        tenant: TenantContext,
        *,
        ids: Sequence[str] | None = None,
        document_id: str | None = None,
        filters: MetadataFilter | None = None,
    ) -> int:
        """Delete the tenant's records matching every given criterion; return how many."""

    @abstractmethod
    async def dense_search(
        self,
        tenant: TenantContext,
        vector: Sequence[float],
        *,
        top_k: int = 5,
        filters: MetadataFilter | None = None,
        min_score: float | None = None,
    ) -> list[SearchHit]:
        """Nearest records by cosine similarity (score = 1 - cosine distance), best first."""

    @abstractmethod
    async def keyword_search(
        self, tenant: TenantContext, query: str, *, top_k: int = 5, filters: MetadataFilter | None = None
    ) -> list[SearchHit]:
        """Full-text matches ranked by relevance, best first."""

    @abstractmethod
    async def count(self, tenant: TenantContext, *, filters: MetadataFilter | None = None) -> int:
        """How many records the tenant has (matching ``filters``)."""

    @abstractmethod
    async def get(self, tenant: TenantContext, ids: Sequence[str]) -> list[VectorRecord]:
        """The tenant's records with these ids (missing ids are left out)."""

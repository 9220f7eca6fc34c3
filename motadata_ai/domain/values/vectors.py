"""Value types of the vector store: chunk records, filters and hits."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from motadata_ai.domain.values.tenancy import TenantId

MetadataFilter = dict[str, Any]
"""Equality on metadata keys; a list value means 'any of'. Example: ``{"category": ["vpn", "mfa"]}``."""


class VectorRecord(BaseModel):
    """One embedded chunk of one document version, owned by one tenant."""

    model_config = ConfigDict(frozen=True)

    id: str
    tenant_id: TenantId
    document_id: str
    version: int = 1
    chunk_index: int = 0
    text: str
    embedding: tuple[float, ...]
    metadata: dict[str, Any] = Field(default_factory=dict)


class SearchHit(BaseModel):
    """A record and its score (cosine similarity for dense, rank score for keyword)."""

    model_config = ConfigDict(frozen=True)

    record: VectorRecord
    score: float

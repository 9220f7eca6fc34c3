"""Value types of the vector store: chunk records, filters and hits."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from pydantic import ConfigDict, Field

from motadata_ai.domain.values.base import ValueModel
from motadata_ai.domain.values.errors import ValidationError
from motadata_ai.domain.values.tenancy import TenantId

MetadataFilter = dict[str, Any]
"""Equality on metadata keys; a list value means 'any of'. Example: ``{"category": ["vpn", "mfa"]}``."""

_SCALARS = (str, int, float, bool)


def check_query_floats(vector: object, *, field: str) -> list[float]:
    """A query embedding as floats; refuse a string, a non-sequence, an element that is not a
    number, and NaN or infinite values, each as :class:`ValidationError` on ``field``."""
    if isinstance(vector, str | bytes | bytearray) or not isinstance(vector, Iterable):
        raise ValidationError(f"{field} must be a sequence of numbers", field=field)
    try:
        values = list(map(float, vector))
    except (TypeError, ValueError) as error:
        raise ValidationError(f"{field} must hold only numbers", field=field) from error
    if not all(map(math.isfinite, values)):
        raise ValidationError(f"{field} holds NaN or infinite values", field=field)
    return values


def check_filters(filters: MetadataFilter | None) -> MetadataFilter:
    """Refuse filters that are not ``{key: scalar | [scalars]}`` with non-empty string keys.

    Every vector store adapter calls this, so all refuse the same filters with the same
    :class:`ValidationError` (``field="filters"``): NaN and infinite numbers too, which equal
    nothing and have no JSON form.
    """
    if filters is None:
        return {}
    if not isinstance(filters, dict):
        raise ValidationError("filters must be a mapping of metadata key to value", field="filters")
    for key, value in filters.items():
        if not isinstance(key, str) or not key:
            raise ValidationError(f"filter key {key!r} must be a non-empty string", field="filters")
        values = value if isinstance(value, list | tuple) else [value]
        for item in values:
            if item is not None and not isinstance(item, _SCALARS):
                raise ValidationError(
                    f"filter {key!r} value {item!r} must be a string, number, boolean or null "
                    "(or a list of them, meaning any of)",
                    field="filters",
                    key=key,
                )
            if isinstance(item, float) and not math.isfinite(item):
                raise ValidationError(
                    f"filter {key!r} value {item!r} is not a finite number", field="filters", key=key
                )
    return filters


class VectorRecord(ValueModel):
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


class SearchHit(ValueModel):
    """A record and its score (cosine similarity for dense, rank score for keyword)."""

    model_config = ConfigDict(frozen=True)

    record: VectorRecord
    score: float

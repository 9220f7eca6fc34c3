"""What erasing and exporting one user's data across every store returns, and its error."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import ConfigDict, Field

from motadata_ai.domain.values.base import ValueModel
from motadata_ai.domain.values.errors import ServiceError
from motadata_ai.domain.values.tenancy import TenantId

__all__ = ["EXPORT_SCHEMA", "ErasureIncomplete", "ErasureReport", "RetentionReport", "UserExport"]

EXPORT_SCHEMA = "motadata-ai.user-export/1"
"""The ``schema`` of :class:`UserExport` documents (see docs/privacy.md)."""


class ErasureIncomplete(ServiceError):
    """Erasing a user stopped at ``store`` (which failed): run the erasure again to finish it.

    ``completed`` holds the counts of the stores already erased; nothing is reported as done.
    """

    store: str | None = None
    user_id: str | None = None
    completed: dict[str, int] | None = None


class ErasureReport(ValueModel):
    """How many items each store removed (or pseudonymised) for one user of one tenant.

    Keys of ``counts``: ``documents``, ``chunks``, ``conversation_turns``, ``memory`` (memories,
    session messages and checkpoints), ``cache_entries``, ``semantic_cache_entries``,
    ``usage_pseudonymised``, ``feedback``, ``audit_pseudonymised``, ``prediction_log``,
    ``consents``, ``bus_messages``. A second erasure of the same user reports zeros.
    """

    model_config = ConfigDict(frozen=True)

    tenant_id: TenantId
    user_id: str
    pseudonym: str
    counts: dict[str, int] = Field(default_factory=dict)
    erased_at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    @property
    def total(self) -> int:
        """Every item removed or pseudonymised."""
        return sum(self.counts.values())


class UserExport(ValueModel):
    """Everything held about one user of one tenant, per store (schema :data:`EXPORT_SCHEMA`).

    ``stores`` maps a store name (``documents``, ``conversations``, ``memories``,
    ``session_messages``, ``checkpoints``, ``usage``, ``feedback``, ``audit``, ``predictions``,
    ``consents``, ``cache_keys``) to the list of its records as JSON objects.
    """

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    schema_: str = Field(EXPORT_SCHEMA, alias="schema")
    tenant_id: TenantId
    user_id: str
    exported_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    stores: dict[str, list[dict[str, Any]]] = Field(default_factory=dict)

    def to_json(self) -> str:
        """The export as one JSON document."""
        return self.model_dump_json(by_alias=True, indent=2)


class RetentionReport(ValueModel):
    """What enforcing a tenant's retention periods deleted, per kind of data.

    Keys of ``counts``: ``conversation_turns``, ``session_messages``, ``memories``, ``audit``,
    ``usage`` (each present only when that period is set).
    """

    model_config = ConfigDict(frozen=True)

    tenant_id: TenantId
    counts: dict[str, int] = Field(default_factory=dict)
    cutoffs: dict[str, datetime] = Field(default_factory=dict)
    enforced_at: datetime = Field(default_factory=lambda: datetime.now(UTC))

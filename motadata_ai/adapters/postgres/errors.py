"""The PostgreSQL adapters' errors (no driver import, so :mod:`motadata_ai.errors` can export them)."""

from __future__ import annotations

from motadata_ai.domain.values.errors import ServiceError, StoreUnavailable

__all__ = ["EmbeddedPostgresError", "PostgresError", "PostgresUnavailable"]


class PostgresError(ServiceError):
    """A PostgreSQL operation failed for a reason other than reachability."""

    sqlstate: str | None = None


class PostgresUnavailable(StoreUnavailable):
    """PostgreSQL cannot be reached or refused the connection; ``address`` is masked."""


class EmbeddedPostgresError(StoreUnavailable):
    """The embedded PostgreSQL server could not be started; ``address`` names its data directory."""

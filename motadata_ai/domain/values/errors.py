"""The root of the SDK's error tree, its two branches, and the errors shared across the tree.

Every error the SDK raises on purpose is a :class:`MotadataError` and sits under exactly one of
two roots: a :class:`UsageError` (a developer mistake: fix the call, the input or the
configuration; retrying the same call never helps) or a :class:`ServiceError` (a runtime failure
of something outside the caller's control; retrying later may help). The whole tree is exported
from :mod:`motadata_ai.errors` (drawn there) and from ``motadata_ai``.

Every value type (:class:`~motadata_ai.domain.values.base.ValueModel`) turns pydantic's errors
into :class:`ValidationError` naming the field, so no pydantic error type leaves a public call.

Every error carries structured fields (``tenant_id``, ``model``, ``retry_after`` ...) besides its
message, declared on its class, so callers branch on data rather than on strings.
"""

from __future__ import annotations

from typing import Any


class MotadataError(Exception):
    """Base of every error the SDK raises on purpose.

    ``MotadataError(message, **fields)``: each field is kept in ``fields`` and set as an attribute;
    a class declares the fields it documents as annotated class attributes (default ``None``), so
    ``error.retry_after`` type-checks and reads ``None`` when the raiser did not know it.
    """

    message: str
    fields: dict[str, Any]
    tenant_id: str | None = None

    def __init__(self, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields
        self.__dict__.update(fields)

    def __str__(self) -> str:
        return self.message


class UsageError(MotadataError):
    """Root of the developer mistakes: the call, its input or the configuration is wrong.

    Retrying the same call never helps; fix it. Never also a :class:`ServiceError`.
    """


class ServiceError(MotadataError):
    """Root of the runtime failures of a dependency (provider, store, bus): retrying later may help.

    Never also a :class:`UsageError`.
    """


# --------------------------------------------------------------------------- developer mistakes


class ConfigurationError(UsageError):
    """A setting, provider or plugin is wrong or missing: fix the configuration.

    For a refused setting: ``setting`` is its dotted name (``rag.top_k``), ``env`` the environment
    variable it came from (``MOTADATA_TOP_K``; ``None`` for a keyword) and ``value`` the value shown.
    """

    setting: str | None = None
    env: str | None = None
    value: str | None = None


class ValidationError(UsageError, ValueError):
    """The caller passed input the SDK refuses (named by ``field``)."""

    field: str | None = None


class InvalidTenant(ValidationError):
    """The tenant id is empty, too long, holds characters outside ``[A-Za-z0-9_.-]`` or does not start
    with a letter or digit."""


class NotFound(UsageError, LookupError):
    """The named object does not exist for this tenant."""


# --------------------------------------------------------------------------- runtime failures


class StoreUnavailable(ServiceError):
    """A store (database, cache) cannot be reached; ``address`` has credentials masked."""

    address: str | None = None


class BudgetExceeded(ServiceError):
    """A spend limit ran out. The one class for every budget of the SDK:

    the gateway raises it when the tenant's ``period`` budget (``daily``/``monthly``) is spent
    (``spent_usd`` of ``budget_usd``; ``budget`` names it: ``tenant``, ``user:bob``, ``model:...``);
    an agent raises its subclass
    :class:`~motadata_ai.domain.values.agents.TaskBudgetExceeded` when one task's token or cost
    budget runs out (``spent_tokens``, ``spent_cost_usd``). ``except BudgetExceeded`` catches both.
    """

    period: str | None = None
    spent_usd: float | None = None
    budget_usd: float | None = None
    budget: str | None = None
    spent_tokens: int | None = None
    spent_cost_usd: float | None = None

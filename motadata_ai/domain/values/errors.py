"""The root of the SDK's error tree and the developer-mistake errors.

Error tree (each port module adds its own runtime branch)::

    MotadataError
    ├── ConfigurationError          developer mistake: settings, unknown plugin/provider
    │   └── MiniLMUnavailable (adapters.local)   the local model's package is missing
    ├── ValidationError             developer mistake: bad input (tenant id, empty messages, ...)
    │   ├── InvalidTenant
    │   └── InvalidToolArguments (agents.tools)  a model's tool arguments (told back to it)
    └── ServiceError                runtime failure of something outside the caller's control
        ├── ProviderError (ports.llm)          ├── StoreUnavailable (ports.*)
        │   └── ProviderUnavailable
        │       └── ProviderInvalidResponse    a 2xx answer with no usable completion
        └── BusError (ports.bus)               └── ... (gateway: RateLimited, CircuitOpen, ...)

Every value type (:class:`~motadata_ai.domain.values.base.ValueModel`) turns pydantic's errors
into :class:`ValidationError` naming the field, so no pydantic error type leaves a public call.

Every error carries structured fields (``tenant_id``, ``model``, ``retry_after`` ...) besides its
message, so callers branch on data rather than on strings.
"""

from __future__ import annotations

from typing import Any


class MotadataError(Exception):
    """Base of every error the SDK raises on purpose."""

    def __init__(self, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.message = message
        self.fields: dict[str, Any] = fields
        for key, value in fields.items():
            setattr(self, key, value)

    def __str__(self) -> str:
        return self.message


class ConfigurationError(MotadataError):
    """A setting, provider or plugin is wrong or missing: fix the configuration."""


class ValidationError(MotadataError, ValueError):
    """The caller passed input the SDK refuses (named by ``field``)."""


class InvalidTenant(ValidationError):
    """The tenant id is empty, too long, holds characters outside ``[A-Za-z0-9_.-]`` or does not start
    with a letter or digit."""


class ServiceError(MotadataError):
    """A runtime failure of a dependency (provider, store, bus): retrying later may help."""


class StoreUnavailable(ServiceError):
    """A store (database, cache) cannot be reached; ``address`` has credentials masked."""


class NotFound(MotadataError, LookupError):
    """The named object does not exist for this tenant."""

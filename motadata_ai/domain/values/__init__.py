"""Pure value types and errors shared by the domain and the ports (no I/O, no vendor SDK)."""

from motadata_ai.domain.values.errors import (
    ConfigurationError,
    InvalidTenant,
    MotadataError,
    NotFound,
    ServiceError,
    StoreUnavailable,
    ValidationError,
)
from motadata_ai.domain.values.tenancy import TenantContext, TenantId, validate_tenant_id

__all__ = [
    "ConfigurationError",
    "InvalidTenant",
    "MotadataError",
    "NotFound",
    "ServiceError",
    "StoreUnavailable",
    "TenantContext",
    "TenantId",
    "ValidationError",
    "validate_tenant_id",
]

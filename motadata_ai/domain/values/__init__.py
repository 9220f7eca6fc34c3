"""Pure value types and errors shared by the domain and the ports (no I/O, no vendor SDK)."""

from motadata_ai.domain.values.errors import (
    BudgetExceeded,
    ConfigurationError,
    InvalidTenant,
    MotadataError,
    NotFound,
    ServiceError,
    StoreUnavailable,
    UsageError,
    ValidationError,
)
from motadata_ai.domain.values.tenancy import TenantContext, TenantId, validate_tenant_id

__all__ = [
    "BudgetExceeded",
    "ConfigurationError",
    "InvalidTenant",
    "MotadataError",
    "NotFound",
    "ServiceError",
    "StoreUnavailable",
    "TenantContext",
    "TenantId",
    "UsageError",
    "ValidationError",
    "validate_tenant_id",
]

"""Tenant identity: the one validated value every tenant-scoped call takes."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, ConfigDict

from motadata_ai.domain.values.base import ValueModel
from motadata_ai.domain.values.errors import InvalidTenant, ValidationError

MAX_TENANT_ID_LENGTH = 64
TENANT_ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}"
"""What a tenant id is, matched whole (``re.fullmatch``): a letter or digit first, at most 64."""
_TENANT_RE = re.compile(TENANT_ID_PATTERN)


def validate_tenant_id(value: object) -> str:
    """Return ``value`` when it is a valid tenant id, else raise :class:`InvalidTenant`."""
    if not isinstance(value, str):
        raise InvalidTenant(
            f"tenant_id must be a string, got {type(value).__name__}", field="tenant_id", tenant_id=value
        )
    if not value:
        raise InvalidTenant("tenant_id must not be empty", field="tenant_id", tenant_id=value)
    if len(value) > MAX_TENANT_ID_LENGTH:
        raise InvalidTenant(
            f"tenant_id is {len(value)} characters long; at most {MAX_TENANT_ID_LENGTH} are allowed",
            field="tenant_id",
            tenant_id=value,
        )
    if _TENANT_RE.fullmatch(value) is None:
        raise InvalidTenant(
            f"tenant_id {value!r} holds characters outside [A-Za-z0-9_.-] or does not start with a letter "
            "or digit",
            field="tenant_id",
            tenant_id=value,
        )
    return value


def check_user_id(value: object) -> str | None:
    """``value`` when it is ``None`` or a string, else :class:`ValidationError` on ``user_id``
    (a context built without validation must not carry anything else)."""
    if value is not None and not isinstance(value, str):
        raise ValidationError(f"user_id must be a string, got {type(value).__name__}", field="user_id")
    return value


TenantId = Annotated[str, AfterValidator(validate_tenant_id)]
"""A tenant id, validated wherever a pydantic model or ``validate_tenant_id`` sees it."""


class TenantContext(ValueModel):
    """Who is asking: the tenant, and optionally the user inside it."""

    model_config = ConfigDict(frozen=True)

    tenant_id: TenantId
    user_id: str | None = None

    @classmethod
    def of(cls, tenant: TenantContext | str, user_id: str | None = None) -> TenantContext:
        """Accept a context or a bare tenant id (validated) and return a context."""
        if isinstance(tenant, TenantContext):
            return tenant if user_id is None or tenant.user_id == user_id else tenant.model_copy(
                update={"user_id": check_user_id(user_id)}
            )
        return cls(tenant_id=validate_tenant_id(tenant), user_id=check_user_id(user_id))

"""Consent of a user of a tenant to one purpose (``memory``, ``training``, ``analytics`` ...)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from pydantic import ConfigDict, Field, field_validator

from motadata_ai.domain.values.base import ValueModel
from motadata_ai.domain.values.errors import UsageError, ValidationError
from motadata_ai.domain.values.tenancy import TenantId

__all__ = ["PURPOSES", "ConsentRecord", "ConsentRequired", "validate_purpose"]

PURPOSES = ("memory", "training", "analytics")
"""The purposes the SDK itself checks; an application may use its own names too."""

_PURPOSE = re.compile(r"[a-z][a-z0-9_]{0,31}")


class ConsentRequired(UsageError):
    """The user has not granted (or has revoked) consent to ``purpose``: nothing was done."""

    purpose: str | None = None
    user_id: str | None = None


def validate_purpose(purpose: object) -> str:
    """``purpose`` when it is 1-32 characters of ``[a-z0-9_]`` starting with a letter, else
    :class:`ValidationError`."""
    if not isinstance(purpose, str) or _PURPOSE.fullmatch(purpose) is None:
        raise ValidationError(
            f"consent purpose {purpose!r:.40} must be 1-32 characters of [a-z0-9_], starting with a letter "
            f"(the SDK checks {', '.join(PURPOSES)})",
            field="purpose",
        )
    return purpose


class ConsentRecord(ValueModel):
    """Whether one user of one tenant consents to one purpose, and since when."""

    model_config = ConfigDict(frozen=True)

    tenant_id: TenantId
    user_id: str = Field(min_length=1, max_length=256)
    purpose: str
    granted: bool
    updated_at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    @field_validator("purpose")
    @classmethod
    def _check_purpose(cls, value: str) -> str:
        return validate_purpose(value)

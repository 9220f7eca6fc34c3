"""The versioned message envelope every bus message travels in."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import ConfigDict, Field

from motadata_ai.domain.values.base import ValueModel
from motadata_ai.domain.values.tenancy import TenantId

ENVELOPE_SCHEMA_VERSION = 1


class Envelope(ValueModel):
    """A bus message: schema version, tenant, type, payload; ``id`` de-duplicates redeliveries."""

    model_config = ConfigDict(frozen=True)

    schema_version: int = ENVELOPE_SCHEMA_VERSION
    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    tenant_id: TenantId
    type: str
    payload: dict[str, Any] = Field(default_factory=dict)
    correlation_id: str | None = None
    reply_to: str | None = None
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


class RetainedMessage(ValueModel):
    """A message the bus still retains: its ``subject``, its place in the bus (``sequence``,
    increasing in publish order) and its ``envelope``."""

    model_config = ConfigDict(frozen=True)

    subject: str
    sequence: int
    envelope: Envelope

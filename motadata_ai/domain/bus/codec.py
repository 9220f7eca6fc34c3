"""The one codec for bus messages: :func:`encode` an envelope to bytes, :func:`decode` it back.

Every bus adapter (in-memory and NATS) goes through this module, so a message is validated the
same way everywhere. :func:`decode` never lets garbage through: anything that is not a valid
envelope of a supported schema version, or whose tenant differs from the tenant its subject
carries, raises :class:`MalformedMessage` with a machine-readable ``reason``:

=========================  ===========================================================
``reason``                 meaning
=========================  ===========================================================
``too_large``              more than ``max_bytes`` bytes
``not_json``               not UTF-8 JSON
``not_an_object``          JSON, but not an object
``unsupported_version``    ``schema_version`` missing, not an integer, or not supported
``invalid_tenant``         ``tenant_id`` missing or not a valid tenant id
``invalid_envelope``       any other field fails validation
``tenant_mismatch``        envelope tenant differs from the subject's tenant
``invalid_subject``        the subject carries no valid tenant
=========================  ===========================================================
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic_core import PydanticSerializationError

from motadata_ai.domain.bus.subjects import InvalidSubject, tenant_of
from motadata_ai.domain.values.bus import ENVELOPE_SCHEMA_VERSION, Envelope
from motadata_ai.domain.values.errors import InvalidTenant, ValidationError

SUPPORTED_SCHEMA_VERSIONS = frozenset({ENVELOPE_SCHEMA_VERSION})
"""Envelope schema versions this codec decodes."""

DEFAULT_MAX_BYTES = 1024 * 1024
"""Largest encoded message accepted (NATS' default ``max_payload``)."""


class MalformedMessage(ValidationError):
    """A bus message is not a valid envelope for its subject.

    Fields: ``reason`` (see the module table), ``subject`` (when known), ``envelope_id`` and
    ``tenant_id`` (when they could be read).
    """


@dataclass(frozen=True)
class Rejection:
    """A message a consumer dropped without delivering it: what, where and why (for audit)."""

    subject: str
    reason: str
    detail: str
    envelope_id: str | None = None
    tenant_id: str | None = None
    at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @classmethod
    def of(cls, subject: str, error: MalformedMessage) -> Rejection:
        """The rejection record for ``error`` raised while decoding a message on ``subject``."""
        return cls(
            subject=subject,
            reason=str(error.fields.get("reason", "invalid_envelope")),
            detail=error.message,
            envelope_id=_str_or_none(error.fields.get("envelope_id")),
            tenant_id=_str_or_none(error.fields.get("tenant_id")),
        )


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


def encode(envelope: Envelope, *, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """The wire form of ``envelope`` (UTF-8 JSON).

    Raises :class:`MalformedMessage` (``reason="too_large"``) when it exceeds ``max_bytes`` and
    ``reason="invalid_envelope"`` when its payload is not JSON-serialisable.
    """
    if not isinstance(envelope, Envelope):
        raise MalformedMessage(
            f"expected an Envelope, got {type(envelope).__name__}", reason="invalid_envelope"
        )
    try:
        data = envelope.model_dump_json().encode()
    except (PydanticSerializationError, TypeError, ValueError) as e:
        raise MalformedMessage(
            f"envelope {envelope.id} payload is not JSON-serialisable: {e}",
            reason="invalid_envelope",
            envelope_id=envelope.id,
            tenant_id=envelope.tenant_id,
        ) from e
    if len(data) > max_bytes:
        raise MalformedMessage(
            f"envelope {envelope.id} is {len(data)} bytes encoded; at most {max_bytes} are allowed",
            reason="too_large",
            envelope_id=envelope.id,
            tenant_id=envelope.tenant_id,
        )
    return data


def decode(data: bytes, *, subject: str | None = None, max_bytes: int = DEFAULT_MAX_BYTES) -> Envelope:
    """The envelope in ``data``; when ``subject`` is given its tenant must match the envelope's.

    Raises :class:`MalformedMessage` for anything else (see the module table for ``reason``).
    """
    if len(data) > max_bytes:
        raise MalformedMessage(
            f"message of {len(data)} bytes exceeds the {max_bytes}-byte limit", reason="too_large",
            subject=subject,
        )
    try:
        raw: Any = json.loads(data)
    except (UnicodeDecodeError, ValueError) as e:
        raise MalformedMessage(
            f"message is not UTF-8 JSON: {e}", reason="not_json", subject=subject
        ) from e
    if not isinstance(raw, dict):
        raise MalformedMessage(
            f"message is JSON {type(raw).__name__}, not an object", reason="not_an_object", subject=subject
        )
    envelope_id = _str_or_none(raw.get("id"))
    raw_tenant = raw.get("tenant_id")
    version = raw.get("schema_version")
    if type(version) is not int or version not in SUPPORTED_SCHEMA_VERSIONS:
        raise MalformedMessage(
            f"envelope schema_version {version!r} is not supported (supported: "
            f"{sorted(SUPPORTED_SCHEMA_VERSIONS)})",
            reason="unsupported_version",
            subject=subject,
            envelope_id=envelope_id,
            tenant_id=_str_or_none(raw_tenant),
        )
    try:
        envelope = Envelope.model_validate(raw)
    except ValidationError as e:  # the value type raises the SDK's error (InvalidTenant for the tenant)
        tenant_bad = isinstance(e, InvalidTenant) or str(e.fields.get("field") or "").startswith("tenant_id")
        raise MalformedMessage(
            f"message is not a valid envelope: {e}",
            reason="invalid_tenant" if tenant_bad else "invalid_envelope",
            subject=subject,
            envelope_id=envelope_id,
            tenant_id=_str_or_none(raw_tenant),
        ) from e
    if subject is not None:
        check_route(subject, envelope)
    return envelope


def check_route(subject: str, envelope: Envelope) -> None:
    """Raise :class:`MalformedMessage` unless ``envelope`` belongs to the tenant ``subject`` carries."""
    try:
        subject_tenant = tenant_of(subject)
    except InvalidSubject as e:
        raise MalformedMessage(
            str(e), reason="invalid_subject", subject=subject, envelope_id=envelope.id,
            tenant_id=envelope.tenant_id,
        ) from e
    if subject_tenant != envelope.tenant_id:
        raise MalformedMessage(
            f"envelope {envelope.id} of tenant {envelope.tenant_id!r} arrived on subject {subject!r} of "
            f"tenant {subject_tenant!r}",
            reason="tenant_mismatch",
            subject=subject,
            envelope_id=envelope.id,
            tenant_id=envelope.tenant_id,
        )

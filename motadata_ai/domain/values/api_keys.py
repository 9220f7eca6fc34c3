"""Virtual API keys: per-tenant credentials of the HTTP gateway, stored hashed (pure: stdlib only).

A key reads ``mk-<id>_<secret>``: ``<id>`` is 16 lowercase hex digits (the lookup key, safe to
list and log), ``<secret>`` 43 URL-safe characters from :func:`secrets.token_urlsafe` (256 bits).
Only the SHA-256 of the secret is stored; a presented key is found by its id and accepted when the
hash of its secret equals the stored one under :func:`hmac.compare_digest` (constant time). The
whole key is shown once, when it is created.

Each key belongs to one tenant, optionally to one user, and may carry its own policy: a model
allow-list, a request rate and a spend budget (:class:`APIKey`). A key that is missing, malformed,
unknown or revoked raises :class:`InvalidAPIKey` (HTTP 401); a key asking for another tenant's
data raises :class:`TenantMismatch` (HTTP 403).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from datetime import UTC, datetime

from pydantic import ConfigDict, Field

from motadata_ai.domain.values.base import ValueModel
from motadata_ai.domain.values.errors import UsageError
from motadata_ai.domain.values.tenancy import TenantId

__all__ = [
    "KEY_ID_PATTERN",
    "KEY_PREFIX",
    "APIKey",
    "InvalidAPIKey",
    "IssuedKey",
    "TenantMismatch",
    "check_key_id",
    "hash_secret",
    "issue_key",
    "parse_key_token",
    "secret_matches",
]

KEY_PREFIX = "mk-"
KEY_ID_PATTERN = r"[0-9a-f]{16}"
_TOKEN = re.compile(rf"{KEY_PREFIX}(?P<id>{KEY_ID_PATTERN})_(?P<secret>[A-Za-z0-9_-]{{43}})")
_KEY_ID = re.compile(KEY_ID_PATTERN)


class InvalidAPIKey(UsageError):
    """The request's API key is missing, malformed, unknown or revoked (HTTP 401).

    ``key_id`` is the presented key's id when it could be read (never the secret).
    """

    key_id: str | None = None


class TenantMismatch(UsageError):
    """The API key belongs to ``tenant_id`` but the request names ``requested_tenant`` (HTTP 403)."""

    requested_tenant: str | None = None


class APIKey(ValueModel):
    """One virtual key as stored: who it speaks for, its own policy, and its spend so far.

    ``allowed_models`` (``None``: any model the gateway serves), ``requests_per_minute`` (``None``:
    only the tenant's limits apply) and ``budget_usd`` (``None``: no budget of its own) are the
    key's policy. ``secret_hash`` is the SHA-256 hex digest of the secret, never the secret.
    """

    model_config = ConfigDict(frozen=True)

    id: str = Field(pattern=rf"^{KEY_ID_PATTERN}$")
    tenant_id: TenantId
    user_id: str | None = Field(None, min_length=1, max_length=256)
    name: str = Field("", max_length=200)
    allowed_models: tuple[str, ...] | None = None
    requests_per_minute: int | None = Field(None, ge=1)
    budget_usd: float | None = Field(None, ge=0)
    spent_usd: float = Field(0.0, ge=0)
    created_at: datetime
    revoked_at: datetime | None = None
    secret_hash: str = Field(pattern=r"^[0-9a-f]{64}$", repr=False)

    @property
    def revoked(self) -> bool:
        """Whether the key was revoked."""
        return self.revoked_at is not None


class IssuedKey(ValueModel):
    """A key just created: the stored record and the whole key, which is shown only this once."""

    model_config = ConfigDict(frozen=True)

    key: APIKey
    token: str = Field(repr=False)


def hash_secret(secret: str) -> str:
    """The SHA-256 hex digest of a key's secret (what is stored)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(key: APIKey, secret: str) -> bool:
    """Whether ``secret`` is ``key``'s secret, compared in constant time."""
    return hmac.compare_digest(hash_secret(secret), key.secret_hash)


def parse_key_token(token: str | None) -> tuple[str, str]:
    """``(key_id, secret)`` of a presented key, or :class:`InvalidAPIKey` when it is not one."""
    if not token:
        raise InvalidAPIKey("an API key is required: send 'Authorization: Bearer mk-...'")
    match = _TOKEN.fullmatch(token)
    if match is None:
        raise InvalidAPIKey("the API key is malformed (expected mk-<16 hex>_<43 characters>)")
    return match["id"], match["secret"]


def check_key_id(key_id: str) -> str:
    """``key_id`` when it is a key id (16 lowercase hex digits), else :class:`InvalidAPIKey`."""
    if not isinstance(key_id, str) or _KEY_ID.fullmatch(key_id) is None:
        raise InvalidAPIKey(f"{key_id!r} is not a key id (16 lowercase hex digits)", key_id=None)
    return key_id


def issue_key(
    tenant_id: str,
    *,
    user_id: str | None = None,
    name: str = "",
    allowed_models: tuple[str, ...] | list[str] | None = None,
    requests_per_minute: int | None = None,
    budget_usd: float | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    token_hex: Callable[[int], str] = secrets.token_hex,
    token_urlsafe: Callable[[int], str] = secrets.token_urlsafe,
) -> IssuedKey:
    """A new key for ``tenant_id`` with its policy (randomness and clock injectable)."""
    key_id = token_hex(8)
    secret = token_urlsafe(32)
    key = APIKey(
        id=key_id,
        tenant_id=tenant_id,
        user_id=user_id,
        name=name,
        allowed_models=tuple(allowed_models) if allowed_models is not None else None,
        requests_per_minute=requests_per_minute,
        budget_usd=budget_usd,
        created_at=now(),
        secret_hash=hash_secret(secret),
    )
    return IssuedKey(key=key, token=f"{KEY_PREFIX}{key_id}_{secret}")

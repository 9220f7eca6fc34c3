"""Keyed pseudonyms: what an erased user's id becomes on the records kept for billing and audit.

``pseudonym(key, tenant_id, user_id)`` is ``anon-`` and 24 hex digits of HMAC-SHA256 over the
tenant and user under ``key``. With a fixed key (``MOTADATA_PRIVACY__PSEUDONYM_KEY``) one user's
records keep one pseudonym, so usage still adds up per (unknown) user; without the key nobody can
go back from the pseudonym to the id. Without a configured key a random one is drawn per process,
so the pseudonyms of two processes link nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

__all__ = ["PSEUDONYM_PREFIX", "is_pseudonym", "pseudonym", "random_key"]

PSEUDONYM_PREFIX = "anon-"


def random_key() -> bytes:
    """A fresh 32-byte key."""
    return secrets.token_bytes(32)


def pseudonym(key: bytes, tenant_id: str, user_id: str) -> str:
    """The pseudonym of ``user_id`` in ``tenant_id`` under ``key``."""
    digest = hmac.new(key, f"{tenant_id}\x00{user_id}".encode(), hashlib.sha256).hexdigest()
    return PSEUDONYM_PREFIX + digest[:24]


def is_pseudonym(value: str | None) -> bool:
    """Whether ``value`` looks like a pseudonym this module makes."""
    return (
        isinstance(value, str)
        and value.startswith(PSEUDONYM_PREFIX)
        and len(value) == len(PSEUDONYM_PREFIX) + 24
        and all(c in "0123456789abcdef" for c in value[len(PSEUDONYM_PREFIX) :])
    )

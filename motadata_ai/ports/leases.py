"""LeasePort: short, owned leases on a key and the hand-over of the lease holder's result.

The gateway de-duplicates identical in-flight requests across every instance sharing a store: the
first instance to :meth:`~LeasePort.acquire` the lease on a request's key calls the provider,
keeps the lease alive with :meth:`~LeasePort.extend` while it waits, and hands its answer over with
:meth:`~LeasePort.release` (the result is stored and the lease dropped in one step, so a waiting
instance never sees the lease gone before the result is there). The others poll
:meth:`~LeasePort.result`, and try :meth:`~LeasePort.acquire` again: a holder that died stops
extending its lease, which then expires and passes to one of them.

Keys follow the SDK's scheme (:mod:`motadata_ai.domain.values.keys`; tenant first, so a Redis
Cluster keeps a lease and its result in one slot); a key outside it is a
:class:`~motadata_ai.domain.values.errors.ValidationError`.
"""

from __future__ import annotations

from abc import abstractmethod

from motadata_ai.domain.values import keys
from motadata_ai.domain.values.errors import ServiceError, StoreUnavailable, ValidationError
from motadata_ai.ports.health import HealthProbe

__all__ = ["LeaseError", "LeasePort", "LeaseUnavailable", "check_lease_key", "check_owner", "check_seconds"]

MAX_OWNER_LENGTH = 128
"""Longest owner token accepted (characters)."""


class LeaseError(ServiceError):
    """The lease store failed."""


class LeaseUnavailable(LeaseError, StoreUnavailable):
    """The lease store cannot be reached; ``address`` names it with credentials masked."""


def check_lease_key(key: object) -> str:
    """``key`` when it is a key of the SDK's scheme, else a ``ValidationError``."""
    if not isinstance(key, str) or len(key) > 1000:
        raise ValidationError(
            f"lease key must be a string of at most 1000 characters, got {key!r:.80}", field="key"
        )
    return keys.check_key(key, field="key")


def check_owner(owner: object) -> str:
    """``owner`` when it is a non-empty printable token of at most :data:`MAX_OWNER_LENGTH`."""
    if (
        not isinstance(owner, str)
        or not owner
        or len(owner) > MAX_OWNER_LENGTH
        or not owner.isprintable()
        or any(c.isspace() for c in owner)
    ):
        raise ValidationError(
            f"lease owner must be a short printable token, got {owner!r:.80}", field="owner"
        )
    return owner


def check_seconds(value: object, *, field: str) -> float:
    """``value`` when it is a positive number of seconds (at most a day), else a ``ValidationError``."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 86_400:
        raise ValidationError(
            f"{field} must be a positive number of seconds up to a day, got {value!r}", field=field
        )
    return float(value)


class LeasePort(HealthProbe):
    """Owned leases with a time to live, and the result a holder leaves on release."""

    @abstractmethod
    async def acquire(self, key: str, *, owner: str, ttl: float) -> bool:
        """Take the lease on ``key`` for ``ttl`` seconds when nobody holds it; ``True`` when
        ``owner`` now holds it (also when it already did)."""

    @abstractmethod
    async def extend(self, key: str, *, owner: str, ttl: float) -> bool:
        """Push the lease's expiry to ``ttl`` seconds from now if ``owner`` still holds it;
        ``False`` when it expired or passed to another owner."""

    @abstractmethod
    async def release(
        self, key: str, *, owner: str, result: bytes | None = None, result_ttl: float | None = None
    ) -> bool:
        """Store ``result`` (when given, for ``result_ttl`` seconds) and drop the lease if
        ``owner`` holds it, in one step; ``True`` when the lease was ``owner``'s. The result is
        stored even when the lease had passed on (a later holder overwrites it)."""

    @abstractmethod
    async def result(self, key: str) -> bytes | None:
        """The result the last holder of ``key``'s lease left, or ``None``."""

    async def aclose(self) -> None:
        """Release connections (a store sharing another adapter's pool leaves it open)."""

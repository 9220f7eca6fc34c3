"""Consent: ``grant``, ``revoke`` and ``check`` per tenant, user and purpose.

No decision means no consent. The memory manager asks before it remembers anything about a user
beyond the session (when ``privacy.memory_requires_consent`` is on): without consent to
``memory`` an explicit ``remember`` raises :class:`ConsentRequired` and an agent keeps no
episode of the run. Revoking ``memory`` erases the user's memories of every kind at once (their
session messages stay, under the conversation retention). Every decision is audited
(``consent.grant`` / ``consent.revoke``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from motadata_ai.domain.privacy.audit import AuditTrail
from motadata_ai.domain.values.consent import ConsentRecord, ConsentRequired, validate_purpose
from motadata_ai.domain.values.errors import ValidationError
from motadata_ai.domain.values.keywords import keywords_only
from motadata_ai.domain.values.tenancy import validate_tenant_id
from motadata_ai.ports.consent import ConsentStorePort
from motadata_ai.ports.memory import MemoryStorePort

__all__ = ["Consent"]


def _check_user(user_id: object) -> str:
    if not isinstance(user_id, str) or not user_id or len(user_id) > 256:
        raise ValidationError("user_id must be a non-empty string of at most 256 characters", field="user_id")
    return user_id


class Consent:
    """Consent decisions over a :class:`ConsentStorePort`."""

    def __init__(
        self,
        store: ConsentStorePort,
        *,
        memory: MemoryStorePort | None = None,
        trail: AuditTrail | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self._memory = memory
        self._trail = trail
        self._clock = clock

    async def _decide(self, tenant_id: str, user_id: str, purpose: str, granted: bool) -> ConsentRecord:
        record = ConsentRecord(
            tenant_id=validate_tenant_id(tenant_id),
            user_id=_check_user(user_id),
            purpose=validate_purpose(purpose),
            granted=granted,
            updated_at=self._clock(),
        )
        await self.store.set(record)
        return record

    @keywords_only
    async def grant(self, *, tenant_id: str, user_id: str, purpose: str) -> ConsentRecord:
        """Record that the user consents to ``purpose``."""
        record = await self._decide(tenant_id, user_id, purpose, True)
        if self._trail is not None:
            await self._trail.record(
                "consent.grant", tenant_id=record.tenant_id, user_id=user_id, resource=purpose
            )
        return record

    @keywords_only
    async def revoke(self, *, tenant_id: str, user_id: str, purpose: str) -> ConsentRecord:
        """Record that the user withdrew consent to ``purpose``; for ``memory``, erase the user's
        memories (``metadata["memories_erased"]`` of the audit event counts them)."""
        record = await self._decide(tenant_id, user_id, purpose, False)
        erased = 0
        if purpose == "memory" and self._memory is not None:
            ids = [r.id for r in await self._memory.list_records(record.tenant_id, user_id=user_id)]
            erased = await self._memory.delete(record.tenant_id, ids) if ids else 0
        if self._trail is not None:
            await self._trail.record(
                "consent.revoke",
                tenant_id=record.tenant_id,
                user_id=user_id,
                resource=purpose,
                metadata={"memories_erased": erased},
            )
        return record

    @keywords_only
    async def check(self, *, tenant_id: str, user_id: str, purpose: str) -> bool:
        """Whether the user consents to ``purpose`` now (never decided: ``False``)."""
        found = await self.store.get(
            tenant_id=validate_tenant_id(tenant_id),
            user_id=_check_user(user_id),
            purpose=validate_purpose(purpose),
        )
        return found is not None and found.granted

    @keywords_only
    async def require(self, *, tenant_id: str, user_id: str, purpose: str) -> None:
        """Raise :class:`ConsentRequired` unless the user consents to ``purpose``."""
        if not await self.check(tenant_id=tenant_id, user_id=user_id, purpose=purpose):
            raise ConsentRequired(
                f"user {user_id!r} of tenant {tenant_id} has not consented to {purpose!r}",
                tenant_id=tenant_id,
                user_id=user_id,
                purpose=purpose,
            )

    def checker(self, purpose: str) -> Callable[[str, str], object]:
        """``check`` for one purpose as ``(tenant_id, user_id) -> awaitable bool`` (for the
        memory manager)."""
        validate_purpose(purpose)

        def check(tenant_id: str, user_id: str) -> object:
            return self.check(tenant_id=tenant_id, user_id=user_id, purpose=purpose)

        return check

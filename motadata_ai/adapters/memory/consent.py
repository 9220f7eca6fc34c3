"""InMemoryConsentStore: consent decisions in a dict (lost on exit)."""

from __future__ import annotations

from motadata_ai.domain.values.consent import ConsentRecord, validate_purpose
from motadata_ai.domain.values.tenancy import validate_tenant_id
from motadata_ai.ports.consent import ConsentStorePort

__all__ = ["InMemoryConsentStore"]


class InMemoryConsentStore(ConsentStorePort):
    """Decisions by ``(tenant, user, purpose)``."""

    def __init__(self) -> None:
        self._records: dict[tuple[str, str, str], ConsentRecord] = {}

    async def set(self, record: ConsentRecord) -> None:
        """Replace the decision."""
        self._records[(record.tenant_id, record.user_id, record.purpose)] = record

    async def get(self, *, tenant_id: str, user_id: str, purpose: str) -> ConsentRecord | None:
        """The decision or ``None``."""
        return self._records.get((validate_tenant_id(tenant_id), user_id, validate_purpose(purpose)))

    async def user_consents(self, *, tenant_id: str, user_id: str) -> list[ConsentRecord]:
        """By purpose."""
        tenant = validate_tenant_id(tenant_id)
        return sorted(
            (r for (t, u, _), r in self._records.items() if t == tenant and u == user_id),
            key=lambda r: r.purpose,
        )

    async def delete_user(self, *, tenant_id: str, user_id: str) -> int:
        """Forget the user's decisions."""
        tenant = validate_tenant_id(tenant_id)
        doomed = [k for k in self._records if k[0] == tenant and k[1] == user_id]
        for k in doomed:
            del self._records[k]
        return len(doomed)

"""ConsentStorePort: per tenant, user and purpose, whether the user consents (grant, revoke, check)."""

from __future__ import annotations

from abc import ABC, abstractmethod

from motadata_ai.domain.values.consent import ConsentRecord
from motadata_ai.domain.values.errors import ServiceError, StoreUnavailable


class ConsentStoreError(ServiceError):
    """The consent store failed."""


class ConsentStoreUnavailable(ConsentStoreError, StoreUnavailable):
    """The consent store cannot be reached; ``address`` names it with credentials masked."""


class ConsentStorePort(ABC):
    """The latest decision of each user of each tenant for each purpose (no decision: no consent)."""

    @abstractmethod
    async def set(self, record: ConsentRecord) -> None:
        """Store the decision (replacing the earlier one for the same tenant, user and purpose)."""

    @abstractmethod
    async def get(self, *, tenant_id: str, user_id: str, purpose: str) -> ConsentRecord | None:
        """The latest decision, or ``None`` when the user never decided."""

    @abstractmethod
    async def user_consents(self, *, tenant_id: str, user_id: str) -> list[ConsentRecord]:
        """Every decision of the user, by purpose."""

    @abstractmethod
    async def delete_user(self, *, tenant_id: str, user_id: str) -> int:
        """Forget the user's decisions; return how many."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""

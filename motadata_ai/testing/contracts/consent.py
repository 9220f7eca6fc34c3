"""The ConsentStorePort contract: one suite every consent store adapter must pass.

Subclass :class:`ConsentStoreContract` (in a ``Test*`` class) and implement :meth:`make_store`
to return a fresh store; tenants are unique per test, so a shared server is fine.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import pytest_asyncio

from motadata_ai.domain.values.consent import ConsentRecord
from motadata_ai.domain.values.errors import ValidationError
from motadata_ai.ports.consent import ConsentStorePort

__all__ = ["ConsentStoreContract"]

T0 = datetime(2030, 1, 1, tzinfo=UTC)
T1 = datetime(2030, 1, 2, tzinfo=UTC)


class ConsentStoreContract:
    """Behaviour every :class:`ConsentStorePort` adapter shares."""

    async def make_store(self) -> ConsentStorePort:
        """A fresh consent store."""
        raise NotImplementedError

    @pytest_asyncio.fixture(autouse=True, loop_scope="session")
    async def _store(self) -> AsyncIterator[None]:
        suffix = uuid.uuid4().hex[:8]
        self.a, self.b = f"tenant-a-{suffix}", f"tenant-b-{suffix}"
        self.store = await self.make_store()
        yield
        await self.store.aclose()

    async def test_no_decision_is_none(self) -> None:
        assert await self.store.get(tenant_id=self.a, user_id="bob", purpose="memory") is None
        assert await self.store.user_consents(tenant_id=self.a, user_id="bob") == []

    async def test_the_latest_decision_wins_per_purpose(self) -> None:
        granted = ConsentRecord(
            tenant_id=self.a, user_id="bob", purpose="memory", granted=True, updated_at=T0
        )
        revoked = granted.model_copy(update={"granted": False, "updated_at": T1})
        training = ConsentRecord(
            tenant_id=self.a, user_id="bob", purpose="training", granted=True, updated_at=T0
        )
        await self.store.set(granted)
        await self.store.set(training)
        await self.store.set(revoked)
        assert await self.store.get(tenant_id=self.a, user_id="bob", purpose="memory") == revoked
        assert await self.store.user_consents(tenant_id=self.a, user_id="bob") == [revoked, training]

    async def test_tenants_and_users_are_apart_and_deletion_is_per_user(self) -> None:
        mine = ConsentRecord(tenant_id=self.a, user_id="bob", purpose="memory", granted=True, updated_at=T0)
        alice = mine.model_copy(update={"user_id": "alice"})
        other = mine.model_copy(update={"tenant_id": self.b})
        for record in (mine, alice, other):
            await self.store.set(record)
        assert await self.store.get(tenant_id=self.b, user_id="bob", purpose="memory") == other
        assert await self.store.delete_user(tenant_id=self.a, user_id="bob") == 1
        assert await self.store.delete_user(tenant_id=self.a, user_id="bob") == 0
        assert await self.store.get(tenant_id=self.a, user_id="bob", purpose="memory") is None
        assert await self.store.get(tenant_id=self.a, user_id="alice", purpose="memory") == alice
        assert await self.store.get(tenant_id=self.b, user_id="bob", purpose="memory") == other

    async def test_bad_purposes_and_tenants_are_refused(self) -> None:
        with pytest.raises(ValidationError):
            await self.store.get(tenant_id=self.a, user_id="bob", purpose="memory; drop")
        with pytest.raises(ValidationError):
            await self.store.get(tenant_id="bad tenant", user_id="bob", purpose="memory")

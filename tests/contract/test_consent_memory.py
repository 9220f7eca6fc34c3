"""The consent store contract on the in-memory adapter."""

from __future__ import annotations

from motadata_ai.adapters.memory.consent import InMemoryConsentStore
from motadata_ai.ports.consent import ConsentStorePort
from motadata_ai.testing.contracts.consent import ConsentStoreContract


class TestInMemoryConsentStore(ConsentStoreContract):
    async def make_store(self) -> ConsentStorePort:
        return InMemoryConsentStore()

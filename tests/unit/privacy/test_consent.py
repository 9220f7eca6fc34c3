"""Consent: grant, revoke, check; the memory manager and agents honour consent to 'memory';
revoking it erases the user's memories."""

from __future__ import annotations

import pytest

from motadata_ai.adapters.memory.consent import InMemoryConsentStore
from motadata_ai.adapters.memory.memory_store import InMemoryMemoryStore
from motadata_ai.domain.memory.manager import MemoryManager
from motadata_ai.domain.privacy.consent import Consent
from motadata_ai.errors import ConsentRequired, KeywordArgumentsRequired, ValidationError


async def test_grant_revoke_check_per_tenant_user_and_purpose() -> None:
    consent = Consent(InMemoryConsentStore())
    assert await consent.check(tenant_id="acme", user_id="bob", purpose="memory") is False
    await consent.grant(tenant_id="acme", user_id="bob", purpose="memory")
    assert await consent.check(tenant_id="acme", user_id="bob", purpose="memory") is True
    assert await consent.check(tenant_id="acme", user_id="bob", purpose="training") is False
    assert await consent.check(tenant_id="globex", user_id="bob", purpose="memory") is False
    await consent.revoke(tenant_id="acme", user_id="bob", purpose="memory")
    assert await consent.check(tenant_id="acme", user_id="bob", purpose="memory") is False
    with pytest.raises(ConsentRequired) as caught:
        await consent.require(tenant_id="acme", user_id="bob", purpose="memory")
    assert caught.value.purpose == "memory"
    with pytest.raises(ValidationError):
        await consent.grant(tenant_id="acme", user_id="bob", purpose="Memory!")
    with pytest.raises(KeywordArgumentsRequired):
        await consent.grant("acme", "bob", "memory")  # type: ignore[misc]


async def test_without_consent_nothing_is_remembered_and_revoking_erases_memories() -> None:
    store = InMemoryMemoryStore()
    consent = Consent(InMemoryConsentStore(), memory=store)
    memory = MemoryManager(store=store)
    memory.consent = consent.checker("memory")  # type: ignore[assignment]
    with pytest.raises(ConsentRequired):
        await memory.remember("acme", "bob", "bob prefers dark mode")
    assert await store.list_records("acme", user_id="bob") == []
    await consent.grant(tenant_id="acme", user_id="bob", purpose="memory")
    await consent.grant(tenant_id="acme", user_id="alice", purpose="memory")
    await memory.remember("acme", "bob", "bob prefers dark mode")
    await memory.remember("acme", "bob", "an episode", kind="episodic")
    await memory.remember("acme", "alice", "alice prefers light mode")
    await memory.append_turn("acme", "c1", user_id="bob", question="hi", answer="hello")
    await consent.revoke(tenant_id="acme", user_id="bob", purpose="memory")
    assert await store.list_records("acme", user_id="bob") == []
    assert len(await store.user_messages("acme", "bob")) == 2  # the session stays (its retention applies)
    assert len(await store.list_records("acme", user_id="alice")) == 1
    with pytest.raises(ConsentRequired):
        await memory.remember("acme", "bob", "again")

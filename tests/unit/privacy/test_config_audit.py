"""Per-tenant configuration is audited: setting or resetting a tenant's gateway policy through the
app writes one ``config.tenant_policy`` event naming the fields changed, never their values; creating
or revoking a tenant's API key writes one ``config.api_key`` event, never the secret."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from dependency_injector import providers

from motadata_ai.adapters.memory.embedding import HashEmbeddings
from motadata_ai.adapters.memory.keys import InMemoryKeyStore
from motadata_ai.adapters.memory.ledger import InMemoryAuditLog
from motadata_ai.adapters.memory.llm import FunctionLLM
from motadata_ai.api import AI, connect
from motadata_ai.container import Container
from motadata_ai.domain.access import VirtualKeys
from motadata_ai.domain.gateway.config import TenantPolicy
from motadata_ai.domain.privacy.audit import AuditTrail, changed_fields
from motadata_ai.errors import NotFound, ValidationError
from motadata_ai.settings import Settings


class _NoPlugins:
    def tools(self) -> dict[str, Any]:
        return {}

    def install_providers(self) -> None:
        return None


@pytest_asyncio.fixture
async def ai(tmp_path: Path) -> AsyncIterator[AI]:
    settings = Settings(
        profile="memory", data_dir=tmp_path / "data", llm_model="test-model", embedding_model="hash"
    )
    container = Container(settings=settings)
    container.llm.override(providers.Object(FunctionLLM(lambda request: "ok")))
    container.embeddings.override(providers.Object(HashEmbeddings(dimensions=settings.embedding_dimensions)))
    container.plugins.override(providers.Object(_NoPlugins()))
    async with connect(container=container, warm_up=False) as app:
        yield app


async def _policy_events(ai: AI, tenant: str) -> list[Any]:
    assert ai.audit_trail is not None
    await ai.audit_trail.flush()
    events = await ai.port("audit_log").events(tenant=tenant, action="config.tenant_policy")
    return list(reversed(events))  # oldest first


async def test_setting_and_resetting_a_tenant_policy_writes_one_event_each(ai: AI) -> None:
    await ai.set_tenant_policy(
        tenant_id="acme",
        policy=TenantPolicy(daily_budget_usd=5.0, allowed_models=("secret-model",)),
        user_id="admin",
    )
    assert ai.gateway.policy("acme").daily_budget_usd == 5.0
    await ai.set_tenant_policy(
        tenant_id="acme", policy=TenantPolicy(daily_budget_usd=7.0, allowed_models=("secret-model",))
    )
    await ai.set_tenant_policy(tenant_id="acme", policy=None)
    assert ai.gateway.policy("acme").daily_budget_usd is None

    set_event, change_event, reset_event = await _policy_events(ai, "acme")
    assert (set_event.resource, set_event.user_id, set_event.result) == ("acme", "admin", "success")
    assert set_event.metadata == {"fields": ["allowed_models", "daily_budget_usd"], "reset": False}
    assert change_event.metadata == {"fields": ["daily_budget_usd"], "reset": False}
    assert reset_event.metadata == {"fields": ["allowed_models", "daily_budget_usd"], "reset": True}
    for event in (set_event, change_event, reset_event):
        assert "secret-model" not in event.model_dump_json()
        assert "7.0" not in str(event.metadata)
    assert await _policy_events(ai, "globex") == []


async def test_a_policy_set_on_the_gateway_directly_is_audited_once_too(ai: AI) -> None:
    ai.gateway.set_tenant_policy("acme", TenantPolicy(max_retries=1, allowed_models=("secret-model",)))
    assert ai.gateway.policy("acme").max_retries == 1
    await ai.set_tenant_policy(tenant_id="acme", policy=TenantPolicy(max_retries=2), user_id="admin")
    ai.budgets.set("acme", daily_usd=3.0)  # a change made through the gateway by another component
    ai.gateway.set_tenant_policy("acme", None)

    direct, through_app, budgets, reset = await _policy_events(ai, "acme")
    assert (direct.resource, direct.user_id, direct.result) == ("acme", None, "success")
    assert direct.metadata == {"fields": ["allowed_models", "max_retries"], "reset": False}
    assert (through_app.user_id, through_app.metadata) == (
        "admin", {"fields": ["allowed_models", "max_retries"], "reset": False}
    )
    assert budgets.metadata == {"fields": ["daily_budget_usd"], "reset": False}
    assert reset.metadata == {"fields": ["daily_budget_usd", "max_retries"], "reset": True}
    assert "secret-model" not in direct.model_dump_json()
    assert await _policy_events(ai, "globex") == []


async def test_a_refused_tenant_is_not_configured_and_the_call_is_keyword_only(ai: AI) -> None:
    with pytest.raises(ValidationError):
        await ai.set_tenant_policy(tenant_id="bad tenant!", policy=TenantPolicy(max_retries=1))
    with pytest.raises(TypeError):
        await ai.set_tenant_policy("acme", TenantPolicy(max_retries=1))  # type: ignore[misc]
    assert await _policy_events(ai, "acme") == []


def test_changed_fields_names_fields_only() -> None:
    before = TenantPolicy(max_retries=1, burst_size=3)
    after = TenantPolicy(max_retries=2, burst_size=3, enable_caching=False)
    assert changed_fields(before, after) == ["enable_caching", "max_retries"]
    assert changed_fields(None, None) == []
    assert changed_fields(before, None) == ["burst_size", "max_retries"]


async def test_creating_and_revoking_an_api_key_is_audited_without_the_secret() -> None:
    log = InMemoryAuditLog()
    trail = AuditTrail(log)
    keys = VirtualKeys(InMemoryKeyStore(), audit_trail=trail)
    issued = await keys.create("acme", user_id="admin", allowed_models=["gpt-x"], budget_usd=5.0)
    await keys.revoke("acme", issued.key.id)
    with pytest.raises(NotFound):
        await keys.revoke("acme", issued.key.id)
    await trail.flush()
    created, revoked, refused = reversed(await log.events(tenant="acme", action="config.api_key"))
    assert (created.resource, created.user_id, created.result) == (issued.key.id, "admin", "success")
    assert created.metadata == {"operation": "create", "fields": ["allowed_models", "budget_usd"]}
    assert (revoked.metadata, revoked.result) == ({"operation": "revoke"}, "success")
    assert (refused.result, refused.metadata["error"]) == ("failure", "NotFound")
    for event in (created, revoked, refused):
        assert issued.token not in event.model_dump_json() and "gpt-x" not in event.model_dump_json()

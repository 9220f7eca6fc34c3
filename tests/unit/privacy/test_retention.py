"""Retention: what is past a tenant's periods is deleted and counted; the rest, and every other
tenant, stays."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from motadata_ai.adapters.memory.documents import InMemoryDocumentStore
from motadata_ai.adapters.memory.ledger import InMemoryAuditLog, InMemoryUsageLedger
from motadata_ai.adapters.memory.memory_store import InMemoryMemoryStore
from motadata_ai.domain.privacy.config import PrivacyConfig, RetentionPolicy
from motadata_ai.domain.privacy.service import Privacy
from motadata_ai.domain.values.documents import ConversationTurn
from motadata_ai.domain.values.memory import MemoryRecord, SessionMessage
from motadata_ai.domain.values.tenancy import TenantContext
from motadata_ai.domain.values.usage import AuditEvent, UsageRecord

NOW = datetime(2030, 6, 1, tzinfo=UTC)
OLD = NOW - timedelta(days=40)
NEW = NOW - timedelta(days=2)


async def test_each_period_deletes_only_what_is_older_and_only_for_its_tenant() -> None:
    documents, memory = InMemoryDocumentStore(), InMemoryMemoryStore()
    ledger, audit = InMemoryUsageLedger(), InMemoryAuditLog()
    for tenant in ("acme", "globex"):
        for when in (OLD, NEW):
            await documents.append(
                TenantContext(tenant_id=tenant),
                ConversationTurn(
                    tenant_id=tenant, conversation_id="c", question="q", answer="a", created_at=when
                ),
            )
            await memory.append_messages(
                tenant,
                [
                    SessionMessage(
                        tenant_id=tenant, conversation_id="s", role="user", content="hi", created_at=when
                    )
                ],
            )
            await memory.add(
                MemoryRecord(tenant_id=tenant, user_id="u", kind="long_term", content="fact", created_at=when)
            )
            await ledger.record_usage(UsageRecord(tenant_id=tenant, model="m", created_at=when))
            await audit.write(AuditEvent(tenant_id=tenant, action="rag.query", timestamp=when))
    config = PrivacyConfig(
        tenant_retention={
            "acme": RetentionPolicy(conversations_days=30, memories_days=30, audit_days=30, ledger_days=30)
        }
    )
    privacy = Privacy(
        documents=documents,
        conversations=documents,
        memory=memory,
        ledger=ledger,
        audit=audit,
        retention=config.retention_for,
    )
    report = await privacy.enforce_retention(tenant_id="acme", now=NOW)
    assert report.counts == {
        "conversation_turns": 1,
        "session_messages": 1,
        "memories": 1,
        "usage": 1,
        "audit": 1,
    }
    assert (await privacy.enforce_retention(tenant_id="acme", now=NOW)).counts == dict.fromkeys(
        report.counts, 0
    )
    assert [t.created_at for t in await documents.history(TenantContext(tenant_id="acme"), "c")] == [NEW]
    assert [r.created_at for r in await memory.list_records("acme")] == [NEW]
    # globex has no periods: nothing of it goes
    assert (await privacy.enforce_retention(tenant_id="globex", now=NOW)).counts == {}
    assert len(await documents.history(TenantContext(tenant_id="globex"), "c")) == 2
    assert (
        len(await ledger.usage_records(tenant="globex")) == 2
        and len(await audit.events(tenant="globex")) == 2
    )

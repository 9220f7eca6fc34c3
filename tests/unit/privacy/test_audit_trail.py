"""AuditTrail: buffered off the hot path, bounded, nothing lost on a clean shutdown, one event
per operation with its result."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from motadata_ai.adapters.memory.ledger import InMemoryAuditLog
from motadata_ai.domain.gateway.errors import GuardrailViolation
from motadata_ai.domain.privacy.audit import AuditTrail, audit_action
from motadata_ai.domain.values.errors import ValidationError
from motadata_ai.domain.values.tenancy import TenantContext
from motadata_ai.domain.values.usage import AuditEvent, UsageRecord
from motadata_ai.ports.ledger import LedgerUnavailable


class CountingLog(InMemoryAuditLog):
    """An audit log that counts its round trips and can be taken down."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[int] = []
        self.down = False

    async def write_many(self, events: Sequence[AuditEvent]) -> None:
        if self.down:
            raise LedgerUnavailable("audit store down", address="memory")
        self.batches.append(len(events))
        await super().write_many(events)


async def test_events_are_buffered_and_written_in_batches_with_nothing_lost_on_close() -> None:
    log = CountingLog()
    trail = AuditTrail(log, max_pending=1000)
    for n in range(50):
        await trail.record("rag.query", tenant_id="acme", user_id=f"u{n % 3}", metadata={"n": n})
    assert trail.pending > 0  # recording did not wait for the store
    await trail.aclose()
    events = await log.events(tenant="acme", limit=100)
    assert sorted(e.metadata["n"] for e in events) == list(range(50))
    assert len(log.batches) < 50  # batched, not one round trip per event


async def test_a_full_buffer_makes_the_caller_wait_for_a_write_never_grows_past_the_bound() -> None:
    log = CountingLog()
    trail = AuditTrail(log, max_pending=5)
    seen = []
    for n in range(23):
        await trail.record("ml.predict", tenant_id="acme", metadata={"n": n})
        seen.append(trail.pending)
    assert max(seen) <= 5
    await trail.flush()
    assert len(await log.events(tenant="acme", limit=100)) == 23


async def test_a_store_that_is_down_keeps_events_buffered_until_it_is_back() -> None:
    log = CountingLog()
    log.down = True
    trail = AuditTrail(log, max_pending=100)
    await trail.record("rag.ingest", tenant_id="acme")
    with pytest.raises(LedgerUnavailable):
        await trail.flush()
    assert trail.pending == 1 and trail.dropped == 0
    log.down = False
    await trail.aclose()
    assert [e.action for e in await log.events(tenant="acme")] == ["rag.ingest"]


async def test_operation_records_success_failure_and_denied() -> None:
    log = CountingLog()
    trail = AuditTrail(log, trace_id=lambda: "4bf92f3577b34da6a3ce929d0e0e4736")
    async with trail.operation("rag.query", tenant_id="acme", user_id="bob", resource="kb") as meta:
        meta["sources"] = 2
    with pytest.raises(RuntimeError):
        async with trail.operation("ml.train", tenant_id="acme"):
            raise RuntimeError("boom")
    with pytest.raises(GuardrailViolation):
        async with trail.operation("gateway.generate", tenant_id="acme"):
            raise GuardrailViolation("refused", reasons=["x"], stage="input", level="strict")
    await trail.flush()
    by_action = {e.action: e for e in await log.events(tenant="acme")}
    ok = by_action["rag.query"]
    assert (ok.result, ok.user_id, ok.resource, ok.metadata) == ("success", "bob", "kb", {"sources": 2})
    assert ok.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert (by_action["ml.train"].result, by_action["ml.train"].metadata) == (
        "failure",
        {"error": "RuntimeError"},
    )
    assert by_action["gateway.generate"].result == "denied"


async def test_gateway_calls_become_events_without_prompt_text() -> None:
    log = CountingLog()
    trail = AuditTrail(log)
    record = UsageRecord(
        tenant_id="acme", user_id="bob", model="m", outcome="blocked", error="GuardrailViolation: x"
    )
    await trail.gateway_call(record)
    await trail.gateway_call(UsageRecord(tenant_id="acme", model="e", operation="embeddings"))
    await trail.flush()
    embed, chat = await log.events(tenant="acme")
    assert (chat.action, chat.result, chat.user_id, chat.metadata["error"]) == (
        "gateway.generate",
        "denied",
        "bob",
        "GuardrailViolation",
    )
    assert (embed.action, embed.result) == ("gateway.embed", "success")


async def test_bad_actions_are_refused_where_they_are_recorded() -> None:
    trail = AuditTrail(CountingLog())
    for action in ("query", "RAG.query", "rag.query\n", "rag..query", ""):
        with pytest.raises(ValidationError):
            await trail.record(action, tenant_id="acme")


class _UseCase:
    def __init__(self, trail: AuditTrail | None) -> None:
        self.tenant = TenantContext(tenant_id="acme")
        self.audit_trail = trail

    @audit_action("rag.delete", resource=lambda _, a, k: a[0], summary=lambda r: {"deleted": r})
    async def delete(self, document_id: str, *, user_id: str | None = None) -> bool:
        await asyncio.sleep(0)
        return True


async def test_the_decorator_audits_a_use_case_method_and_is_inert_without_a_trail() -> None:
    log = CountingLog()
    trail = AuditTrail(log)
    assert await _UseCase(trail).delete("doc-1", user_id="bob") is True
    assert await _UseCase(None).delete("doc-2") is True
    await trail.flush()
    (event,) = await log.events(tenant="acme")
    assert (event.action, event.resource, event.user_id, event.metadata) == (
        "rag.delete",
        "doc-1",
        "bob",
        {"deleted": True},
    )


def test_guardrail_events_built_the_short_way_keep_the_fixed_format() -> None:
    event = AuditEvent(
        tenant_id="acme", kind="pii_redacted", stage="output", level="strict", reasons=("email",)
    )
    assert (event.action, event.result, event.kind, event.stage, event.reasons) == (
        "guardrail.pii_redacted",
        "success",
        "pii_redacted",
        "output",
        ("email",),
    )
    assert AuditEvent(tenant_id="acme", kind="guardrail_violation").result == "denied"
    with pytest.raises(ValidationError):
        AuditEvent(tenant_id="acme")  # no action


def test_an_event_recorded_from_synchronous_code_drops_the_oldest_when_the_buffer_is_full() -> None:
    log = CountingLog()
    trail = AuditTrail(log, max_pending=2)
    for n in range(3):  # no event loop runs: buffered only, written by the next flush
        trail.record_nowait("config.tenant_policy", tenant_id="acme", resource="acme", metadata={"n": n})
    assert (trail.pending, trail.dropped) == (2, 1)
    asyncio.run(trail.flush())
    events = asyncio.run(log.events(tenant="acme"))
    assert sorted(e.metadata["n"] for e in events) == [1, 2]
    assert {(e.action, e.result) for e in events} == {("config.tenant_policy", "success")}

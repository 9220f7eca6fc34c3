"""The privacy use-case on the in-memory stores: a store that fails stops the erasure with a typed
error naming it, a re-run finishes it; unknown users and other tenants' users are untouched."""

from __future__ import annotations

import pytest

from motadata_ai.adapters.memory.bus import InMemoryBus
from motadata_ai.adapters.memory.cache import InMemoryCache
from motadata_ai.adapters.memory.consent import InMemoryConsentStore
from motadata_ai.adapters.memory.documents import InMemoryDocumentStore
from motadata_ai.adapters.memory.ledger import InMemoryAuditLog, InMemoryUsageLedger
from motadata_ai.adapters.memory.memory_store import InMemoryMemoryStore
from motadata_ai.adapters.memory.ml import InMemoryPredictionLog
from motadata_ai.domain.bus.subjects import agent_subject, user_pattern
from motadata_ai.domain.privacy.audit import AuditTrail
from motadata_ai.domain.privacy.cache_policy import user_index_key
from motadata_ai.domain.privacy.service import Privacy
from motadata_ai.domain.retrieval.jobs import job_subject
from motadata_ai.domain.values import keys
from motadata_ai.domain.values.bus import Envelope
from motadata_ai.domain.values.consent import ConsentRecord
from motadata_ai.domain.values.memory import MemoryRecord
from motadata_ai.domain.values.ml import PredictionLogEntry
from motadata_ai.domain.values.usage import FeedbackRecord, UsageRecord
from motadata_ai.errors import BusUnavailable, CacheUnavailable, ErasureIncomplete, KeywordArgumentsRequired
from motadata_ai.ports.cache import CachePort


class FlakyCache(InMemoryCache):
    """A cache that is down until ``up`` is set."""

    up = False

    async def index_members(self, index: str) -> list[str]:
        if not self.up:
            raise CacheUnavailable("cache down", address="redis://cache:6379")
        return await super().index_members(index)


class Stores:
    def __init__(self, cache: CachePort) -> None:
        self.memory = InMemoryMemoryStore()
        self.cache = cache
        self.ledger = InMemoryUsageLedger()
        self.audit = InMemoryAuditLog()
        self.trail = AuditTrail(self.audit)
        self.predictions = InMemoryPredictionLog()
        self.consents = InMemoryConsentStore()
        self.documents = InMemoryDocumentStore()

    def privacy(self) -> Privacy:
        return Privacy(
            documents=self.documents,
            conversations=self.documents,
            memory=self.memory,
            cache=self.cache,
            ledger=self.ledger,
            audit=self.audit,
            trail=self.trail,
            predictions=self.predictions,
            consents=self.consents,
            pseudonym_key=b"k" * 32,
        )

    async def fill(self, tenant: str, user: str) -> None:
        await self.memory.add(
            MemoryRecord(tenant_id=tenant, user_id=user, kind="long_term", content=f"{user} fact")
        )
        key = keys.tenant_key(tenant, keys.GATEWAY, "chat", f"answer-{user}")
        await self.cache.set(key, f"answer for {user}".encode())
        await self.cache.index_add(user_index_key(tenant, user), key)
        await self.ledger.record_usage(
            UsageRecord(tenant_id=tenant, user_id=user, model="m", response_id=f"r-{user}")
        )
        await self.ledger.record_feedback(
            FeedbackRecord(tenant_id=tenant, user_id=user, response_id=f"r-{user}", rating=5)
        )
        await self.trail.record("rag.query", tenant_id=tenant, user_id=user)
        await self.predictions.append(
            [
                PredictionLogEntry(
                    tenant_id=tenant, model_name="m", version=1, inputs={"x": 1}, label="y", user_id=user
                )
            ]
        )
        await self.consents.set(ConsentRecord(tenant_id=tenant, user_id=user, purpose="memory", granted=True))


async def test_a_store_that_is_down_stops_the_erasure_naming_it_and_a_rerun_finishes() -> None:
    cache = FlakyCache()
    stores = Stores(cache)
    await stores.fill("acme", "bob")
    privacy = stores.privacy()
    with pytest.raises(ErasureIncomplete) as caught:
        await privacy.erase_user(tenant_id="acme", user_id="bob")
    assert caught.value.store == "cache" and isinstance(caught.value.__cause__, CacheUnavailable)
    assert caught.value.completed == {}  # the cache is the first store
    assert len(await stores.ledger.usage_records(tenant="acme", user_id="bob")) == 1  # not reached
    assert len(await stores.memory.list_records("acme", user_id="bob")) == 1
    cache.up = True
    report = await privacy.erase_user(tenant_id="acme", user_id="bob")
    assert report.counts["memory"] == 1 and report.counts["cache_entries"] == 1
    assert report.counts["usage_pseudonymised"] == 1 and report.counts["feedback"] == 1
    assert report.counts["prediction_log"] == 1 and report.counts["consents"] == 1
    assert report.counts["audit_pseudonymised"] == 1
    assert await stores.audit.events(tenant="acme", user_id="bob") == []
    assert [e.action for e in await stores.audit.events(tenant="acme", user_id=report.pseudonym)] == [
        "privacy.erase",
        "rag.query",
    ]


async def test_unknown_users_and_other_tenants_users_get_an_empty_report_and_nothing_changes() -> None:
    stores = Stores(InMemoryCache())
    await stores.fill("acme", "bob")
    privacy = stores.privacy()
    before = await privacy.export_user(tenant_id="acme", user_id="bob")
    assert (await privacy.erase_user(tenant_id="acme", user_id="nobody")).total == 0
    assert (await privacy.erase_user(tenant_id="globex", user_id="bob")).total == 0
    after = await privacy.export_user(tenant_id="acme", user_id="bob")
    assert {k: v for k, v in after.stores.items() if k != "audit"} == {
        k: v for k, v in before.stores.items() if k != "audit"
    }


async def test_the_pseudonym_is_keyed_stable_and_per_tenant() -> None:
    privacy = Stores(InMemoryCache()).privacy()
    one = privacy.pseudonym(tenant_id="acme", user_id="bob")
    assert one == privacy.pseudonym(tenant_id="acme", user_id="bob")
    assert one != privacy.pseudonym(tenant_id="globex", user_id="bob") and "bob" not in one
    other_key = Privacy(pseudonym_key=b"x" * 32)
    assert other_key.pseudonym(tenant_id="acme", user_id="bob") != one


async def test_positional_arguments_are_refused() -> None:
    privacy = Stores(InMemoryCache()).privacy()
    with pytest.raises(KeywordArgumentsRequired, match=r"tenant_id=\.\.\., user_id=\.\.\."):
        await privacy.erase_user("bob", "acme")  # type: ignore[misc]


async def test_a_bus_that_is_down_stops_the_erasure_and_a_rerun_purges_the_users_messages() -> None:
    down = InMemoryBus(subjects=("agent.>",))
    await down.aclose()
    privacy = Privacy(buses=[down], pseudonym_key=b"k" * 32)
    with pytest.raises(ErasureIncomplete) as caught:
        await privacy.erase_user(tenant_id="acme", user_id="bob")
    assert caught.value.store == "bus" and isinstance(caught.value.__cause__, BusUnavailable)

    bus = InMemoryBus(subjects=("agent.>", "ingest.>"))
    for user in ("bob", "alice"):
        task = Envelope(tenant_id="acme", type="agent.task", payload={"task": f"help {user}"})
        await bus.publish(agent_subject("acme", "triage", user_id=user), task)
        await bus.publish(job_subject("acme", user), Envelope(tenant_id="acme", type="ingest.job"))
    report = await Privacy(buses=[bus], pseudonym_key=b"k" * 32).erase_user(tenant_id="acme", user_id="bob")
    assert report.counts["bus_messages"] == 2
    assert await bus.purge(user_pattern("agent", "acme", "alice")) == 1  # alice's stayed


async def test_the_export_holds_the_bus_messages_still_retained_for_the_user_only() -> None:
    bus = InMemoryBus(subjects=("agent.>", "ingest.>"))
    for tenant, user in (("acme", "bob"), ("acme", "alice"), ("globex", "bob")):
        task = Envelope(tenant_id=tenant, type="agent.task", payload={"task": f"help {user}"})
        await bus.publish(agent_subject(tenant, "triage", user_id=user), task)
        await bus.publish(job_subject(tenant, user), Envelope(tenant_id=tenant, type="ingest.job"))
    privacy = Privacy(buses=[bus], pseudonym_key=b"k" * 32)

    exported = await privacy.export_user(tenant_id="acme", user_id="bob")
    rows = exported.stores["bus_messages"]
    assert [(row["subject"], row["envelope"]["type"], row["envelope"]["payload"]) for row in rows] == [
        (agent_subject("acme", "triage", user_id="bob"), "agent.task", {"task": "help bob"}),
        (job_subject("acme", "bob"), "ingest.job", {}),
    ]
    assert all(row["envelope"]["tenant_id"] == "acme" and row["sequence"] > 0 for row in rows)

    await privacy.erase_user(tenant_id="acme", user_id="bob")
    assert (await privacy.export_user(tenant_id="acme", user_id="bob")).stores["bus_messages"] == []
    assert len((await privacy.export_user(tenant_id="globex", user_id="bob")).stores["bus_messages"]) == 2

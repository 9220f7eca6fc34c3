"""Erase and export one user's data across every store of a whole app on real servers.

Two tenants (acme, globex) and two users per tenant (bob, alice; globex has a bob too) fill every
store through the public API: RAG documents and conversation turns, agent memories, sessions and
checkpoints, gateway answers cached in Valkey (guardrails at ``loose``, so answers holding PII are
cached), usage, feedback, audit events, ML prediction logs and consents. Erasing bob of acme then
leaves nothing of him in clear, in the public API or in the raw PostgreSQL tables and Redis keys,
and changes nothing of alice or of globex's bob; exporting gives back everything that was written.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from dependency_injector import providers

from motadata_ai.adapters.memory.embedding import HashEmbeddings
from motadata_ai.adapters.memory.llm import FunctionLLM
from motadata_ai.api import AI, connect
from motadata_ai.container import Container
from motadata_ai.domain.privacy.pseudonyms import is_pseudonym
from motadata_ai.domain.values.documents import Document
from motadata_ai.domain.values.llm import ChatRequest, Message
from motadata_ai.domain.values.memory import Checkpoint
from motadata_ai.domain.values.ml import Dataset, DatasetSchema
from motadata_ai.domain.values.privacy import UserExport
from motadata_ai.errors import KeywordArgumentsRequired, ValidationError
from motadata_ai.settings import Settings
from motadata_ai.testing.servers.postgres import isolated_database

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

PEOPLE = [("acme", "bob"), ("acme", "alice"), ("globex", "bob")]


def email(tenant: str, user: str) -> str:
    return f"{user}@{tenant}.example.com"


def ask(text: str) -> ChatRequest:
    return ChatRequest(model="local/extractive", messages=(Message(role="user", content=text),))


def echo(request: ChatRequest) -> str:
    """A scripted model that repeats the user's last message (so answers hold what it held)."""
    return "Noted: " + (request.messages[-1].content or "")


class _NoPlugins:
    def tools(self) -> dict[str, Any]:
        return {}

    def install_providers(self) -> None:
        return None


def rows(n: int) -> list[dict[str, Any]]:
    return [
        {
            "category": ["network", "software"][i % 2],
            "hours": float(i % 5),
            "made_sla": "yes" if i % 3 else "no",
        }
        for i in range(n)
    ]


@pytest_asyncio.fixture(loop_scope="session")
async def app(tmp_path: Any, postgres_dsn: str, redis_url: str) -> AsyncIterator[tuple[AI, Any, str]]:
    settings = Settings(
        profile="services",
        data_dir=tmp_path,
        postgres_dsn=postgres_dsn,
        redis_url=redis_url,
        validation_level="loose",
        similarity_threshold=0.0,
        redis_timeout=5.0,
        requests_per_minute=100_000,
        burst_size=10_000,
    )
    container = Container(settings=settings)
    container.llm.override(providers.Object(FunctionLLM(echo)))
    container.embeddings.override(providers.Object(HashEmbeddings(dimensions=settings.embedding_dimensions)))
    container.plugins.override(providers.Object(_NoPlugins()))
    namespace = f"privacy-{uuid.uuid4().hex[:8]}"
    from motadata_ai.adapters.redis.cache import RedisCache

    cache = RedisCache.from_url(redis_url, namespace=namespace, timeout=5.0)
    container.cache.override(providers.Object(cache))
    async with isolated_database(postgres_dsn) as database:
        container.database.override(providers.Object(database))
        async with connect(container=container, warm_up=False) as ai:
            yield ai, database, namespace
    await cache.aclose()


async def fill(ai: AI) -> None:
    """Write something of each person into every store, through the public API."""
    schema = DatasetSchema.of("made_sla", category="categorical", hours="numeric")
    for tenant in ("acme", "globex"):
        ml = ai.ml(tenant)
        run = await ml.train(Dataset.from_records(rows(40), schema), model_name="sla")
        assert run.version is not None
        await ml.promote("sla", run.version)
    for tenant, user in PEOPLE:
        mail = email(tenant, user)
        rag = ai.rag(tenant)
        await rag.ingest(
            [Document(id=f"{user}-notes", text=f"Notes of {user}: reach me at {mail}.")], user_id=user
        )
        await rag.query("How do I reach support?", conversation_id=f"{user}-rag", user_id=user)
        answer = await ai.gateway.generate(ask(f"My e-mail is {mail}"), tenant_id=tenant, user_id=user)
        await ai.gateway.record_feedback(
            answer.id, tenant_id=tenant, rating=4, comment=f"thanks, write to {mail}", user_id=user
        )
        agent = ai.agent(tenant, knowledge=False)
        await agent.remember(user, f"{user} prefers dark mode; e-mail {mail}")
        await agent.chat(f"hello, I am {mail}", conversation_id=f"{user}-chat", user_id=user)
        await ai.port("memory_store").save_checkpoint(
            Checkpoint(tenant_id=tenant, id=f"{user}-paused", user_id=user, state={"task": f"mail {mail}"})
        )
        await ai.ml(tenant, log_sample_rate=1.0).predict(
            "sla", {"category": "network", "hours": 1.0}, user_id=user
        )
        await ai.consent.grant(tenant_id=tenant, user_id=user, purpose="memory")
    await ai.gateway.flush()
    await ai.audit_trail.flush()


async def raw_rows_mentioning(database: Any, text: str) -> dict[str, int]:
    """Every table of the test schema whose rows, as text, contain ``text``: table -> count."""
    found: dict[str, int] = {}
    async with database.pool.acquire() as conn:
        tables = await conn.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() "
            "AND table_type = 'BASE TABLE'"
        )
        for row in tables:
            name = row["table_name"]
            count = await conn.fetchval(f'SELECT count(*) FROM "{name}" t WHERE t::text LIKE $1', f"%{text}%")
            if count:
                found[name] = count
    return found


async def raw_rows_of(database: Any, tenant: str, user: str) -> dict[str, int]:
    """Every table with ``tenant_id`` and ``user_id`` columns: rows of that user, by table."""
    found: dict[str, int] = {}
    async with database.pool.acquire() as conn:
        tables = await conn.fetch(
            "SELECT table_name FROM information_schema.columns WHERE table_schema = current_schema() "
            "AND column_name = 'user_id' INTERSECT SELECT table_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND column_name = 'tenant_id'"
        )
        for row in tables:
            name = row["table_name"]
            count = await conn.fetchval(
                f'SELECT count(*) FROM "{name}" WHERE tenant_id = $1 AND user_id = $2', tenant, user
            )
            if count:
                found[name] = count
    return found


async def redis_values_mentioning(ai: AI, namespace: str, text: str) -> list[str]:
    client = ai.port("cache").client
    hits = []
    async for name in client.scan_iter(match=f"{namespace}:*"):
        kind = await client.type(name)
        if kind in (b"string", "string"):
            if text.encode() in (await client.get(name) or b""):
                hits.append(name.decode())
        elif kind in (b"set", "set"):
            members = await client.smembers(name)
            if any(text.encode() in m for m in members) or text.encode() in name:
                hits.append(name.decode())
    return hits


def comparable(export: UserExport) -> dict[str, Any]:
    """An export without what reading it adds (its own audit events, the time) and without the
    cache (derived data: erasing a user's documents drops the tenant's cached answers)."""
    stores = dict(export.stores)
    stores.pop("cache_keys", None)
    stores["audit"] = [e for e in stores.get("audit", []) if not e["action"].startswith("privacy.")]
    return stores


async def test_erasing_one_user_leaves_nothing_of_them_and_changes_nobody_else(
    app: tuple[AI, Any, str],
) -> None:
    ai, database, namespace = app
    await fill(ai)
    bob_mail = email("acme", "bob")
    assert await raw_rows_mentioning(database, bob_mail)  # the stores really hold him in clear
    assert await redis_values_mentioning(ai, namespace, bob_mail)
    others_before = {
        p: comparable(await ai.privacy.export_user(tenant_id=p[0], user_id=p[1])) for p in PEOPLE[1:]
    }

    exported = await ai.privacy.export_user(tenant_id="acme", user_id="bob")
    # the export round-trips everything written for him, per store
    counts = {name: len(records) for name, records in exported.stores.items()}
    assert counts["documents"] == 1 and counts["conversations"] == 1
    assert counts["memories"] >= 2 and counts["session_messages"] >= 2 and counts["checkpoints"] == 1
    assert counts["usage"] >= 1 and counts["feedback"] == 1 and counts["predictions"] == 1
    assert counts["consents"] == 1 and counts["cache_keys"] >= 1
    assert {e["action"] for e in exported.stores["audit"]} >= {
        "rag.ingest",
        "rag.query",
        "gateway.generate",
        "agent.execute_task",
        "ml.predict",
        "consent.grant",
    }
    assert UserExport.model_validate_json(exported.to_json()) == exported
    assert json.loads(exported.to_json())["schema"] == "motadata-ai.user-export/1"

    report = await ai.privacy.erase_user(tenant_id="acme", user_id="bob")
    assert report.counts["documents"] == 1 and report.counts["chunks"] >= 1
    assert report.counts["conversation_turns"] == 1 and report.counts["memory"] >= 5
    assert report.counts["cache_entries"] >= 1 and report.counts["prediction_log"] == 1
    assert report.counts["feedback"] == 1 and report.counts["consents"] == 1
    assert report.counts["usage_pseudonymised"] >= 1 and report.counts["audit_pseudonymised"] >= 5
    assert is_pseudonym(report.pseudonym)
    # idempotent: a second erasure finds nothing left
    second = await ai.privacy.erase_user(tenant_id="acme", user_id="bob")
    assert second.total == 0 and second.pseudonym == report.pseudonym

    # nothing of bob of acme in clear: raw tables, raw Redis, the public API
    assert await raw_rows_mentioning(database, bob_mail) == {}
    assert await raw_rows_of(database, "acme", "bob") == {}
    assert await redis_values_mentioning(ai, namespace, bob_mail) == []
    again = await ai.gateway.generate(ask(f"My e-mail is {bob_mail}"), tenant_id="acme", user_id="bob2")
    assert again.cached is False
    after = await ai.privacy.export_user(tenant_id="acme", user_id="bob")
    assert after.stores == {name: [] for name in exported.stores}
    # kept for billing and audit, under the pseudonym
    ledger, audit = ai.port("usage_ledger"), ai.port("audit_log")
    assert await ledger.usage_records(tenant="acme", user_id=report.pseudonym)
    latest, first = await audit.events(tenant="acme", action="privacy.erase")  # newest first
    assert {latest.user_id, first.user_id} == {report.pseudonym}
    assert first.metadata["counts"]["documents"] == 1 and latest.metadata["counts"]["documents"] == 0

    # nobody else changed
    for person, before in others_before.items():
        assert comparable(await ai.privacy.export_user(tenant_id=person[0], user_id=person[1])) == before
    assert await raw_rows_mentioning(database, email("globex", "bob"))
    assert await raw_rows_mentioning(database, email("acme", "alice"))


async def test_bad_input_gets_typed_results(app: tuple[AI, Any, str]) -> None:
    ai, _, _ = app
    await ai.rag("acme").ingest([Document(id="keep", text="Kept for alice.")], user_id="alice")
    unknown = await ai.privacy.erase_user(tenant_id="acme", user_id="nobody")
    assert unknown.total == 0
    # alice is a user of acme, not of globex: erasing her there touches nothing of acme
    assert (await ai.privacy.erase_user(tenant_id="globex", user_id="alice")).total == 0
    assert [d.document_id for d in await ai.rag("acme").list_documents(user_id="alice")] == ["keep"]
    with pytest.raises(KeywordArgumentsRequired):
        await ai.privacy.erase_user("acme", "alice")  # type: ignore[misc]
    with pytest.raises(KeywordArgumentsRequired):
        await ai.privacy.export_user("alice", "acme")  # type: ignore[misc]
    with pytest.raises(ValidationError):
        await ai.privacy.erase_user(tenant_id="acme", user_id="")
    assert [d.document_id for d in await ai.rag("acme").list_documents(user_id="alice")] == ["keep"]

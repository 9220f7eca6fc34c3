"""Erasing a user purges what JetStream still retains for them: agent-to-agent tasks sent on the
user's behalf (main stream) and background ingestion jobs (work-queue stream), on a real NATS
server through the app. Subjects carry the user token after the tenant, so one subject filter per
root selects exactly that user's messages; other users and tenants keep theirs."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from dependency_injector import providers

from motadata_ai.adapters.memory.embedding import HashEmbeddings
from motadata_ai.adapters.memory.llm import FunctionLLM
from motadata_ai.adapters.nats.ingest_jobs import INGEST_STREAM
from motadata_ai.api import AI, connect
from motadata_ai.container import Container
from motadata_ai.domain.agents import RemoteAgent
from motadata_ai.domain.bus.subjects import tenant_token, user_token
from motadata_ai.domain.values.documents import Document
from motadata_ai.errors import DelegationFailed
from motadata_ai.settings import Settings
from motadata_ai.testing.servers.postgres import isolated_database

pytestmark = [pytest.mark.postgres, pytest.mark.nats]


class _NoPlugins:
    def tools(self) -> dict[str, Any]:
        return {}

    def install_providers(self) -> None:
        return None


async def retained(bus: Any, stream: str, tenant: str) -> dict[str, int]:
    """Messages the stream holds for the tenant, by user token (the third subject token)."""
    info = await bus.client.jetstream().stream_info(stream, subjects_filter=f"*.{tenant_token(tenant)}.>")
    counts: dict[str, int] = {}
    for subject, count in (info.state.subjects or {}).items():
        token = subject.split(".")[2]
        counts[token] = counts.get(token, 0) + count
    return counts


async def leave_messages(ai: AI, tenant: str, user: str) -> None:
    """One agent task (no agent serves it, so it stays in the stream) and one ingestion job."""
    remote = RemoteAgent(bus=ai.port("bus"), tenant=tenant, agent_id="triage", timeout=0.3)
    with pytest.raises(DelegationFailed):
        await remote.execute_task(f"reset the password of {user}@example.com", user_id=user)
    await ai.rag(tenant).ingest(
        [Document(id=f"{user}-notes", text=f"Notes of {user}@example.com")], user_id=user, background=True
    )


async def test_erasing_a_user_purges_their_retained_bus_messages_only(
    tmp_path: Path, postgres_dsn: str, nats_url: str
) -> None:
    acme, globex = (f"{name}-{uuid.uuid4().hex[:6]}" for name in ("acme", "globex"))
    settings = Settings(profile="services", data_dir=tmp_path, postgres_dsn=postgres_dsn, nats_url=nats_url)
    container = Container(settings=settings)
    container.llm.override(providers.Object(FunctionLLM(lambda request: "ok")))
    container.embeddings.override(providers.Object(HashEmbeddings(dimensions=settings.embedding_dimensions)))
    container.plugins.override(providers.Object(_NoPlugins()))
    async with isolated_database(postgres_dsn) as database:
        container.database.override(providers.Object(database))
        async with connect(container=container, warm_up=False) as ai:
            for tenant, user in ((acme, "bob"), (acme, "alice"), (globex, "bob")):
                await leave_messages(ai, tenant, user)
            assert ai.use_cases.ingest_jobs is not None
            bus, jobs = ai.port("bus"), ai.use_cases.ingest_jobs.jobs_bus
            bob, alice = user_token("bob"), user_token("alice")
            assert await retained(bus, bus.stream, acme) == {bob: 1, alice: 1}
            assert await retained(jobs, INGEST_STREAM, acme) == {bob: 1, alice: 1}

            report = await ai.privacy.erase_user(tenant_id=acme, user_id="bob")
            assert report.counts["bus_messages"] == 2  # his task and his job

            assert await retained(bus, bus.stream, acme) == {alice: 1}
            assert await retained(jobs, INGEST_STREAM, acme) == {alice: 1}
            assert await retained(bus, bus.stream, globex) == {bob: 1}  # another tenant's bob
            assert await retained(jobs, INGEST_STREAM, globex) == {bob: 1}
            again = await ai.privacy.erase_user(tenant_id=acme, user_id="bob")
            assert again.counts["bus_messages"] == 0


async def test_the_export_of_a_user_holds_their_retained_bus_messages(
    tmp_path: Path, postgres_dsn: str, nats_url: str
) -> None:
    acme, globex = (f"{name}-{uuid.uuid4().hex[:6]}" for name in ("acme", "globex"))
    settings = Settings(profile="services", data_dir=tmp_path, postgres_dsn=postgres_dsn, nats_url=nats_url)
    container = Container(settings=settings)
    container.llm.override(providers.Object(FunctionLLM(lambda request: "ok")))
    container.embeddings.override(providers.Object(HashEmbeddings(dimensions=settings.embedding_dimensions)))
    container.plugins.override(providers.Object(_NoPlugins()))
    async with isolated_database(postgres_dsn) as database:
        container.database.override(providers.Object(database))
        async with connect(container=container, warm_up=False) as ai:
            for tenant, user in ((acme, "bob"), (acme, "alice"), (globex, "bob")):
                await leave_messages(ai, tenant, user)
            bob = user_token("bob")

            exported = await ai.privacy.export_user(tenant_id=acme, user_id="bob")
            rows = exported.stores["bus_messages"]
            assert sorted((row["subject"].split(".")[0], row["envelope"]["type"]) for row in rows) == [
                ("agent", "agent.task"), ("ingest", "ingest.job"),
            ]
            assert {row["subject"].split(".")[1:3][1] for row in rows} == {bob}
            assert {row["envelope"]["tenant_id"] for row in rows} == {acme}
            task = next(row for row in rows if row["subject"].startswith("agent."))
            assert "bob@example.com" in json.dumps(task["envelope"]["payload"])

            await ai.privacy.erase_user(tenant_id=acme, user_id="bob")
            after = await ai.privacy.export_user(tenant_id=acme, user_id="bob")
            assert after.stores["bus_messages"] == []
            other = await ai.privacy.export_user(tenant_id=globex, user_id="bob")
            assert len(other.stores["bus_messages"]) == 2

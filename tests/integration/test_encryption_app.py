"""Encryption at rest through the whole app: ``connect()`` on the services profile (PostgreSQL) with
a wrapping key in the settings stores agent sessions, memories and RAG conversation turns
encrypted (the raw rows hold no plaintext), reads them back decrypted through the public API,
keeps memory search working, and refuses to open them with a wrong key (a typed error)."""

from __future__ import annotations

import base64
import os
import uuid
from pathlib import Path
from typing import Any

import pytest
from dependency_injector import providers

from motadata_ai.adapters.memory.embedding import HashEmbeddings
from motadata_ai.adapters.memory.llm import FunctionLLM
from motadata_ai.api import AI, connect
from motadata_ai.container import Container
from motadata_ai.domain.values.documents import Document
from motadata_ai.errors import EncryptionKeyError
from motadata_ai.settings import Settings
from motadata_ai.testing.servers.postgres import isolated_database

pytestmark = pytest.mark.postgres

PREFERENCE = "prefers the night shift; reach bob@example.com, SSN 123-45-6789"
CHAT = "my badge number is BADGE-7731-SECRET"
QUESTION = "Where is the VPN guide for ticket TCK-99-SECRET?"


class _NoPlugins:
    def tools(self) -> dict[str, Any]:
        return {}

    def install_providers(self) -> None:
        return None


def key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def container_for(tmp_path: Path, postgres_dsn: str, keys: dict[str, str], database: Any) -> Container:
    settings = Settings(
        profile="services",
        data_dir=tmp_path,
        postgres_dsn=postgres_dsn,
        validation_level="loose",
        similarity_threshold=0.0,
        privacy={"encryption_keys": keys},
    )
    container = Container(settings=settings)
    container.llm.override(providers.Object(FunctionLLM(lambda request: "Noted. See the VPN guide [1].")))
    container.embeddings.override(providers.Object(HashEmbeddings(dimensions=settings.embedding_dimensions)))
    container.plugins.override(providers.Object(_NoPlugins()))
    container.database.override(providers.Object(database))
    return container


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


async def fill(ai: AI, tenant: str) -> None:
    agent = ai.agent(tenant, knowledge=False)
    await agent.remember("bob", PREFERENCE)
    await agent.chat(CHAT, conversation_id="bob-chat", user_id="bob")
    rag = ai.rag(tenant)
    await rag.ingest([Document(id="vpn-guide", text="The VPN guide lives on the intranet wiki.")])
    await rag.query(QUESTION, conversation_id="bob-rag", user_id="bob")


async def test_the_app_stores_sessions_memories_and_turns_encrypted_and_reads_them_back(
    tmp_path: Path, postgres_dsn: str
) -> None:
    tenant = f"acme-{uuid.uuid4().hex[:6]}"
    k1 = key()
    async with isolated_database(postgres_dsn) as database:
        right = container_for(tmp_path, postgres_dsn, {"k1": k1}, database)
        async with connect(container=right, warm_up=False) as ai:
            await fill(ai, tenant)
            for secret in (PREFERENCE, "bob@example.com", CHAT, "BADGE-7731", QUESTION, "TCK-99"):
                assert await raw_rows_mentioning(database, secret) == {}, secret
            assert await raw_rows_mentioning(database, "enc:v1:")  # what the rows hold instead

            agent = ai.agent(tenant, knowledge=False)
            assert agent.memory is not None
            found = await agent.memory.recall(tenant, "bob", "night shift")
            assert found[0].record.content == PREFERENCE  # the best match, searched then decrypted
            episode = f"Task: {CHAT}"
            assert [m.record.content.split("\n")[0] for m in found[1:]] == [episode]  # the chat's episode
            history = await agent.memory.history(tenant, "bob-chat")
            assert CHAT in [m.content for m in history]
            export = await ai.privacy.export_user(tenant_id=tenant, user_id="bob")
            stores = export.stores
            memories = sorted(m["content"].split("\n")[0] for m in stores["memories"])
            assert memories == sorted([PREFERENCE, episode])
            assert CHAT in [m["content"] for m in stores["session_messages"]]
            assert [t["question"] for t in stores["conversations"]] == [QUESTION]

        wrong = container_for(tmp_path, postgres_dsn, {"k1": key()}, database)
        async with connect(container=wrong, warm_up=False) as ai:
            agent = ai.agent(tenant, knowledge=False)
            assert agent.memory is not None
            with pytest.raises(EncryptionKeyError) as wrong_key:
                await agent.memory.recall(tenant, "bob", "night shift")
            assert wrong_key.value.key_id == "k1" and "wrong" in str(wrong_key.value)
            with pytest.raises(EncryptionKeyError):
                await ai.privacy.export_user(tenant_id=tenant, user_id="bob")

        missing = container_for(tmp_path, postgres_dsn, {"k2": key()}, database)
        async with connect(container=missing, warm_up=False) as ai:
            with pytest.raises(EncryptionKeyError) as caught:
                await ai.privacy.export_user(tenant_id=tenant, user_id="bob")
            assert caught.value.key_id == "k1"

"""Encryption at rest on real PostgreSQL: rows hold no plaintext, search over encrypted memories
keeps working, rotation re-wraps data keys only, and a missing or wrong key is a typed error."""

from __future__ import annotations

import base64
import os

import pytest

from motadata_ai.adapters.crypto.aesgcm import AesGcmCipher, SettingsKeyProvider
from motadata_ai.adapters.postgres.data_keys import PostgresDataKeyStore
from motadata_ai.adapters.postgres.database import PostgresDatabase
from motadata_ai.adapters.postgres.documents import PostgresDocumentStore
from motadata_ai.adapters.postgres.memory_store import PostgresMemoryStore
from motadata_ai.domain.privacy.encryption import EncryptedConversationStore, EncryptedMemoryStore, Envelope
from motadata_ai.domain.values.documents import ConversationTurn
from motadata_ai.domain.values.memory import Checkpoint, MemoryRecord, SessionMessage
from motadata_ai.domain.values.tenancy import TenantContext
from motadata_ai.errors import DecryptionFailed, EncryptionKeyError

pytestmark = pytest.mark.postgres

SECRET = "bob@example.com, SSN 123-45-6789"


def key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def envelope(database: PostgresDatabase, keys: dict[str, str], current: str | None = None) -> Envelope:
    return Envelope(
        keys=SettingsKeyProvider(keys, current_id=current),
        data_keys=PostgresDataKeyStore(database),
        cipher=AesGcmCipher(),
        enabled=bool(keys),
    )


async def raw_mentions(database: PostgresDatabase, text: str) -> list[str]:
    found = []
    async with database.pool.acquire() as conn:
        for row in await conn.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        ):
            name = row["table_name"]
            if await conn.fetchval(f'SELECT count(*) FROM "{name}" t WHERE t::text LIKE $1', f"%{text}%"):
                found.append(name)
    return found


def unit(*values: float) -> tuple[float, ...]:
    return tuple(values) + (0.0,) * (384 - len(values))


async def test_rows_hold_no_plaintext_and_search_still_works(pg_isolated_database: PostgresDatabase) -> None:
    db = pg_isolated_database
    k1 = key()
    sealed = envelope(db, {"k1": k1})
    memory = EncryptedMemoryStore(PostgresMemoryStore(db), sealed)
    turns = EncryptedConversationStore(PostgresDocumentStore(db), sealed)
    record = MemoryRecord(
        tenant_id="acme", user_id="bob", kind="long_term", content=SECRET, embedding=unit(1.0)
    )
    await memory.add(record)
    await memory.add(
        record.model_copy(update={"id": "other", "content": "unrelated", "embedding": unit(0.0, 1.0)})
    )
    await memory.append_messages(
        "acme",
        [SessionMessage(tenant_id="acme", conversation_id="c", user_id="bob", role="user", content=SECRET)],
    )
    await memory.save_checkpoint(Checkpoint(tenant_id="acme", id="t1", user_id="bob", state={"note": SECRET}))
    tenant = TenantContext(tenant_id="acme")
    await turns.append(
        tenant,
        ConversationTurn(
            tenant_id="acme", conversation_id="c", user_id="bob", question=SECRET, answer=SECRET
        ),
    )
    assert await raw_mentions(db, "bob@example.com") == []
    assert await raw_mentions(db, "123-45-6789") == []
    (best, *_) = await memory.search("acme", unit(1.0), user_id="bob", limit=2)
    assert best.record.content == SECRET
    assert [m.content for m in await memory.load_messages("acme", "c")] == [SECRET]
    loaded = await memory.load_checkpoint("acme", "t1")
    assert loaded is not None and loaded.state == {"note": SECRET}
    claim = await memory.claim_checkpoint("acme", "t1")
    assert claim.checkpoint is not None and claim.checkpoint.state == {"note": SECRET}
    assert [(t.question, t.answer) for t in await turns.history(tenant, "c")] == [(SECRET, SECRET)]

    # rotation: a new wrapping key re-wraps the data key; the rows are not touched, still open
    async with db.pool.acquire() as conn:
        before = await conn.fetchval("SELECT content FROM motadata_memories WHERE id = $1", record.id)
    k2 = key()
    rotated = envelope(db, {"k1": k1, "k2": k2}, current="k2")
    assert await rotated.rotate() == 1
    async with db.pool.acquire() as conn:
        assert await conn.fetchval("SELECT content FROM motadata_memories WHERE id = $1", record.id) == before
        assert (
            await conn.fetchval("SELECT wrapping_key_id FROM motadata_data_keys WHERE tenant_id = 'acme'")
            == "k2"
        )
    only_new = EncryptedMemoryStore(PostgresMemoryStore(db), envelope(db, {"k2": k2}))
    assert sorted(r.content for r in await only_new.list_records("acme", user_id="bob")) == sorted(
        [SECRET, "unrelated"]
    )


async def test_a_missing_or_wrong_key_is_a_typed_error_never_garbage(
    pg_isolated_database: PostgresDatabase,
) -> None:
    db = pg_isolated_database
    sealed = EncryptedMemoryStore(PostgresMemoryStore(db), envelope(db, {"k1": key()}))
    await sealed.add(MemoryRecord(tenant_id="acme", user_id="bob", kind="long_term", content=SECRET))
    without_key = EncryptedMemoryStore(PostgresMemoryStore(db), envelope(db, {}))
    with pytest.raises(EncryptionKeyError) as missing:
        await without_key.list_records("acme")
    assert missing.value.key_id == "k1"
    wrong_key = EncryptedMemoryStore(PostgresMemoryStore(db), envelope(db, {"k1": key()}))
    with pytest.raises(EncryptionKeyError):
        await wrong_key.list_records("acme")
    with pytest.raises(EncryptionKeyError):
        SettingsKeyProvider({"k1": "not base64!"})
    assert issubclass(DecryptionFailed, EncryptionKeyError)


async def test_values_of_one_tenant_do_not_open_as_another(pg_isolated_database: PostgresDatabase) -> None:
    db = pg_isolated_database
    sealed = envelope(db, {"k1": key()})
    value = await sealed.encrypt("acme", SECRET)
    await sealed.encrypt("globex", "x")
    with pytest.raises(DecryptionFailed):
        await sealed.decrypt("globex", value)
    assert await sealed.decrypt("acme", value) == SECRET
    assert await sealed.decrypt("acme", "stored before encryption") == "stored before encryption"

"""Concurrent writers of one tenant keep its maintained BM25 statistics exact, on real PostgreSQL.

Twelve writers at once replace versions of overlapping documents, delete documents and upsert
loose records in one tenant (and another tenant meanwhile). Afterwards the tenant's chunk count,
total length and every term's document frequency equal what the chunks themselves say, no write
failed (no deadlock or unique violation leaked out), and the keyword scores equal those of a
tenant loaded with the same chunks in one go.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from motadata_ai.adapters.postgres.database import PostgresDatabase
from motadata_ai.adapters.postgres.documents import PostgresDocumentStore
from motadata_ai.adapters.postgres.vector_store import PgVectorStore
from motadata_ai.domain.values.documents import StoredDocument
from motadata_ai.domain.values.tenancy import TenantContext
from motadata_ai.domain.values.vectors import VectorRecord
from motadata_ai.ports.documents import VersionConflict
from motadata_ai.testing.servers.postgres import isolated_database

pytestmark = [pytest.mark.faults, pytest.mark.postgres]

A = TenantContext(tenant_id="acme")
B = TenantContext(tenant_id="globex")
WORDS = "vpn password printer toner queue laptop dock mfa token portal reset expired policy".split()


@pytest_asyncio.fixture(loop_scope="session")
async def database(postgres_dsn: str) -> AsyncIterator[PostgresDatabase]:
    async with isolated_database(postgres_dsn, max_size=14) as db:
        yield db


def chunks(tenant: TenantContext, document_id: str, version: int, seed: int) -> list[VectorRecord]:
    out = []
    for i in range(3):
        words = [WORDS[(seed * 7 + i * 3 + k) % len(WORDS)] for k in range(2 + (seed + i) % 5)]
        vector = [0.0] * 8
        vector[(seed + i) % 8] = 1.0
        out.append(
            VectorRecord(
                id=f"{document_id}-{i}",
                tenant_id=tenant.tenant_id,
                document_id=document_id,
                version=version,
                chunk_index=i,
                text=" ".join(words),
                embedding=tuple(vector),
            )
        )
    return out


async def write(
    documents: PostgresDocumentStore, store: PgVectorStore, tenant: TenantContext, document_id: str, seed: int
) -> None:
    """Write the next version of ``document_id`` (retrying a lost compare-and-set race)."""
    while True:
        current = await documents.get(tenant, document_id)
        version = (current.version if current else 0) + 1
        batch = chunks(tenant, document_id, version, seed)
        row = StoredDocument(
            tenant_id=tenant.tenant_id,
            document_id=document_id,
            version=version,
            content_hash=f"h{seed}-{version}",
            text="body",
            chunk_ids=tuple(r.id for r in batch),
        )
        try:
            await documents.write_version(tenant, row, batch, vectors=store)
            return
        except VersionConflict:
            continue


async def test_concurrent_writers_keep_the_keyword_statistics_exact(database: PostgresDatabase) -> None:
    store = PgVectorStore(database, dimensions=8)
    await store.setup()
    documents = PostgresDocumentStore(database)
    await documents.setup()

    async def writer(n: int) -> None:
        for step in range(6):
            document_id = f"doc-{(n + step) % 5}"
            await write(documents, store, A, document_id, seed=n * 10 + step)
            if step % 3 == 2:
                await documents.delete(A, f"doc-{(n + step + 2) % 5}", vectors=store)
            if step % 2:
                loose = chunks(A, f"loose-{n % 3}", 1, seed=n + step)
                await store.upsert(
                    A, [r.model_copy(update={"id": f"loose-{(n + step) % 4}"}) for r in loose[:1]]
                )
            await write(documents, store, B, f"doc-{n % 2}", seed=n + step)

    results = await asyncio.gather(*(writer(n) for n in range(12)), return_exceptions=True)
    assert [repr(r) for r in results if isinstance(r, BaseException)] == []

    async with database.pool.acquire() as conn:
        kept = await conn.fetch(
            "SELECT tenant_id, chunks, total_length FROM motadata_chunks_kw_stats WHERE chunks > 0 ORDER BY 1"
        )
        fresh = await conn.fetch(
            "SELECT tenant_id, count(*) AS chunks, sum(length(tsv)) AS total_length FROM motadata_chunks "
            "GROUP BY 1 ORDER BY 1"
        )
        kept_terms = await conn.fetch(
            "SELECT tenant_id, term, df FROM motadata_chunks_kw_terms ORDER BY 1, 2"
        )
        fresh_terms = await conn.fetch(
            "SELECT t.tenant_id, u.lexeme AS term, count(*) AS df FROM motadata_chunks t, unnest(t.tsv) u "
            "GROUP BY 1, 2 ORDER BY 1, 2"
        )
        kept_postings = await conn.fetch(
            "SELECT tenant_id, term, id, tf, len FROM motadata_chunks_kw_postings ORDER BY 1, 2, 3"
        )
        fresh_postings = await conn.fetch(
            "SELECT t.tenant_id, u.lexeme, t.id, cardinality(u.positions), length(t.tsv) "
            "FROM motadata_chunks t, unnest(t.tsv) u ORDER BY 1, 2, 3"
        )
        rows = await conn.fetch(
            "SELECT id, document_id, text, embedding FROM motadata_chunks WHERE tenant_id = $1", "acme"
        )
    assert [tuple(r) for r in kept] == [tuple(r) for r in fresh]
    assert [tuple(r) for r in kept_terms] == [tuple(r) for r in fresh_terms]
    assert [tuple(r) for r in kept_postings] == [tuple(r) for r in fresh_postings]
    assert len(kept_postings) > 0
    assert len(rows) > 0

    # the same chunks loaded in one go into a fresh tenant rank and score alike
    copy = TenantContext(tenant_id="copy")
    await store.upsert(
        copy,
        [
            VectorRecord(
                id=r["id"],
                tenant_id="copy",
                document_id=r["document_id"],
                text=r["text"],
                embedding=tuple(r["embedding"].to_list()),
            )
            for r in rows
        ],
    )
    for query in ("vpn password", "printer queue toner", "expired mfa token portal"):
        got = [(h.record.id, h.score) for h in await store.keyword_search(A, query, top_k=50)]
        want = [(h.record.id, h.score) for h in await store.keyword_search(copy, query, top_k=50)]
        assert [i for i, _ in got] == [i for i, _ in want]
        assert [s for _, s in got] == pytest.approx([s for _, s in want])

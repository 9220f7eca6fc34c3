"""A write that PostgreSQL routed to the shared partition just before the tenant's promotion
attached the tenant's own partition is run again and lands there; it is not failed.

Seen as a user would: two writers ingesting one tenant across the promotion threshold, and one
upsert failed with ``VectorStoreError: CheckViolationError: new row for relation
"motadata_chunks_shared" violates partition constraint``. The promotion locks the shared partition
against writers while it moves the tenant's rows; a writer whose INSERT was routed to the shared
partition before that waits for the lock, and once the promotion has attached the new partition,
its row no longer satisfies the shared partition's constraint. Here the order is made certain: a
side transaction holds the promotion's lock on the shared partition, the promotion queues behind
it, then the write queues behind the promotion, and the side transaction lets go.

Invariants: the promotion and the write both succeed, every row is in the tenant's partition
once, and the keyword statistics count every chunk once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import asyncpg
import pytest

from motadata_ai.adapters.postgres.database import PostgresDatabase
from motadata_ai.adapters.postgres.documents import PostgresDocumentStore
from motadata_ai.adapters.postgres.vector_store import PgVectorStore
from motadata_ai.domain.values.tenancy import TenantContext
from motadata_ai.testing.contracts.documents import chunks_of, doc
from tests.random_vectors import random_vector_records

pytestmark = [pytest.mark.faults, pytest.mark.postgres]

A = TenantContext(tenant_id="tenant-a")
DIMS = 8


async def waiting_on_shared(conn: asyncpg.Connection, count: int) -> None:
    """Until ``count`` lock requests on the shared partition wait."""
    for _ in range(400):
        waiting = await conn.fetchval(
            "SELECT count(*) FROM pg_locks "
            "WHERE NOT granted AND relation = 'motadata_chunks_shared'::regclass"
        )
        if waiting >= count:
            return
        await asyncio.sleep(0.025)
    raise AssertionError(f"fewer than {count} lock requests waited on the shared partition")


async def promote_with_a_write_queued(
    database: PostgresDatabase, store: PgVectorStore, write: Callable[[], Awaitable[object]]
) -> None:
    async with database.pool.acquire() as side:
        transaction = side.transaction()
        await transaction.start()
        await side.execute("LOCK TABLE motadata_chunks_shared IN SHARE ROW EXCLUSIVE MODE")
        promotion = asyncio.create_task(store.promote(A))
        await waiting_on_shared(side, 1)
        writing = asyncio.create_task(write())
        await waiting_on_shared(side, 2)
        await transaction.commit()
    await asyncio.wait_for(promotion, 60)
    await asyncio.wait_for(writing, 60)


async def assert_whole(database: PostgresDatabase, store: PgVectorStore, expected: int) -> None:
    assert (await store.layout(A))["search"] == "hnsw"
    async with database.pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT tableoid::regclass::text AS part, count(*) AS n, count(DISTINCT id) AS ids "
            "FROM motadata_chunks WHERE tenant_id = $1 GROUP BY 1",
            A.tenant_id,
        )
        chunks = await conn.fetchval(
            "SELECT chunks FROM motadata_chunks_kw_stats WHERE tenant_id = $1", A.tenant_id
        )
    partition = store.partition_name(A.tenant_id)
    assert [(r["part"], r["n"], r["ids"]) for r in rows] == [(partition, expected, expected)]
    assert chunks == expected


async def test_an_upsert_queued_behind_the_promotion_lands_in_the_new_partition(
    pg_isolated_database: PostgresDatabase,
) -> None:
    store = PgVectorStore(pg_isolated_database, dimensions=DIMS, exact_search_below=1_000_000)
    await store.setup()
    records = random_vector_records(A.tenant_id, 40, dims=DIMS, seed=1)
    await store.upsert(A, records[:20])
    await promote_with_a_write_queued(pg_isolated_database, store, lambda: store.upsert(A, records[20:]))
    await assert_whole(pg_isolated_database, store, 40)


async def test_a_document_write_queued_behind_the_promotion_lands_in_the_new_partition(
    pg_isolated_database: PostgresDatabase,
) -> None:
    store = PgVectorStore(pg_isolated_database, dimensions=DIMS, exact_search_below=1_000_000)
    await store.setup()
    documents = PostgresDocumentStore(pg_isolated_database)
    await documents.setup()
    first, second = doc(A, "d1"), doc(A, "d2")
    await documents.write_version(A, first, chunks_of(first, DIMS), vectors=store)

    async def write() -> object:
        return await documents.write_version(A, second, chunks_of(second, DIMS), vectors=store)

    await promote_with_a_write_queued(pg_isolated_database, store, write)
    await assert_whole(pg_isolated_database, store, 4)
    assert (await documents.get(A, "d2")) is not None

"""PgVectorStore specifics on the real server: tenant layout, promotion, plans, schema checks."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest

from motadata_ai.adapters.memory.vector_store import InMemoryVectorStore
from motadata_ai.adapters.postgres.database import PostgresDatabase
from motadata_ai.adapters.postgres.documents import PostgresDocumentStore
from motadata_ai.adapters.postgres.vector_store import PgVectorStore
from motadata_ai.domain.values.documents import StoredDocument
from motadata_ai.domain.values.errors import ConfigurationError, ValidationError
from motadata_ai.domain.values.tenancy import TenantContext
from motadata_ai.domain.values.vectors import VectorRecord
from motadata_ai.ports.vector_store import DimensionMismatch
from tests.contract.pool_statements import one_connection_pool

pytestmark = pytest.mark.postgres

A = TenantContext(tenant_id="acme")
B = TenantContext(tenant_id="globex")


def records(
    tenant: TenantContext, n: int, *, dims: int = 8, document_id: str = "doc", start: int = 0
) -> list[VectorRecord]:
    out = []
    for i in range(start, start + n):
        vector = [0.0] * dims
        vector[i % dims] = 1.0
        vector[(i * 3 + 1) % dims] += 0.5 + (i % 5) / 10
        out.append(
            VectorRecord(
                id=f"r{i}",
                tenant_id=tenant.tenant_id,
                document_id=document_id,
                chunk_index=i,
                text=f"chunk number {i}",
                embedding=tuple(vector),
                metadata={"n": i % 3},
            )
        )
    return out


def version_of(batch: list[VectorRecord], *, document_id: str = "doc") -> StoredDocument:
    """The version-1 document row that owns ``batch``."""
    return StoredDocument(
        tenant_id=batch[0].tenant_id,
        document_id=document_id,
        version=1,
        content_hash="h",
        text="body",
        chunk_ids=tuple(r.id for r in batch),
    )


async def make(database: PostgresDatabase, **options: Any) -> PgVectorStore:
    store = PgVectorStore(database, dimensions=8, **options)
    await store.setup()
    return store


async def test_tenant_is_promoted_to_its_own_hnsw_partition_at_the_threshold(
    pg_isolated_database: PostgresDatabase,
) -> None:
    store = await make(pg_isolated_database, exact_search_below=20)
    await store.upsert(A, records(A, 19))
    await store.upsert(B, records(B, 5))
    assert await store.layout(A) == {
        "partition": "motadata_chunks_shared",
        "search": "exact",
        "indexed": False,
        "ef_search": None,
        "recall": None,
    }
    await store.upsert(A, records(A, 1, start=19))
    layout = await store.layout(A)
    assert layout == {
        "partition": store.partition_name("acme"),
        "search": "hnsw",
        "indexed": True,
        "ef_search": 100,
        "recall": 1.0,  # its index, checked once built, finds every exact neighbour at ef_search 100
    }
    assert (await store.layout(B))["search"] == "exact"
    async with pg_isolated_database.pool.acquire() as conn:
        in_shared = await conn.fetchval(
            "SELECT count(*) FROM motadata_chunks_shared WHERE tenant_id = 'acme'"
        )
        in_own = await conn.fetchval(f"SELECT count(*) FROM {store.partition_name('acme')}")
    assert (in_shared, in_own) == (0, 20)
    assert await store.count(A) == 20 and await store.count(B) == 5


async def test_promoted_tenant_search_uses_its_hnsw_index_and_matches_exact_results(
    pg_isolated_database: PostgresDatabase,
) -> None:
    store = await make(pg_isolated_database, exact_search_below=10)
    memory = InMemoryVectorStore(dimensions=8)
    for target in (store, memory):
        await target.upsert(A, records(A, 40))
        await target.upsert(B, records(B, 40))
    query = [0.3, 1.0, 0.0, 0.2, 0.0, 0.0, 0.1, 0.0]
    got = await store.dense_search(A, query, top_k=5)
    expected = await memory.dense_search(A, query, top_k=5)
    assert [round(h.score, 4) for h in got] == [round(h.score, 4) for h in expected]
    assert all(h.record.tenant_id == "acme" for h in got)
    async with pg_isolated_database.pool.acquire() as conn:
        await conn.execute("SET plan_cache_mode = force_custom_plan; SET enable_seqscan = off")
        plan = "\n".join(
            r[0]
            for r in await conn.fetch(
                "EXPLAIN SELECT id FROM motadata_chunks WHERE tenant_id = $1 "
                "ORDER BY embedding <=> $2 LIMIT 5",
                "acme",
                query,
            )
        )
    assert f"{store.partition_name('acme')}_hnsw" in plan
    assert "motadata_chunks_shared" not in plan


async def test_bulk_load_defers_promotion_to_the_end(pg_isolated_database: PostgresDatabase) -> None:
    store = await make(pg_isolated_database, exact_search_below=10)
    async with store.bulk_load():
        await store.upsert(A, records(A, 30))
        assert (await store.layout(A))["search"] == "exact"
    assert (await store.layout(A))["search"] == "hnsw"


async def test_reorganize_promotes_only_large_tenants_and_is_idempotent(
    pg_isolated_database: PostgresDatabase,
) -> None:
    store = await make(pg_isolated_database, exact_search_below=10, auto_promote=False)
    await store.upsert(A, records(A, 12))
    await store.upsert(B, records(B, 3))
    assert await store.reorganize() == ["acme"]
    assert await store.reorganize() == []
    assert (await store.layout(B))["search"] == "exact"


async def test_concurrent_promotions_of_one_tenant_create_one_partition(
    pg_isolated_database: PostgresDatabase,
) -> None:
    store = await make(pg_isolated_database, exact_search_below=1000, auto_promote=False)
    await store.upsert(A, records(A, 10))
    await asyncio.gather(store.promote(A), store.promote(A), store.promote("acme"))
    assert await store.count(A) == 10
    async with pg_isolated_database.pool.acquire() as conn:
        rows = await conn.fetchval("SELECT count(*) FROM motadata_chunks_tenants")
    assert rows == 1


async def test_writes_after_promotion_go_to_the_tenant_partition(
    pg_isolated_database: PostgresDatabase,
) -> None:
    store = await make(pg_isolated_database, exact_search_below=5)
    await store.upsert(A, records(A, 5))
    await store.upsert(A, records(A, 5, start=5, document_id="doc-2"))
    new = records(A, 2, start=100)
    await PostgresDocumentStore(pg_isolated_database).write_version(A, version_of(new), new, vectors=store)
    async with pg_isolated_database.pool.acquire() as conn:
        own = await conn.fetchval(f"SELECT count(*) FROM {store.partition_name('acme')}")
    assert own == 7 == await store.count(A)


class _FailingAfterWrite(PgVectorStore):
    """Fails inside the write transaction, after the old chunks are deleted and the new ones written."""

    async def _write(self, conn: Any, batch: list[VectorRecord], packed: list[Any]) -> None:
        await super()._write(conn, batch, packed)
        raise RuntimeError("injected failure after the write")


async def test_a_version_write_failing_inside_the_transaction_keeps_the_old_version(
    pg_isolated_database: PostgresDatabase,
) -> None:
    documents = PostgresDocumentStore(pg_isolated_database)
    good = await make(pg_isolated_database)
    old = records(A, 4)
    await documents.write_version(A, version_of(old), old, vectors=good)
    failing = _FailingAfterWrite(pg_isolated_database, dimensions=8)
    await failing.setup()
    new = records(A, 2, start=50)
    with pytest.raises(RuntimeError):
        await documents.write_version(
            A,
            version_of(new).model_copy(update={"version": 2}),
            [r.model_copy(update={"version": 2}) for r in new],
            vectors=failing,
        )
    assert sorted(r.id for r in await good.get(A, [f"r{i}" for i in range(60)])) == ["r0", "r1", "r2", "r3"]
    current = await documents.get(A, "doc")
    assert current is not None and current.version == 1 and current.chunk_ids == ("r0", "r1", "r2", "r3")


async def test_existing_table_with_other_dimensions_is_refused(
    pg_isolated_database: PostgresDatabase,
) -> None:
    await make(pg_isolated_database)
    other = PgVectorStore(pg_isolated_database, dimensions=16)
    with pytest.raises(ConfigurationError) as caught:
        await other.setup()
    assert caught.value.expected == "vector(16)" and caught.value.actual == "vector(8)"


async def test_concurrent_setup_of_the_same_table(pg_isolated_database: PostgresDatabase) -> None:
    stores = [PgVectorStore(pg_isolated_database, dimensions=8, table="shared_t") for _ in range(3)]
    await asyncio.gather(*(s.setup() for s in stores))
    await stores[0].upsert(A, records(A, 2))
    assert await stores[2].count(A) == 2


async def test_halfvec_refuses_values_out_of_range(pg_isolated_database: PostgresDatabase) -> None:
    store = await make(pg_isolated_database, storage="halfvec", table="half_t")
    vector = (1e6, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    bad = VectorRecord(id="big", tenant_id="acme", document_id="d", text="t", embedding=vector)
    with pytest.raises(ValidationError):
        await store.upsert(A, [bad])
    assert await store.count(A) == 0


async def test_nul_in_metadata_key_is_refused_before_the_database(
    pg_isolated_database: PostgresDatabase,
) -> None:
    store = await make(pg_isolated_database)
    bad = records(A, 1)[0].model_copy(update={"metadata": {"a\x00b": 1}})
    with pytest.raises(ValidationError):
        await store.upsert(A, [bad])


@pytest.mark.parametrize(
    "options",
    [
        {"dimensions": 3000},
        {"dimensions": 0},
        {"dimensions": 8, "table": "Bad-Name"},
        {"dimensions": 8, "m": 16, "ef_construction": 16},
        {"dimensions": 8, "storage": "float"},
        {"dimensions": 8, "exact_search_below": 0},
    ],
)
def test_bad_configuration_is_refused(
    pg_isolated_database: PostgresDatabase, options: dict[str, Any]
) -> None:
    with pytest.raises(ConfigurationError):
        PgVectorStore(pg_isolated_database, **options)


async def test_thousands_of_small_tenants_share_one_partition(pg_isolated_database: PostgresDatabase) -> None:
    store = await make(pg_isolated_database, exact_search_below=50)
    tenants = [TenantContext(tenant_id=f"t{i}") for i in range(300)]
    async with store.bulk_load():
        for tenant in tenants:
            await store.upsert(tenant, records(tenant, 3))
    async with pg_isolated_database.pool.acquire() as conn:
        partitions = await conn.fetchval(
            "SELECT count(*) FROM pg_inherits WHERE inhparent = 'motadata_chunks'::regclass"
        )
    assert partitions == 1
    hits = await store.dense_search(tenants[123], [1.0, 0, 0, 0, 0, 0, 0, 0], top_k=3)
    assert {h.record.tenant_id for h in hits} == {"t123"}


async def test_bulk_load_with_index_rebuild_drops_and_rebuilds_the_tenant_index(
    pg_isolated_database: PostgresDatabase,
) -> None:
    store = await make(pg_isolated_database, exact_search_below=10)
    await store.upsert(A, records(A, 12))
    await store.upsert(B, records(B, 12))
    assert (await store.layout(A))["search"] == "hnsw"
    async with store.bulk_load(rebuild_indexes=True):
        await store.upsert(A, records(A, 20, start=12))
        assert (await store.layout(A))["search"] == "exact"
        assert (await store.layout(B))["search"] == "hnsw"
        assert len(await store.dense_search(A, [1.0, 0, 0, 0, 0, 0, 0, 0], top_k=3)) == 3
    assert await store.layout(A) == {
        "partition": store.partition_name("acme"),
        "search": "hnsw",
        "indexed": True,
        "ef_search": 100,
        "recall": 1.0,  # the rebuilt index, checked again
    }
    assert await store.count(A) == 32


async def test_bulk_load_rebuilds_indexes_even_when_the_load_fails(
    pg_isolated_database: PostgresDatabase,
) -> None:
    store = await make(pg_isolated_database, exact_search_below=10)
    await store.upsert(A, records(A, 12))
    with pytest.raises(DimensionMismatch):
        async with store.bulk_load(rebuild_indexes=True):
            await store.upsert(A, records(A, 5, start=12))
            await store.upsert(A, records(A, 1, start=40, dims=4))
    assert (await store.layout(A))["indexed"] is True
    assert await store.count(A) == 17


# -- maintained keyword statistics -----------------------------------------------------------------


async def recomputed_statistics(database: PostgresDatabase, table: str = "motadata_chunks") -> Any:
    """(maintained, recomputed from the chunks) per-tenant chunk counts, lengths, term frequencies
    and keyword postings (term, chunk, term frequency, chunk length)."""
    async with database.pool.acquire() as conn:
        kept = await conn.fetch(
            f"SELECT tenant_id, chunks, total_length FROM {table}_kw_stats WHERE chunks > 0 ORDER BY 1"
        )
        fresh = await conn.fetch(
            f"SELECT tenant_id, count(*) AS chunks, sum(length(tsv)) AS total_length FROM {table} "
            "GROUP BY 1 ORDER BY 1"
        )
        kept_terms = await conn.fetch(f"SELECT tenant_id, term, df FROM {table}_kw_terms ORDER BY 1, 2")
        fresh_terms = await conn.fetch(
            f"SELECT t.tenant_id, u.lexeme AS term, count(*) AS df FROM {table} t, unnest(t.tsv) u "
            "GROUP BY 1, 2 ORDER BY 1, 2"
        )
        kept_postings = await conn.fetch(
            f"SELECT tenant_id, term, id, tf, len FROM {table}_kw_postings ORDER BY 1, 2, 3"
        )
        fresh_postings = await conn.fetch(
            "SELECT t.tenant_id, u.lexeme AS term, t.id, cardinality(u.positions) AS tf, "
            f"length(t.tsv) AS len FROM {table} t, unnest(t.tsv) u ORDER BY 1, 2, 3"
        )
    return (
        ([tuple(r) for r in kept], [tuple(r) for r in kept_terms], [tuple(r) for r in kept_postings]),
        ([tuple(r) for r in fresh], [tuple(r) for r in fresh_terms], [tuple(r) for r in fresh_postings]),
    )


def texts(
    tenant: TenantContext, words: list[str], *, document_id: str, version: int = 1, start: int = 0
) -> list[VectorRecord]:
    """Records ``r<start>``... of ``document_id`` holding ``words`` as their texts."""
    batch = records(tenant, len(words), document_id=document_id, start=start)
    return [
        r.model_copy(update={"text": text, "version": version}) for r, text in zip(batch, words, strict=True)
    ]


async def test_keyword_statistics_are_maintained_by_version_writes_and_deletes(
    pg_isolated_database: PostgresDatabase,
) -> None:
    store = await make(pg_isolated_database)
    documents = PostgresDocumentStore(pg_isolated_database)
    first = texts(A, ["vpn password reset", "printer toner low", "vpn client slow"], document_id="doc")
    await documents.write_version(A, version_of(first), first, vectors=store)
    other = texts(A, ["password policy"], document_id="other", start=10)
    await documents.write_version(A, version_of(other, document_id="other"), other, vectors=store)
    theirs = texts(B, ["vpn vpn gateway", "mfa token"], document_id="doc")
    await documents.write_version(B, version_of(theirs), theirs, vectors=store)
    second = texts(A, ["expired vpn password", "laptop docking station"], document_id="doc", version=2)
    await documents.write_version(
        A, version_of(second).model_copy(update={"version": 2}), second, vectors=store
    )
    kept, fresh = await recomputed_statistics(pg_isolated_database)
    assert kept == fresh
    assert ("acme", 3) == kept[0][0][:2], "two chunks of doc v2 and one of other"
    assert await documents.delete(A, "other", vectors=store)
    await store.delete(B, ids=["r1"])
    kept, fresh = await recomputed_statistics(pg_isolated_database)
    assert kept == fresh
    assert [row[:2] for row in kept[0]] == [("acme", 2), ("globex", 1)]
    assert ("acme", "polici", 1) not in kept[1], "a term whose last chunk went is dropped"


async def test_a_failed_version_write_leaves_the_keyword_statistics_unchanged(
    pg_isolated_database: PostgresDatabase,
) -> None:
    documents = PostgresDocumentStore(pg_isolated_database)
    good = await make(pg_isolated_database)
    old = texts(A, ["vpn password reset", "printer toner"], document_id="doc")
    await documents.write_version(A, version_of(old), old, vectors=good)
    before = await recomputed_statistics(pg_isolated_database)
    failing = _FailingAfterWrite(pg_isolated_database, dimensions=8)
    await failing.setup()
    new = texts(A, ["kubernetes cluster upgrade"], document_id="doc", version=2)
    with pytest.raises(RuntimeError):
        await documents.write_version(
            A, version_of(new).model_copy(update={"version": 2}), new, vectors=failing
        )
    after = await recomputed_statistics(pg_isolated_database)
    assert after == before and after[0] == after[1]


async def test_another_store_instance_ranks_with_the_new_statistics_at_once(
    pg_isolated_database: PostgresDatabase,
) -> None:
    """Two processes on one database: the reader's BM25 reflects the writer's commit immediately."""
    writer = await make(pg_isolated_database)
    reader = await make(pg_isolated_database)
    words = ["vpn password reset", "vpn client slow", "printer toner", "password policy"]
    await writer.upsert(A, texts(A, words[:2], document_id="doc"))
    assert len(await reader.keyword_search(A, "vpn password")) == 2
    await writer.upsert(A, texts(A, words, document_id="doc"))
    await writer.upsert(B, texts(B, words, document_id="doc"))
    got = {h.record.id: h.score for h in await reader.keyword_search(A, "vpn password", top_k=10)}
    want = {h.record.id: h.score for h in await writer.keyword_search(B, "vpn password", top_k=10)}
    assert set(got) == {"r0", "r1", "r3"}
    assert got == pytest.approx(want)


async def test_the_statistics_migration_backfills_an_existing_table(
    pg_isolated_database: PostgresDatabase,
) -> None:
    """A table written before migration 3 gets statistics that match its chunks."""
    from motadata_ai.adapters.postgres.vector_store import vector_store_migrations

    before = vector_store_migrations("motadata_chunks", 8, "vector")[:2]
    await pg_isolated_database.apply_migrations("vectors.motadata_chunks", before)
    async with pg_isolated_database.pool.acquire() as conn:
        for tenant, rid, text in (
            ("acme", "r0", "vpn password reset"),
            ("acme", "r1", "vpn client slow"),
            ("globex", "r0", "printer toner"),
        ):
            await conn.execute(
                "INSERT INTO motadata_chunks (tenant_id, id, document_id, text, embedding) "
                "VALUES ($1, $2, 'doc', $3, $4)",
                tenant,
                rid,
                text,
                [1.0] + [0.0] * 7,
            )
    await make(pg_isolated_database)  # applies migration 3
    kept, fresh = await recomputed_statistics(pg_isolated_database)
    assert kept == fresh
    assert [row[:2] for row in kept[0]] == [("acme", 2), ("globex", 1)]
    assert ("acme", "vpn", 2) in kept[1]


def _scans(plan: Any, relation: Callable[[str], bool]) -> list[Any]:
    """Every node of the plan that scans a relation whose name ``relation`` accepts."""
    own = [plan] if relation(str(plan.get("Relation Name", ""))) else []
    return own + [scan for child in plan.get("Plans", []) for scan in _scans(child, relation)]


def _rows_read(scans: list[Any]) -> int:
    """Rows the scans returned, over every loop."""
    return sum(int(s["Actual Rows"] * s["Actual Loops"]) for s in scans)


def _chunk_rows_read(plan: Any, table: str) -> int:
    """Rows the plan's scans of the chunk table (or its partitions) returned, over every loop."""
    def chunks(name: str) -> bool:
        return name.startswith(table) and not name.startswith(f"{table}_kw")

    return _rows_read(_scans(plan, chunks))


async def test_keyword_search_reads_the_postings_not_every_matching_chunk(
    pg_isolated_database: PostgresDatabase,
) -> None:
    """BM25 comes from the maintained statistics and postings: a query whose terms all 60 chunks
    hold reads only the ``top_k`` chunks it returns from the chunk table."""
    store = await make(pg_isolated_database)
    batch = [
        r.model_copy(update={"text": f"printer toner {i} " + "jam " * (i % 4)})
        for i, r in enumerate(records(A, 60))
    ]
    await store.upsert(A, batch)
    hits = await store.keyword_search(A, "printer jam", top_k=3)
    assert [h.record.id for h in hits] == ["r11", "r15", "r19"]  # three "jam"s, shortest first by id
    where, args = store._where(A, {})
    sql = store._bm25_sql(where, len(args) + 1, filtered=False)
    async with pg_isolated_database.pool.acquire() as conn:
        plan = await conn.fetchval("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, *args, "printer jam", 3)
    assert _chunk_rows_read(json.loads(plan)[0]["Plan"], "motadata_chunks") == 3


async def _keyword_plan(
    database: PostgresDatabase, store: PgVectorStore, query: str, *settings: str
) -> Any:
    where, args = store._where(A, {})
    sql = store._bm25_sql(where, len(args) + 1, filtered=False)
    async with database.pool.acquire() as conn, conn.transaction():
        for setting in settings:
            await conn.execute(f"SET LOCAL {setting}")
        plan = await conn.fetchval("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, *args, query, 3)
    return json.loads(plan)[0]["Plan"]


async def test_keyword_search_looks_up_only_the_query_terms_frequencies_and_postings(
    pg_isolated_database: PostgresDatabase,
) -> None:
    """Each query term's document frequency is one primary-key lookup and its postings one
    primary-key range: a two-term query reads two rows of the tenant's 240 term statistics and the
    120 postings of its terms, not the tenant's 360, before any ANALYZE has told the planner their
    size (which once made it hash-join all of them)."""
    store = await make(pg_isolated_database)
    batch = [
        r.model_copy(update={"text": f"printer toner alpha{i} beta{i} gamma{i} delta{i}"})
        for i, r in enumerate(records(A, 60))
    ]
    await store.upsert(A, batch)
    plan = await _keyword_plan(pg_isolated_database, store, "printer toner")
    assert _rows_read(_scans(plan, "motadata_chunks_kw_terms".__eq__)) == 2
    assert _rows_read(_scans(plan, "motadata_chunks_kw_postings".__eq__)) == 120


async def test_keyword_postings_are_read_from_the_primary_key_alone(
    pg_isolated_database: PostgresDatabase,
) -> None:
    """The postings' primary key includes the term frequency and the chunk length, so once vacuumed
    a term's postings are read by an index-only scan without a heap fetch; it stays the unique key."""
    store = await make(pg_isolated_database)
    await store.upsert(
        A, [r.model_copy(update={"text": f"printer toner {i}"}) for i, r in enumerate(records(A, 60))]
    )
    async with pg_isolated_database.pool.acquire() as conn:
        await conn.execute("VACUUM (ANALYZE) motadata_chunks_kw_postings")
        key = await conn.fetchrow(
            "SELECT i.indisprimary, i.indnkeyatts, i.indnatts FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = 'motadata_chunks_kw_postings_pkey'"
        )
    assert tuple(key) == (True, 3, 5)  # (tenant_id, term, id) INCLUDE (tf, len)
    plan = await _keyword_plan(
        pg_isolated_database, store, "printer toner", "enable_seqscan = off", "enable_bitmapscan = off"
    )
    scans = _scans(plan, "motadata_chunks_kw_postings".__eq__)
    assert scans and all(s["Node Type"] == "Index Only Scan" for s in scans), scans
    assert sum(int(s["Heap Fetches"]) for s in scans) == 0
    assert [h.record.id for h in await store.keyword_search(A, "printer toner 7", top_k=1)] == ["r7"]


async def test_a_search_with_the_connections_default_settings_sends_no_set_first(
    postgres_dsn: str, pg_isolated_database: PostgresDatabase
) -> None:
    from motadata_ai.adapters.postgres.search_settings import search_session_settings

    database, statements = await one_connection_pool(
        postgres_dsn, pg_isolated_database, **search_session_settings(ef_search=100)
    )
    try:
        store = await make(database)
        await store.upsert(A, records(A, 12))
        statements.seen.clear()
        dense = await store.dense_search(A, [1.0, 0, 0, 0, 0, 0, 0, 0], top_k=3)
        keyword = await store.keyword_search(A, "chunk number 3", top_k=3)
        assert len(dense) == 3 and keyword[0].record.id == "r3"
        assert statements.sets() == []  # one round trip per search
        filtered = await store.dense_search(A, [1.0, 0, 0, 0, 0, 0, 0, 0], top_k=3, filters={"n": 1})
        assert {h.record.metadata["n"] for h in filtered} == {1}
        assert statements.sets() == [
            "SET plan_cache_mode = 'force_custom_plan'; SET hnsw.ef_search = '100'; "
            "SET hnsw.iterative_scan = 'relaxed_order'; SET enable_indexscan = 'on'"
        ]
        async with database.pool.acquire() as conn:  # released: back to the session defaults
            assert await conn.fetchval("SELECT current_setting('hnsw.iterative_scan')") == "off"
    finally:
        await database.close()


async def test_a_pool_without_the_search_defaults_gets_them_set_per_search(
    postgres_dsn: str, pg_isolated_database: PostgresDatabase
) -> None:
    database, statements = await one_connection_pool(postgres_dsn, pg_isolated_database)
    try:
        store = await make(database)
        await store.upsert(A, records(A, 12))
        statements.seen.clear()
        assert len(await store.dense_search(A, [1.0, 0, 0, 0, 0, 0, 0, 0], top_k=3)) == 3
        assert [s.split(";")[0] for s in statements.sets()] == ["SET plan_cache_mode = 'force_custom_plan'"]
    finally:
        await database.close()


async def test_a_large_tenants_searches_widen_ef_search_with_its_index(
    postgres_dsn: str, pg_isolated_database: PostgresDatabase
) -> None:
    from motadata_ai.adapters.postgres.search_settings import search_session_settings

    database, statements = await one_connection_pool(
        postgres_dsn, pg_isolated_database, **search_session_settings(ef_search=40)
    )
    try:
        options = {"ef_search": 40, "ef_search_rows": 100, "exact_search_below": 20}
        store = await make(database, **options)
        await store.upsert(A, records(A, 300))  # promoted with its 300 rows, then indexed
        await store.upsert(B, records(B, 25))  # promoted too, under ef_search_rows
        assert (await store.layout(A))["search"] == "hnsw"
        assert (store.ef_search_for("acme"), store.ef_search_for("globex")) == (120, 40)
        statements.seen.clear()
        hits = await store.dense_search(A, [1.0, 0, 0, 0, 0, 0, 0, 0], top_k=3)
        assert len(hits) == 3
        assert [s for s in statements.sets() if "ef_search" in s] == [
            "SET plan_cache_mode = 'force_custom_plan'; SET hnsw.ef_search = '120'; "
            "SET hnsw.iterative_scan = 'off'; SET enable_indexscan = 'on'"
        ]
        statements.seen.clear()
        assert len(await store.dense_search(B, [1.0, 0, 0, 0, 0, 0, 0, 0], top_k=3)) == 3
        assert statements.sets() == []  # the configured breadth: the connection's default
        other = await make(database, **options)  # another process's store reads the sizes back
        assert other.ef_search_for("acme") == 120
    finally:
        await database.close()


def test_ef_search_grows_with_the_index_and_stops_at_pgvectors_limit(
    pg_isolated_database: PostgresDatabase,
) -> None:
    store = PgVectorStore(pg_isolated_database, dimensions=8, ef_search=100)
    store._index_rows = {"small": 10_000, "large": 134_072, "huge": 2_000_000}
    assert [store.ef_search_for(t) for t in ("unknown", "small", "large", "huge")] == [100, 100, 269, 1000]


def _buffers(plan: Any) -> int:
    return int(plan.get("Shared Hit Blocks", 0)) + int(plan.get("Shared Read Blocks", 0))


async def test_vectors_stay_in_their_rows_so_an_exact_search_reads_no_toast(
    pg_isolated_database: PostgresDatabase,
) -> None:
    """A 384-dimension chunk with a long text is over PostgreSQL's TOAST target; its vector stays
    in the row (the text leaves it), in the shared partition and in a promoted tenant's own, so an
    exact search over N chunks reads their heap pages, not three TOAST pages per chunk."""
    import random

    rng = random.Random(7)
    n = 200
    store = PgVectorStore(pg_isolated_database, dimensions=384, exact_search_below=50)

    def long_records(tenant: TenantContext, count: int) -> list[VectorRecord]:
        return [
            VectorRecord(
                id=f"r{i}",
                tenant_id=tenant.tenant_id,
                document_id="doc",
                chunk_index=i,
                text=" ".join(rng.choice(("wing", "pressure", "flow", "heat", "shock")) for _ in range(300)),
                embedding=tuple(rng.uniform(-1, 1) for _ in range(384)),
            )
            for i in range(count)
        ]

    await store.setup()
    await store.upsert(A, long_records(A, 40))  # below the threshold: the shared partition
    await store.upsert(B, long_records(B, n))  # promoted to its own partition
    assert (await store.layout(A))["search"] == "exact" and (await store.layout(B))["search"] == "hnsw"
    async with pg_isolated_database.pool.acquire() as conn:
        storage = dict(
            await conn.fetch(
                "SELECT c.relname, a.attstorage FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
                "WHERE a.attname = 'embedding' AND c.relname = ANY($1::text[])",
                ["motadata_chunks", "motadata_chunks_shared", store.partition_name("globex")],
            )
        )
        assert set(storage.values()) == {b"p"} and len(storage) == 3, storage  # "char": bytes
        where, args = store._where(B, {})
        sql = store._dense_sql(where, len(args) + 1, exact=True)  # the exact scan, not the HNSW index
        query = [rng.uniform(-1, 1) for _ in range(384)]
        plan = await conn.fetchval("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + sql, *args, query, 10)
    read = _buffers(json.loads(plan)[0]["Plan"])
    assert read < n, f"{read} buffers for an exact search over {n} chunks"

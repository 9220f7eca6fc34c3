"""PgVectorStore: the VectorStorePort on PostgreSQL + pgvector, with per-tenant recall guarantees.

Tenant layout (see docs/vector_store.md for the measurements behind it):

- One table ``<table>`` LIST-partitioned by ``tenant_id``. Every row carries ``tenant_id`` and
  every statement filters on it; the primary key is ``(tenant_id, id)``.
- Small tenants share the DEFAULT partition ``<table>_shared``, which has no HNSW index: their
  dense search is an exact scan of their own rows (found through the primary key), so recall is
  1.0 and the cost grows with the tenant's size only.
- A tenant whose row count reaches ``exact_search_below`` is *promoted*: its rows move, in one
  transaction, into a partition of its own (``<table>_p_<hash>``), which then gets its own HNSW
  index (cosine distance, ``m``/``ef_construction``). A shared HNSW index filtered by tenant loses
  recall (the graph's neighbours mostly belong to other tenants); a per-tenant graph does not.
  Promotions are recorded in ``<table>_tenants``; partitions are created lazily, so thousands of
  tenants cost one partition per *large* tenant only.
- Queries go to the parent table with ``plan_cache_mode = force_custom_plan``, so PostgreSQL prunes
  to the tenant's partition at plan time and picks the HNSW index there (``hnsw.ef_search`` set per
  query; ``hnsw.iterative_scan = relaxed_order`` when metadata filters apply).
- Keyword search uses a stored ``tsvector`` (``to_tsvector('english', <table>_search_text(text))``)
  with a GIN index; ``<table>_search_text`` appends the character bigrams of each CJK run (kana,
  ideographs, Hangul: scripts without spaces between words) to the text, and queries go through
  the same function, so "天気" finds "今日の天気は晴れ" (the in-memory store analyses alike);
  query terms are OR-ed (``plainto_tsquery`` with ``&`` turned into ``|``) and matches are ranked by
  BM25 computed in SQL (``ts_rank_cd`` has no inverse document frequency: on Cranfield its nDCG@10
  is 0.24 against 0.37 for BM25) from statistics maintained with every chunk write, in its
  transaction: ``<table>_kw_stats`` (per tenant: chunks, total length), ``<table>_kw_terms``
  (per tenant and lexeme: document frequency) and ``<table>_kw_postings`` (per tenant, lexeme and
  chunk: term frequency and chunk length), so a query reads its terms' postings and the ``top_k``
  chunks it returns, never every chunk that matches.
- Writes stage rows with binary COPY into a temporary table and upsert from it in one statement.
  A document's chunks are written by :meth:`PostgresDocumentStore.write_version
  <motadata_ai.adapters.postgres.documents.PostgresDocumentStore.write_version>` inside the same
  transaction as its version row, through :meth:`PgVectorStore.stage_document` (before the
  transaction) and :meth:`PgVectorStore.replace_document_in` (inside it).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import struct
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Literal

import asyncpg
import numpy as np
from pgvector import HalfVector, Vector

from motadata_ai.adapters.defaults import (
    EXACT_SEARCH_BELOW,
    HNSW_EF_CONSTRUCTION,
    HNSW_EF_SEARCH,
    HNSW_M,
    RECALL_PROBES,
    RECALL_TARGET,
)
from motadata_ai.adapters.memory.vector_store import (
    CJK_CHARACTERS,
    check_delete_criteria,
    check_filters,
    check_ids,
    check_query_vector,
    check_records,
    check_top_k,
)
from motadata_ai.adapters.postgres.database import HotStatement, PostgresDatabase, is_rerouted_row
from motadata_ai.adapters.postgres.index_recall import Calibration, RecallCheck
from motadata_ai.adapters.postgres.migrations import Migration
from motadata_ai.adapters.postgres.search_settings import search_session_settings
from motadata_ai.adapters.postgres.session_reset import session_changed
from motadata_ai.domain.values.errors import ConfigurationError, ValidationError
from motadata_ai.domain.values.health import ComponentHealth
from motadata_ai.domain.values.tenancy import TenantContext
from motadata_ai.domain.values.vectors import MetadataFilter, SearchHit, VectorRecord
from motadata_ai.ports.vector_store import VectorStoreError, VectorStorePort, VectorStoreUnavailable

__all__ = ["PgVectorStore", "StagedChunks", "vector_store_migrations"]

Storage = Literal["vector", "halfvec"]
_TABLE = re.compile(r"[a-z_][a-z0-9_]{0,39}")
_MAX_DIMS = {"vector": 2000, "halfvec": 4000}  # pgvector's HNSW limits
_COLUMNS = ("tenant_id", "id", "document_id", "version", "chunk_index", "text", "metadata", "embedding")
_SELECT = "id, tenant_id, document_id, version, chunk_index, text, metadata, embedding"


def vector_store_migrations(table: str, dimensions: int, storage: Storage) -> list[Migration]:
    """The versioned schema of one vector table (component ``vectors.<table>``)."""
    ops = f"{storage}_cosine_ops"
    return [
        (
            1,
            "partitioned chunk table, shared default partition, tenant registry",
            f"""
            CREATE TABLE {table} (
                tenant_id   text    NOT NULL,
                id          text    NOT NULL,
                document_id text    NOT NULL,
                version     integer NOT NULL DEFAULT 1,
                chunk_index integer NOT NULL DEFAULT 0,
                text        text    NOT NULL,
                metadata    jsonb   NOT NULL DEFAULT '{{}}'::jsonb,
                embedding   {storage}({dimensions}) NOT NULL,
                tsv         tsvector GENERATED ALWAYS AS (to_tsvector('english', text)) STORED,
                PRIMARY KEY (tenant_id, id)
            ) PARTITION BY LIST (tenant_id);
            COMMENT ON TABLE {table} IS 'motadata-ai vectors: {storage}({dimensions}), {ops}';
            CREATE TABLE {table}_shared PARTITION OF {table} DEFAULT;
            CREATE INDEX {table}_document_idx ON {table} (tenant_id, document_id);
            CREATE INDEX {table}_tsv_idx ON {table} USING gin (tsv);
            CREATE INDEX {table}_metadata_idx ON {table} USING gin (metadata jsonb_path_ops);
            CREATE TABLE {table}_tenants (
                tenant_id   text        PRIMARY KEY,
                partition   text        NOT NULL,
                indexed     boolean     NOT NULL DEFAULT false,
                promoted_at timestamptz NOT NULL DEFAULT now()
            );
            """,
        ),
        (
            2,
            "keyword index over CJK character bigrams too",
            f"""
            CREATE OR REPLACE FUNCTION {table}_search_text(body text) RETURNS text
            LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $fn$
              SELECT CASE WHEN body !~ '[{CJK_CHARACTERS}]' THEN body ELSE
                regexp_replace(body, '[{CJK_CHARACTERS}]+', ' ', 'g') || ' ' || (
                  SELECT coalesce(string_agg(substr(run, i, 2), ' '), '')
                  FROM (SELECT m[1] AS run
                        FROM regexp_matches(body, '([{CJK_CHARACTERS}]+)', 'g') AS m) AS runs,
                       generate_series(1, greatest(length(run) - 1, 1)) AS i)
              END
            $fn$;
            ALTER TABLE {table} DROP COLUMN tsv;
            ALTER TABLE {table} ADD COLUMN tsv tsvector
                GENERATED ALWAYS AS (to_tsvector('english', {table}_search_text(text))) STORED;
            CREATE INDEX {table}_tsv_idx ON {table} USING gin (tsv);
            """,
        ),
        (
            3,
            "keyword statistics maintained with the chunk writes",
            f"""
            CREATE TABLE {table}_kw_stats (
                tenant_id    text   PRIMARY KEY,
                chunks       bigint NOT NULL,
                total_length bigint NOT NULL
            );
            CREATE TABLE {table}_kw_terms (
                tenant_id text    NOT NULL,
                term      text    NOT NULL,
                df        integer NOT NULL,
                PRIMARY KEY (tenant_id, term)
            );
            INSERT INTO {table}_kw_stats (tenant_id, chunks, total_length)
                SELECT tenant_id, count(*), coalesce(sum(length(tsv)), 0) FROM {table} GROUP BY tenant_id;
            INSERT INTO {table}_kw_terms (tenant_id, term, df)
                SELECT t.tenant_id, u.lexeme, count(*) FROM {table} t, unnest(t.tsv) u GROUP BY 1, 2;
            """,
        ),
        (
            4,
            "keyword postings maintained with the chunk writes",
            f"""
            CREATE TABLE {table}_kw_postings (
                tenant_id text    NOT NULL,
                term      text    NOT NULL,
                id        text    NOT NULL,
                tf        integer NOT NULL,
                len       integer NOT NULL,
                PRIMARY KEY (tenant_id, term, id)
            );
            INSERT INTO {table}_kw_postings (tenant_id, term, id, tf, len)
                SELECT t.tenant_id, u.lexeme, t.id, cardinality(u.positions), length(t.tsv)
                FROM {table} t, unnest(t.tsv) u;
            """,
        ),
        (
            5,
            "vectors kept in the row, out of TOAST",
            f"ALTER TABLE {table} ALTER COLUMN embedding SET STORAGE PLAIN;"
            if inline_vectors(dimensions, storage)
            else "SELECT 1;",
        ),
        (
            6,
            "keyword postings read from their primary key alone",
            f"""
            CREATE UNIQUE INDEX {table}_kw_postings_covering
                ON {table}_kw_postings (tenant_id, term, id) INCLUDE (tf, len);
            ALTER TABLE {table}_kw_postings
                DROP CONSTRAINT {table}_kw_postings_pkey,
                ADD CONSTRAINT {table}_kw_postings_pkey PRIMARY KEY USING INDEX {table}_kw_postings_covering;
            ALTER TABLE {table}_kw_postings
                SET (autovacuum_vacuum_insert_scale_factor = {POSTINGS_VACUUM_INSERT_SCALE});
            """,
        ),
        (
            7,
            "each tenant index's checked ef_search and recall",
            f"ALTER TABLE {table}_tenants ADD COLUMN ef_search integer, ADD COLUMN index_recall real;",
        ),
    ]


POSTINGS_VACUUM_INSERT_SCALE = 0.02
"""Autovacuum visits the postings table after inserts of 2 % of its rows (PostgreSQL's default is
20 %). A keyword search reads a term's postings from the primary key alone (it includes ``tf`` and
``len``), an index-only scan, but only on pages the visibility map marks all-visible, which a
vacuum does; rows inserted since the last one are fetched from the heap, one page per posting
(the postings of a term are written by different chunk writes, so they lie on different pages).
On Cranfield's 1,400 abstracts a 7-term query reads 1,499 postings: 5.0 ms from the heap, 1.9 ms
from the index alone."""


INLINE_VECTOR_BYTES = 4096
"""The largest vector kept in its row (``STORAGE PLAIN``): 1,022 ``vector`` or 2,046 ``halfvec``
dimensions. pgvector's types are stored ``EXTERNAL`` by default, so a chunk row over PostgreSQL's
2 kB TOAST target (a 384-dimension vector is 1.5 kB, its text and keyword vector come on top)
had its vector moved out of line: an exact search then read three TOAST pages per row it scored
(4,392 buffers and 3.3 ms for 1,400 Cranfield chunks, against 360 buffers and 1.1 ms with the
vectors in the row). With ``PLAIN`` the text and the keyword vector leave the row first; a larger
vector keeps the default, as a row must fit in a page."""


def inline_vectors(dimensions: int, storage: Storage) -> bool:
    """Whether a ``storage(dimensions)`` vector is kept in its row (:data:`INLINE_VECTOR_BYTES`)."""
    return dimensions * (2 if storage == "halfvec" else 4) + 8 <= INLINE_VECTOR_BYTES


class _PackedVector(Vector):
    """A vector already in pgvector's binary wire format (pgvector's codec sends ``to_binary()``)."""

    def __init__(self, binary: bytes) -> None:
        self._binary = binary

    def to_binary(self) -> bytes:
        return self._binary


class _PackedHalfVector(HalfVector):
    """A halfvec already in pgvector's binary wire format."""

    def __init__(self, binary: bytes) -> None:
        self._binary = binary

    def to_binary(self) -> bytes:
        return self._binary


@dataclass(frozen=True)
class StagedChunks:
    """A document's checked chunks, packed for COPY, ready to be written inside a transaction."""

    tenant: TenantContext
    document_id: str
    records: list[VectorRecord]
    packed: list[Any]


_HALF_MAX = 65504.0
_UPSERT_ATTEMPTS = 3


class _KeywordDelta:
    """The change a transaction makes to one tenant's keyword statistics (applied before commit)."""

    def __init__(self) -> None:
        self.chunks = 0
        self.length = 0
        self.terms: Counter[str] = Counter()

    def add(self, rows: Sequence[asyncpg.Record], sign: int) -> int:
        """Fold in the rows of :meth:`PgVectorStore._changed_sql` (``sign`` -1: removed); how many chunks."""
        chunks = 0
        for row in rows:
            if row["term"] is None:
                chunks = int(row["n"])
                self.chunks += sign * chunks
                self.length += sign * int(row["len"])
            else:
                self.terms[row["term"]] += sign * int(row["n"])
        return chunks

    def merge(self, other: _KeywordDelta) -> None:
        """Fold in another change."""
        self.chunks += other.chunks
        self.length += other.length
        self.terms.update(other.terms)


def _set_statement(settings: dict[str, str]) -> str:
    return "; ".join(f"SET {name} = '{value}'" for name, value in settings.items())


def _quote_literal(tenant_id: str) -> str:
    # tenant ids are validated to [A-Za-z0-9_.-]; quoting is belt and braces
    return "'" + tenant_id.replace("'", "''") + "'"


logger = logging.getLogger("motadata_ai.postgres.vector_store")


def _rows(reltuples: float | None) -> int:
    """A partition's row count from ``pg_class.reltuples`` (-1 or NULL before any ANALYZE: 0)."""
    return max(0, int(reltuples or 0))


EF_SEARCH_ROWS = 50_000
"""Rows of a tenant's index up to which its searches use the configured ``ef_search``."""


class PgVectorStore(VectorStorePort):
    """VectorStorePort on PostgreSQL + pgvector (see the module docstring for the tenant layout).

    ``exact_search_below``: a tenant with fewer rows is searched exactly in the shared partition;
    reaching it moves the tenant to its own HNSW-indexed partition. ``auto_promote=False`` leaves
    promotion to :meth:`reorganize`. ``storage="halfvec"`` halves the size of vectors and index.
    """

    def __init__(
        self,
        database: PostgresDatabase,
        *,
        dimensions: int,
        m: int = HNSW_M,
        ef_construction: int = HNSW_EF_CONSTRUCTION,
        ef_search: int = HNSW_EF_SEARCH,
        storage: Storage = "vector",
        table: str = "motadata_chunks",
        exact_search_below: int = EXACT_SEARCH_BELOW,
        auto_promote: bool = True,
        ef_search_rows: int = EF_SEARCH_ROWS,
        recall_target: float | None = RECALL_TARGET,
        recall_probes: int = RECALL_PROBES,
    ) -> None:
        if isinstance(dimensions, bool) or not isinstance(dimensions, int) or dimensions < 1:
            raise ConfigurationError(
                f"dimensions must be a positive integer, got {dimensions!r}", field="dimensions"
            )
        if storage not in _MAX_DIMS:
            raise ConfigurationError(
                f"storage must be 'vector' or 'halfvec', got {storage!r}", field="storage"
            )
        if dimensions > _MAX_DIMS[storage]:
            raise ConfigurationError(
                f"HNSW on {storage} supports at most {_MAX_DIMS[storage]} dimensions, got {dimensions}"
                + ("; use storage='halfvec'" if storage == "vector" else ""),
                field="dimensions",
            )
        if not isinstance(table, str) or _TABLE.fullmatch(table) is None:
            raise ConfigurationError(f"table {table!r} must match [a-z_][a-z0-9_]{{0,39}}", field="table")
        for name, value, low in (
            ("m", m, 2),
            ("ef_construction", ef_construction, 4),
            ("ef_search", ef_search, 1),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= 1000:
                raise ConfigurationError(
                    f"{name} must be an integer in {low}..1000, got {value!r}", field=name
                )
        if ef_construction < 2 * m:
            raise ConfigurationError(
                f"ef_construction ({ef_construction}) must be at least 2 * m ({2 * m})",
                field="ef_construction",
            )
        if (
            isinstance(exact_search_below, bool)
            or not isinstance(exact_search_below, int)
            or exact_search_below < 1
        ):
            raise ConfigurationError(
                "exact_search_below must be a positive integer", field="exact_search_below"
            )
        if isinstance(ef_search_rows, bool) or not isinstance(ef_search_rows, int) or ef_search_rows < 1:
            raise ConfigurationError("ef_search_rows must be a positive integer", field="ef_search_rows")
        if recall_target is not None and (
            isinstance(recall_target, bool) or not isinstance(recall_target, int | float)
            or not 0 < recall_target <= 1
        ):
            raise ConfigurationError("recall_target must be in (0, 1] or None", field="recall_target")
        if (
            isinstance(recall_probes, bool)
            or not isinstance(recall_probes, int)
            or not 1 <= recall_probes <= 1000
        ):
            raise ConfigurationError("recall_probes must be an integer in 1..1000", field="recall_probes")
        self.database = database
        self.dimensions = dimensions
        self.m = m
        self.ef_construction = ef_construction
        self.ef_search = ef_search
        self.storage: Storage = storage
        self.table = table
        self.exact_search_below = exact_search_below
        self.auto_promote = auto_promote
        self.ef_search_rows = ef_search_rows
        self._index_rows: dict[str, int] = {}  # promoted tenant -> rows its index held when built
        self._checked_ef: dict[str, int] = {}  # promoted tenant -> ef_search its recall check chose
        self._recall = None if recall_target is None else RecallCheck(float(recall_target), recall_probes)
        self._ready = False
        self._session: dict[str, str] = {}
        self._promoted: set[str] = set()
        self._deferred = 0
        self._rebuild = 0
        self._dropped: set[str] = set()
        self._stage = f"motadata_stage_{table}"

    # -- setup and layout -------------------------------------------------------------------------

    @property
    def component(self) -> str:
        """The migration component name of this table."""
        return f"vectors.{self.table}"

    def _errors(self, tenant: TenantContext | None = None) -> Any:
        fields = {"tenant_id": tenant.tenant_id} if tenant is not None else {}
        return self.database.translate_errors(VectorStoreUnavailable, VectorStoreError, **fields)

    async def health(self) -> ComponentHealth:
        """The database's health (one ``SELECT 1``), naming the chunk table."""
        report = await self.database.health()
        return report.model_copy(update={"details": {**report.details, "component": "vector_store"}})

    async def setup(self) -> None:
        """Apply migrations, check the stored dimensions, and load the promoted-tenant registry."""
        with self._errors():
            await self.database.apply_migrations(
                self.component, vector_store_migrations(self.table, self.dimensions, self.storage)
            )
            async with self.database.pool.acquire() as conn:
                stored = await conn.fetchval(
                    "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
                    "WHERE attrelid = to_regclass($1) AND attname = 'embedding'",
                    self.table,
                )
                promoted = await conn.fetch(
                    f"SELECT t.tenant_id, t.indexed, t.ef_search, c.reltuples FROM {self.table}_tenants t "
                    "LEFT JOIN pg_class c ON c.oid = to_regclass(t.partition)"
                )
        expected = f"{self.storage}({self.dimensions})"
        if stored != expected:
            raise ConfigurationError(
                f"table {self.table} stores {stored}, but the store is configured for {expected}; "
                "use another table name or the matching dimensions/storage",
                field="dimensions",
                expected=expected,
                actual=stored,
            )
        self._promoted = {r["tenant_id"] for r in promoted}
        self._index_rows = {r["tenant_id"]: _rows(r["reltuples"]) for r in promoted}
        self._checked_ef = {r["tenant_id"]: r["ef_search"] for r in promoted if r["ef_search"] is not None}
        self._session = await self._session_defaults()
        self._ready = True
        for row in promoted:
            if not row["indexed"]:
                await self._build_index(row["tenant_id"])

    def ef_search_for(self, tenant_id: str) -> int:
        """The ``hnsw.ef_search`` of the tenant's searches: ``ef_search`` up to ``ef_search_rows``
        rows in its index, then growing in proportion to them (at most 1,000, pgvector's limit).

        At a fixed ``ef_search`` HNSW's recall falls as its graph grows: on 134,072 clustered
        384-d vectors ``benchmarks/vector_search.py --sweep`` measured recall@10 0.923 at 100
        against 0.970 at 200 (``docs/vector_store.md``). The size is the row count the tenant's
        partition had when its index was last built (``reltuples`` after ``ANALYZE``, read again
        at :meth:`setup`). Where the index's recall check chose a wider breadth
        (:mod:`~motadata_ai.adapters.postgres.index_recall`), that one.
        """
        return max(self._ef_for_rows(tenant_id), self._checked_ef.get(tenant_id, 0))

    def _ef_for_rows(self, tenant_id: str) -> int:
        rows = self._index_rows.get(tenant_id, 0)
        return min(1000, max(self.ef_search, -(-self.ef_search * rows // self.ef_search_rows)))

    async def _session_defaults(self) -> dict[str, str]:
        # what a pooled connection starts with (the pool resets it to these on release)
        names = list(search_session_settings(ef_search=self.ef_search))
        with self._errors():
            async with self.database.pool.acquire() as conn:
                row = await conn.fetchrow(
                    "SELECT " + ", ".join(f"current_setting(${i}, true)" for i in range(1, len(names) + 1)),
                    *names,
                )
        return {name: row[i] for i, name in enumerate(names) if row[i] is not None}

    async def _apply_search_settings(self, conn: asyncpg.Connection, settings: dict[str, str]) -> None:
        """Set ``settings`` on ``conn`` for one search, unless they are its session defaults already.

        Set per search, in one round trip, and cleared by the pool's ``RESET ALL`` on release (sent
        only for a connection marked by :func:`~.session_reset.session_changed`): the
        per-query scope of ``SET LOCAL`` without the two round trips of ``BEGIN``/``COMMIT``.
        """
        if settings != self._session:
            session_changed(conn)  # first: a SET cut short still leaves a connection that is reset
            await conn.execute(_set_statement(settings))

    async def _ensure_ready(self) -> None:
        if not self._ready:
            await self.setup()

    def partition_name(self, tenant_id: str) -> str:
        """The name of the tenant's own partition once promoted."""
        return f"{self.table}_p_{hashlib.sha1(tenant_id.encode()).hexdigest()[:16]}"

    async def layout(self, tenant: TenantContext | str) -> dict[str, Any]:
        """Where the tenant's rows live and how they are searched (for operators and tests)."""
        tenant = TenantContext.of(tenant)
        await self._ensure_ready()
        with self._errors(tenant):
            async with self.database.pool.acquire() as conn:
                row = await conn.fetchrow(
                    f"SELECT partition, indexed, index_recall FROM {self.table}_tenants WHERE tenant_id = $1",
                    tenant.tenant_id,
                )
        if row is None:
            return {
                "partition": f"{self.table}_shared", "search": "exact", "indexed": False,
                "ef_search": None, "recall": None,
            }
        return {
            "partition": row["partition"],
            "search": "hnsw" if row["indexed"] else "exact",
            "indexed": row["indexed"],
            "ef_search": self.ef_search_for(tenant.tenant_id) if row["indexed"] else None,
            "recall": None if row["index_recall"] is None else round(float(row["index_recall"]), 4),
        }

    @asynccontextmanager
    async def bulk_load(self, *, rebuild_indexes: bool = False) -> AsyncIterator[None]:
        """Defer promotions while loading many records, then promote (and index) once at the end.

        Building an HNSW index over loaded rows is much faster than inserting them one by one
        into an existing graph. ``rebuild_indexes=True`` also drops the HNSW index of each
        already-promoted tenant written inside the block (its searches are exact meanwhile) and
        rebuilds it at the end: worth it when the load is large next to the tenant's size.
        Indexes are rebuilt even when the block raises.
        """
        self._deferred += 1
        if rebuild_indexes:
            self._rebuild += 1
        try:
            yield
        finally:
            self._deferred -= 1
            if rebuild_indexes:
                self._rebuild -= 1
            if self._deferred == 0:
                self._dropped.clear()
                await self.reorganize()

    async def reorganize(self) -> list[str]:
        """Promote every shared-partition tenant at or above ``exact_search_below``, build any
        missing HNSW index, and check the recall of any index not checked yet (built before the
        check existed, or by a process stopped before it ran); return the tenants promoted."""
        await self._ensure_ready()
        with self._errors():
            async with self.database.pool.acquire() as conn:
                rows = await conn.fetch(
                    f"SELECT tenant_id FROM {self.table}_shared GROUP BY tenant_id HAVING count(*) >= $1",
                    self.exact_search_below,
                )
                unindexed = await conn.fetch(f"SELECT tenant_id FROM {self.table}_tenants WHERE NOT indexed")
                unchecked = await conn.fetch(
                    f"SELECT tenant_id FROM {self.table}_tenants WHERE indexed AND ef_search IS NULL"
                )
        promoted = []
        for row in rows:
            await self.promote(row["tenant_id"])
            promoted.append(row["tenant_id"])
        for row in unindexed:
            await self._build_index(row["tenant_id"])
        for row in unchecked:
            await self.check_recall(row["tenant_id"])
        return promoted

    async def _drop_index_for_load(self, tenant: TenantContext) -> None:
        tenant_id = tenant.tenant_id
        if not self._rebuild or tenant_id not in self._promoted or tenant_id in self._dropped:
            return
        self._dropped.add(tenant_id)
        part = self.partition_name(tenant_id)
        with self._errors(tenant):
            async with self.database.pool.acquire() as conn, conn.transaction():
                await conn.execute(
                    "SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))", self.component, tenant_id
                )
                await conn.execute(
                    f"UPDATE {self.table}_tenants SET indexed = false, ef_search = NULL, "
                    "index_recall = NULL WHERE tenant_id = $1",
                    tenant_id,
                )
                await conn.execute(f"DROP INDEX IF EXISTS {part}_hnsw")
        self._checked_ef.pop(tenant_id, None)

    async def promote(self, tenant: TenantContext | str) -> None:
        """Move the tenant into its own partition and build its HNSW index (idempotent)."""
        tenant = TenantContext.of(tenant)
        await self._ensure_ready()
        tenant_id = tenant.tenant_id
        part = self.partition_name(tenant_id)
        cols = ", ".join(_COLUMNS)
        with self._errors(tenant):
            async with self.database.pool.acquire() as conn, conn.transaction():
                await conn.execute(
                    "SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))", self.component, tenant_id
                )
                exists = await conn.fetchval(
                    f"SELECT 1 FROM {self.table}_tenants WHERE tenant_id = $1", tenant_id
                )
                if not exists:
                    # Writers to the shared partition wait for the move (reads go on).
                    await conn.execute(f"LOCK TABLE {self.table}_shared IN SHARE ROW EXCLUSIVE MODE")
                    await conn.execute(
                        f"CREATE TABLE {part} (LIKE {self.table} INCLUDING DEFAULTS INCLUDING GENERATED "
                        "INCLUDING CONSTRAINTS INCLUDING STORAGE)"  # storage: the vectors in the row
                    )
                    await conn.execute(
                        f"INSERT INTO {part} ({cols}) "
                        f"SELECT {cols} FROM {self.table}_shared WHERE tenant_id = $1",
                        tenant_id,
                    )
                    await conn.execute(f"DELETE FROM {self.table}_shared WHERE tenant_id = $1", tenant_id)
                    await conn.execute(
                        f"ALTER TABLE {self.table} ATTACH PARTITION {part} "
                        f"FOR VALUES IN ({_quote_literal(tenant_id)})"
                    )
                    await conn.execute(
                        f"INSERT INTO {self.table}_tenants (tenant_id, partition) VALUES ($1, $2)",
                        tenant_id,
                        part,
                    )
        self._promoted.add(tenant_id)
        await self._build_index(tenant_id)

    async def _build_index(self, tenant_id: str) -> None:
        part = self.partition_name(tenant_id)
        with self._errors():
            async with self.database.pool.acquire() as conn, conn.transaction():
                await conn.execute(
                    "SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))", self.component, tenant_id
                )
                indexed = await conn.fetchval(
                    f"SELECT indexed FROM {self.table}_tenants WHERE tenant_id = $1", tenant_id
                )
                if indexed is None or indexed:
                    return
                await conn.execute("SET LOCAL maintenance_work_mem = '256MB'")
                await conn.execute(
                    f"CREATE INDEX IF NOT EXISTS {part}_hnsw ON {part} USING hnsw "
                    f"(embedding {self.storage}_cosine_ops) WITH (m = {self.m}, "
                    f"ef_construction = {self.ef_construction})"
                )
                await conn.execute(f"ANALYZE {part}")
                rows = await conn.fetchval("SELECT reltuples FROM pg_class WHERE oid = to_regclass($1)", part)
                await conn.execute(
                    f"UPDATE {self.table}_tenants SET indexed = true, ef_search = NULL, "
                    "index_recall = NULL WHERE tenant_id = $1",
                    tenant_id,
                )
        self._index_rows[tenant_id] = _rows(rows)
        self._checked_ef.pop(tenant_id, None)
        try:
            await self.check_recall(tenant_id)
        except VectorStoreError as error:  # the index is built and committed: it stays, unchecked
            logger.warning(
                "the recall check of %s's index failed (%s); reorganize() runs it again", tenant_id, error
            )

    async def check_recall(self, tenant: TenantContext | str) -> Calibration | None:
        """Measure the recall of the tenant's HNSW index and keep the ``ef_search`` that reaches
        ``recall_target`` for its searches (:mod:`~motadata_ai.adapters.postgres.index_recall`);
        run after every index build. Returns the :class:`Calibration` kept, or ``None`` when the check
        is off, the tenant has no index, or its index was rebuilt while the check ran (the result
        is then the old index's and is not kept: the rebuild runs its own check)."""
        tenant_id = TenantContext.of(tenant).tenant_id
        if self._recall is None:
            return None
        part = self.partition_name(tenant_id)
        index = f"{part}_hnsw"
        with self._errors():
            async with self.database.pool.acquire() as conn:
                # the index's identity (a rebuild, another process's or a bulk load's, is a new
                # one) and the partition's size (for a tenant another process promoted)
                found = await conn.fetchrow(
                    f"SELECT to_regclass($2)::oid AS built, c.reltuples FROM {self.table}_tenants t "
                    "LEFT JOIN pg_class c ON c.oid = to_regclass(t.partition) "
                    "WHERE t.tenant_id = $1 AND t.indexed",
                    tenant_id,
                    index,
                )
                if found is None or found["built"] is None:
                    return None
                built = found["built"]
                self._index_rows.setdefault(tenant_id, _rows(found["reltuples"]))
                checked = await self._recall.calibrate(conn, part, start=self._ef_for_rows(tenant_id))
                kept = await conn.fetchval(
                    f"UPDATE {self.table}_tenants SET ef_search = $2, index_recall = $3 "
                    "WHERE tenant_id = $1 AND indexed AND to_regclass($4)::oid = $5 RETURNING true",
                    tenant_id,
                    checked.ef_search,
                    checked.recall,
                    index,
                    built,
                )
        if not kept:
            return None
        self._checked_ef[tenant_id] = checked.ef_search
        return checked

    async def _maybe_promote(self, tenant: TenantContext) -> None:
        if not self.auto_promote or self._deferred or tenant.tenant_id in self._promoted:
            return
        # the chunk count the keyword statistics keep in every write's transaction: one primary
        # key read, where counting the shared partition's rows grew with the tenant (up to
        # ``exact_search_below`` rows read after each write); a tenant not promoted yet has all
        # its chunks in the shared partition, so the two counts are the same
        with self._errors(tenant):
            async with self.database.pool.acquire() as conn:
                size = await conn.fetchval(
                    f"SELECT chunks FROM {self.table}_kw_stats WHERE tenant_id = $1", tenant.tenant_id
                )
        if (size or 0) >= self.exact_search_below:
            await self.promote(tenant)

    # -- writes -----------------------------------------------------------------------------------

    def _packed(self, batch: list[VectorRecord]) -> list[Any]:
        # One numpy conversion per batch instead of one pgvector object per row: several times
        # faster, and COPY throughput is bounded by this client on a small machine.
        if not batch:
            return []
        matrix = np.asarray([r.embedding for r in batch], dtype=np.float32)
        header = struct.pack(">HH", self.dimensions, 0)
        if self.storage == "halfvec":
            too_big = np.abs(matrix).max(axis=1) > _HALF_MAX
            if too_big.any():
                bad = batch[int(np.argmax(too_big))]
                raise ValidationError(
                    f"record {bad.id!r} embedding holds values beyond halfvec's range (±{_HALF_MAX:g})",
                    field="embedding",
                    record_id=bad.id,
                )
            return [_PackedHalfVector(header + row.tobytes()) for row in matrix.astype(">f2")]
        return [_PackedVector(header + row.tobytes()) for row in matrix.astype(">f4")]

    async def _write(
        self, conn: asyncpg.Connection, batch: list[VectorRecord], packed: list[Any]
    ) -> _KeywordDelta:
        """Inside the caller's transaction: replace the records by id; the statistics change."""
        await conn.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {self._stage} ("
            "tenant_id text, id text, document_id text, version integer, chunk_index integer, "
            f"text text, metadata jsonb, embedding {self.storage}({self.dimensions})) ON COMMIT DELETE ROWS"
        )
        await conn.copy_records_to_table(
            self._stage,
            records=[
                (
                    r.tenant_id,
                    r.id,
                    r.document_id,
                    r.version,
                    r.chunk_index,
                    r.text,
                    json.dumps(r.metadata) if r.metadata else "{}",
                    vector,
                )
                for r, vector in zip(batch, packed, strict=True)
            ],
            columns=_COLUMNS,
        )
        cols = ", ".join(_COLUMNS)
        # New ids are inserted; an id already stored is replaced by delete + insert, so the
        # statistics lose the old text and gain the new one (ON CONFLICT DO UPDATE cannot return
        # the old row before PostgreSQL 18). The common all-new batch costs one statement.
        delta = _KeywordDelta()
        written = await conn.fetch(
            self._changed_sql(
                f"INSERT INTO {self.table} ({cols}) SELECT {cols} FROM {self._stage} "
                "ON CONFLICT (tenant_id, id) DO NOTHING RETURNING tenant_id, id, tsv",
                added=True,
                with_ids=True,
            )
        )
        delta.add(written, 1)
        inserted = {rid for row in written if row["term"] is None for rid in row["ids"] or ()}
        stored = [r.id for r in batch if r.id not in inserted]
        if stored:
            # by tenant and id list (one tenant per batch): pruned to its partition, primary key
            replaced = await conn.fetch(
                self._changed_sql(
                    f"DELETE FROM {self.table} WHERE tenant_id = $1 AND id = ANY($2::text[]) "
                    "RETURNING tenant_id, id, tsv",
                    added=False,
                ),
                batch[0].tenant_id,
                stored,
            )
            delta.add(replaced, -1)
            again = await conn.fetch(
                self._changed_sql(
                    f"INSERT INTO {self.table} ({cols}) SELECT {cols} FROM {self._stage} "
                    "WHERE id = ANY($1::text[]) RETURNING tenant_id, id, tsv",
                    added=True,
                ),
                stored,
            )
            delta.add(again, 1)
        return delta

    def _changed_sql(self, statement: str, *, added: bool, with_ids: bool = False) -> str:
        # The keyword statistics change of an INSERT/DELETE ... RETURNING tenant_id, id, tsv, in the
        # statement's round trip: its postings are added (``added``) or removed in the same
        # statement, and it returns one row first (term NULL) with the chunk count and total length
        # (and, ``with_ids``, the ids written: the statement then returns id too), then one row per
        # lexeme with the number of chunks holding it.
        ids = "array_agg(id)" if with_ids else "NULL::text[]"
        postings = f"{self.table}_kw_postings"
        if added:
            posting = (
                f"INSERT INTO {postings} (tenant_id, term, id, tf, len) "
                "SELECT c.tenant_id, u.lexeme, c.id, cardinality(u.positions), length(c.tsv) "
                "FROM changed c, unnest(c.tsv) u"
            )
        else:
            posting = (
                f"DELETE FROM {postings} p USING changed c, unnest(c.tsv) u "
                "WHERE p.tenant_id = c.tenant_id AND p.term = u.lexeme AND p.id = c.id"
            )
        return (
            f"WITH changed AS ({statement}), posted AS ({posting}) "
            "SELECT * FROM (SELECT NULL::text AS term, count(*) AS n, coalesce(sum(length(tsv)), 0) AS len, "
            f"{ids} AS ids FROM changed) AS totals "
            "UNION ALL SELECT u.lexeme, count(*), 0, NULL "
            "FROM changed, unnest(changed.tsv) u GROUP BY u.lexeme"
        )

    async def _apply_delta(self, conn: asyncpg.Connection, tenant_id: str, delta: _KeywordDelta) -> None:
        """Inside the write's transaction: add ``delta`` to the tenant's maintained statistics.

        The tenant's statistics row is updated first, so concurrent writers of one tenant queue
        on it (until commit) before touching any term row: no deadlock between term rows.
        """
        terms = sorted((term, n) for term, n in delta.terms.items() if n)
        if not delta.chunks and not delta.length and not terms:
            return
        # One statement: the tenant row first (the term insert waits on the InitPlan that reads
        # its result), then the terms in order, each probing the primary key (ON CONFLICT).
        await conn.execute(
            f"WITH s AS (INSERT INTO {self.table}_kw_stats AS s (tenant_id, chunks, total_length) "
            "VALUES ($1, $2, $3) ON CONFLICT (tenant_id) DO UPDATE "
            "SET chunks = s.chunks + EXCLUDED.chunks, total_length = s.total_length + EXCLUDED.total_length "
            "RETURNING 1 AS done) "
            f"INSERT INTO {self.table}_kw_terms AS k (tenant_id, term, df) "
            "SELECT $1, d.term, d.n FROM unnest($4::text[], $5::integer[]) AS d(term, n) "
            "WHERE (SELECT count(*) FROM s) > 0 ORDER BY d.term "
            "ON CONFLICT (tenant_id, term) DO UPDATE SET df = k.df + EXCLUDED.df",
            tenant_id,
            delta.chunks,
            delta.length,
            [t for t, _ in terms],
            [n for _, n in terms],
        )
        fallen = [t for t, n in terms if n < 0]
        if fallen:  # terms whose last chunk may have gone
            await conn.execute(
                f"DELETE FROM {self.table}_kw_terms "
                "WHERE tenant_id = $1 AND term = ANY($2::text[]) AND df <= 0",
                tenant_id,
                fallen,
            )

    async def upsert(self, tenant: TenantContext, records: Sequence[VectorRecord]) -> int:
        """Insert or replace records by id (binary COPY into a staging table, then one upsert)."""
        tenant = TenantContext.of(tenant)
        batch = check_records(tenant, records, self.dimensions)
        if not batch:
            return 0
        packed = self._packed(batch)
        await self._ensure_ready()
        await self._drop_index_for_load(tenant)
        with self._errors(tenant):
            for attempt in range(1, _UPSERT_ATTEMPTS + 1):
                try:
                    async with self.database.pool.acquire() as conn, conn.transaction():
                        delta = await self._write(conn, batch, packed)
                        await self._apply_delta(conn, tenant.tenant_id, delta)
                    break
                except asyncpg.PostgresError as error:
                    # another transaction inserted one of these ids meanwhile, or promoted the
                    # tenant while this write waited to go into the shared partition: write again
                    again = isinstance(error, asyncpg.UniqueViolationError) or is_rerouted_row(error)
                    if not again or attempt == _UPSERT_ATTEMPTS:
                        raise
            await self.database.record_write(tenant.tenant_id)
        await self._maybe_promote(tenant)
        return len(batch)

    async def stage_document(
        self, tenant: TenantContext, document_id: str, records: list[VectorRecord]
    ) -> StagedChunks:
        """Pack already checked chunks of one document and make the table ready (no transaction yet).

        Part of the one-transaction write of a document version: the caller then opens the
        transaction and calls :meth:`replace_document_in`, and :meth:`document_written` after commit.
        """
        packed = self._packed(records)
        await self._ensure_ready()
        await self._drop_index_for_load(tenant)
        return StagedChunks(tenant=tenant, document_id=document_id, records=records, packed=packed)

    async def replace_document_in(self, conn: asyncpg.Connection, staged: StagedChunks) -> None:
        """Inside the caller's transaction on ``conn``: swap the document's chunks for the staged ones
        (and update the tenant's keyword statistics in the same transaction)."""
        delta = _KeywordDelta()
        removed = await conn.fetch(
            self._changed_sql(
                f"DELETE FROM {self.table} WHERE tenant_id = $1 AND document_id = $2 "
                "RETURNING tenant_id, id, tsv",
                added=False,
            ),
            staged.tenant.tenant_id,
            staged.document_id,
        )
        delta.add(removed, -1)
        if staged.records:
            delta.merge(await self._write(conn, staged.records, staged.packed))
        await self._apply_delta(conn, staged.tenant.tenant_id, delta)

    async def ensure_ready(self) -> None:
        """Run :meth:`setup` unless it has run (before opening a transaction that writes chunks)."""
        await self._ensure_ready()

    async def delete_document_in(
        self, conn: asyncpg.Connection, tenant: TenantContext, document_id: str
    ) -> int:
        """Inside the caller's transaction on ``conn``: delete the document's chunks; how many."""
        delta = _KeywordDelta()
        removed = await conn.fetch(
            self._changed_sql(
                f"DELETE FROM {self.table} WHERE tenant_id = $1 AND document_id = $2 "
                "RETURNING tenant_id, id, tsv",
                added=False,
            ),
            tenant.tenant_id,
            document_id,
        )
        chunks = delta.add(removed, -1)
        await self._apply_delta(conn, tenant.tenant_id, delta)
        return chunks

    async def document_written(self, tenant: TenantContext) -> None:
        """After a committed document write: promote the tenant when due.

        The write is already durable, so a failing promotion must not turn it into an error: it
        is left for the next write (or :meth:`reorganize`) to retry.
        """
        try:
            with self._errors(tenant):
                await self.database.record_write(tenant.tenant_id)
            await self._maybe_promote(tenant)
        except VectorStoreError:
            return

    async def delete(
        self,
        tenant: TenantContext,
        *,
        ids: Sequence[str] | None = None,
        document_id: str | None = None,
        filters: MetadataFilter | None = None,
    ) -> int:
        """Delete the tenant's records matching every given criterion; return how many."""
        tenant = TenantContext.of(tenant)
        check_delete_criteria(ids, document_id, filters)
        where, args = self._where(tenant, check_filters(filters))
        if ids is not None:
            args.append(list(ids))
            where += f" AND id = ANY(${len(args)}::text[])"
        if document_id is not None:
            args.append(document_id)
            where += f" AND document_id = ${len(args)}"
        await self._ensure_ready()
        with self._errors(tenant):
            async with self.database.pool.acquire() as conn, conn.transaction():
                delta = _KeywordDelta()
                removed = await conn.fetch(
                    self._changed_sql(
                        f"DELETE FROM {self.table} WHERE {where} RETURNING tenant_id, id, tsv", added=False
                    ),
                    *args,
                )
                deleted = delta.add(removed, -1)
                await self._apply_delta(conn, tenant.tenant_id, delta)
            await self.database.record_write(tenant.tenant_id)
        return deleted

    # -- reads ------------------------------------------------------------------------------------

    @staticmethod
    def _where(tenant: TenantContext, filters: MetadataFilter) -> tuple[str, list[Any]]:
        args: list[Any] = [tenant.tenant_id]
        clauses = ["tenant_id = $1"]
        for key, value in filters.items():
            if isinstance(value, list | tuple):
                args.append(key)
                args.append([json.dumps(v) for v in value])
                clauses.append(f"(metadata -> ${len(args) - 1}) = ANY(${len(args)}::jsonb[])")
            else:
                args.append(json.dumps({key: value}))
                clauses.append(f"metadata @> ${len(args)}::jsonb")
        return " AND ".join(clauses), args

    def _record(self, row: asyncpg.Record) -> VectorRecord:
        return VectorRecord.model_construct(
            id=row["id"],
            tenant_id=row["tenant_id"],
            document_id=row["document_id"],
            version=row["version"],
            chunk_index=row["chunk_index"],
            text=row["text"],
            embedding=tuple(row["embedding"].to_list()),
            metadata=json.loads(row["metadata"]),
        )

    async def dense_search(
        self,
        tenant: TenantContext,
        vector: Sequence[float],
        *,
        top_k: int = 5,
        filters: MetadataFilter | None = None,
        min_score: float | None = None,
    ) -> list[SearchHit]:
        """Nearest records by cosine similarity (score = 1 - cosine distance), best first."""
        return await self._dense(
            tenant, vector, top_k=top_k, filters=filters, min_score=min_score, exact=False
        )

    async def exact_search(
        self,
        tenant: TenantContext,
        vector: Sequence[float],
        *,
        top_k: int = 5,
        filters: MetadataFilter | None = None,
        min_score: float | None = None,
    ) -> list[SearchHit]:
        """Like :meth:`dense_search` but never through an approximate index (the ground truth)."""
        return await self._dense(
            tenant, vector, top_k=top_k, filters=filters, min_score=min_score, exact=True
        )

    async def _dense(
        self,
        tenant: TenantContext,
        vector: Sequence[float],
        *,
        top_k: int,
        filters: MetadataFilter | None,
        min_score: float | None,
        exact: bool,
    ) -> list[SearchHit]:
        tenant = TenantContext.of(tenant)
        check_top_k(top_k)
        query = check_query_vector(vector, self.dimensions)
        wanted = check_filters(filters)
        if min_score is not None and not isinstance(min_score, int | float):
            raise ValidationError("min_score must be a number", field="min_score")
        where, args = self._where(tenant, wanted)
        args.append(query)
        args.append(top_k)
        settings = search_session_settings(
            ef_search=max(self.ef_search_for(tenant.tenant_id), top_k),
            iterative=bool(wanted) and not exact,
        )
        sql = self._dense_sql(where, len(args) - 1, exact=exact)
        await self._ensure_ready()

        async def search(conn: asyncpg.Connection) -> list[asyncpg.Record]:
            await self._apply_search_settings(conn, settings)
            return list(await conn.fetch(sql, *args))

        with self._errors(tenant):
            rows = await self.database.read(search, tenant_id=tenant.tenant_id)
        hits = []
        for row in rows:
            distance = row["distance"]
            score = 0.0 if distance != distance else 1.0 - float(distance)  # NaN: zero stored vector
            if min_score is not None and score < min_score:
                continue
            hits.append(SearchHit.model_construct(record=self._record(row), score=score))
        return hits

    async def keyword_search(
        self, tenant: TenantContext, query: str, *, top_k: int = 5, filters: MetadataFilter | None = None
    ) -> list[SearchHit]:
        """Full-text matches (English stemming, terms OR-ed) ranked by BM25, best first."""
        tenant = TenantContext.of(tenant)
        check_top_k(top_k)
        if not isinstance(query, str):
            raise ValidationError("query must be a string", field="query")
        if "\x00" in query:
            raise ValidationError("query holds a NUL character", field="query")
        if not query.strip():
            return []
        wanted = check_filters(filters)
        await self._ensure_ready()
        where, args = self._where(tenant, wanted)
        args += [query, top_k]

        async def search(conn: asyncpg.Connection) -> list[asyncpg.Record]:
            await self._apply_search_settings(conn, search_session_settings(ef_search=self.ef_search))
            return list(await conn.fetch(self._bm25_sql(where, len(args) - 1, filtered=bool(wanted)), *args))

        with self._errors(tenant):
            rows = await self.database.read(search, tenant_id=tenant.tenant_id)
        return [SearchHit.model_construct(record=self._record(r), score=float(r["score"])) for r in rows]

    def _dense_sql(self, where: str, first: int, *, exact: bool = False) -> str:
        # $first: the query vector, then top_k. An exact search orders by an expression no index
        # serves: with ``enable_indexscan`` off alone, PostgreSQL 18 still scanned a promoted
        # tenant's HNSW index (a disabled path, chosen through the partitioned parent), so
        # "exact" hits were approximate
        qv = f"${first}::{self.storage}"
        order = f"(embedding <=> {qv}) + 0" if exact else f"embedding <=> {qv}"
        return (
            f"WITH nearest AS MATERIALIZED (SELECT {_SELECT}, embedding <=> {qv} AS distance "
            f"FROM {self.table} WHERE {where} ORDER BY {order} LIMIT ${first + 1}) "
            "SELECT * FROM nearest ORDER BY distance, id"
        )

    def hot_statements(self, probe_tenant: str) -> tuple[HotStatement, ...]:
        """The dense and the keyword search without metadata filters, as every query runs them,
        for :meth:`~motadata_ai.adapters.postgres.database.PostgresDatabase.prepare_statements`;
        probed for ``probe_tenant`` (a tenant that holds no data: they find nothing)."""
        tenant = TenantContext(tenant_id=probe_tenant)
        where, args = self._where(tenant, {})
        vector = check_query_vector((0.0,) * (self.dimensions - 1) + (1.0,), self.dimensions)
        return (
            HotStatement(self._dense_sql(where, len(args) + 1), probe=(*args, vector, 1)),
            HotStatement(
                self._bm25_sql(where, len(args) + 1, filtered=False), probe=(*args, "warm up", 1)
            ),
        )

    def _bm25_sql(self, where: str, first: int, *, filtered: bool) -> str:
        # $first: query text, then top_k. BM25 (k1=1.2, b=0.75; length = distinct lexemes) from the
        # tenant's maintained statistics, all kept in the chunk writes' transactions: chunk count
        # and total length, per-term document frequency, and the postings (term, chunk, term
        # frequency, chunk length) of the query's terms, read through their primary key, so a
        # query costs its terms' postings and never reads the tenant's chunks; only the ``top_k``
        # best are fetched. Each term's frequency is one primary-key lookup (LATERAL ... LIMIT 1)
        # and its postings one primary-key range (LATERAL ... OFFSET 0): subqueries the planner
        # cannot flatten into a join. Flattened, with the statistics of a table analysed before
        # its tenant grew, it hashed all the tenant's terms (2 ms of a Cranfield query) and
        # bitmap-scanned all the tenant's postings (every term of every chunk) for a few terms.
        # Scores equal to 9 decimals (the sum's order moves the last bits) rank by id, rounded in
        # float8 (through numeric it cost 0.5 ms a query). With metadata filters (``filtered``) the
        # postings are kept to the chunks matching ``where``. Document frequencies count the whole
        # tenant, filters or not.
        q, top_k = f"${first}", f"${first + 1}"
        search = f"{self.table}_search_text"
        columns = ", ".join(f"c.{name}" for name in _SELECT.split(", "))
        matching = f"AND p.id IN (SELECT id FROM {self.table} WHERE {where}) " if filtered else ""
        return (
            "WITH terms AS (SELECT DISTINCT lexeme AS term "
            f"FROM unnest(to_tsvector('english', {search}({q})))), "
            "st AS (SELECT chunks::float8 AS n_docs, "
            "coalesce((nullif(total_length, 0)::numeric / nullif(chunks, 0))::float8, 1.0) AS avg_len "
            f"FROM {self.table}_kw_stats WHERE tenant_id = $1 AND chunks > 0), "
            "w AS MATERIALIZED (SELECT t.term, ln(1 + (st.n_docs - k.df + 0.5) / (k.df + 0.5)) AS idf "
            f"FROM terms t, st, LATERAL (SELECT df FROM {self.table}_kw_terms k "
            "WHERE k.tenant_id = $1 AND k.term = t.term LIMIT 1) k), "
            "summed AS (SELECT p.id, sum(w.idf * p.tf * 2.2 "
            "/ (p.tf + 1.2 * (0.25 + 0.75 * p.len / st.avg_len))) AS score "
            f"FROM w, st, LATERAL (SELECT id, tf, len FROM {self.table}_kw_postings p "
            f"WHERE p.tenant_id = $1 AND p.term = w.term {matching}OFFSET 0) p "
            "GROUP BY p.id), "
            "scored AS (SELECT id, score FROM summed "
            f"ORDER BY round(score * 1e9) DESC, id LIMIT {top_k}) "
            f"SELECT {columns}, s.score FROM scored s "
            f"JOIN {self.table} c ON c.tenant_id = $1 AND c.id = s.id "
            "ORDER BY round(s.score * 1e9) DESC, c.id"
        )

    async def count(self, tenant: TenantContext, *, filters: MetadataFilter | None = None) -> int:
        """How many records the tenant has (matching ``filters``)."""
        tenant = TenantContext.of(tenant)
        where, args = self._where(tenant, check_filters(filters))
        await self._ensure_ready()
        sql = f"SELECT count(*) FROM {self.table} WHERE {where}"
        with self._errors(tenant):
            found = await self.database.read(lambda c: c.fetchval(sql, *args), tenant_id=tenant.tenant_id)
        return int(found)

    async def get(self, tenant: TenantContext, ids: Sequence[str]) -> list[VectorRecord]:
        """The tenant's records with these ids, in the order asked (missing ids are left out)."""
        tenant = TenantContext.of(tenant)
        check_ids(ids)
        if not ids:
            return []
        await self._ensure_ready()
        sql = f"SELECT {_SELECT} FROM {self.table} WHERE tenant_id = $1 AND id = ANY($2::text[])"
        with self._errors(tenant):
            rows = await self.database.read(
                lambda conn: conn.fetch(sql, tenant.tenant_id, list(ids)), tenant_id=tenant.tenant_id
            )
        by_id = {r["id"]: self._record(r) for r in rows}
        seen: set[str] = set()
        found = []
        for rid in ids:
            if rid in by_id and rid not in seen:
                seen.add(rid)
                found.append(by_id[rid])
        return found

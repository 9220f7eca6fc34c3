"""PostgresDocumentStore: document versions and conversation turns in PostgreSQL.

Tables (component ``documents`` of :meth:`PostgresDatabase.apply_migrations`):

* ``motadata_document_versions`` — one row per version (hash, title, source, owner, text, metadata,
  chunk ids), primary key ``(tenant_id, document_id, version)``;
* ``motadata_documents`` — the current version of each document, for listing by tenant and user;
* ``motadata_conversation_turns`` — question/answer turns by tenant and conversation.

Every statement filters on ``tenant_id``.

**Write model.** :meth:`PostgresDocumentStore.write_version` writes a whole document version —
the ``motadata_documents`` row, the ``motadata_document_versions`` row and the chunks with their
vectors in the :class:`PgVectorStore`'s table — in **one transaction** on one connection (both
stores share a :class:`PostgresDatabase`). The transaction first takes
``pg_advisory_xact_lock`` on a 64-bit hash of ``(tenant, document id)``, before touching any
row, so writers of one document queue one behind the other (no lock-order deadlock is possible:
every writer takes that one lock first) while writers of other documents go on. Under the lock
the current version is read and compared with the one being written (compare-and-set: a stale
writer gets :class:`VersionConflict` and changes nothing), the old chunks are deleted, the new
ones copied in, and both document tables updated. PostgreSQL's crash recovery then guarantees
that a kill at any instant leaves either the old version whole or the new one whole. Vectors are
computed before the call, so no transaction waits on a model. A deadlock or serialization
failure reported by the server anyway is retried inside the store, never surfaced. When the
connection dies during ``COMMIT`` the outcome is unknown to the client; the error then carries
``commit_unknown=True``. :meth:`PostgresDocumentStore.delete` with ``vectors`` removes the
versions and the chunks in one transaction under the same lock.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg

from motadata_ai.adapters.memory.documents import (
    check_limit,
    check_turn,
    check_version_chunks,
    version_conflict,
)
from motadata_ai.adapters.memory.vector_store import check_document_id
from motadata_ai.adapters.postgres.database import MigratedStore, is_connection_error, is_rerouted_row
from motadata_ai.adapters.postgres.vector_store import PgVectorStore
from motadata_ai.domain.values.documents import ConversationTurn, StoredDocument
from motadata_ai.domain.values.errors import ConfigurationError
from motadata_ai.domain.values.tenancy import TenantContext
from motadata_ai.domain.values.vectors import VectorRecord
from motadata_ai.ports.documents import (
    ConversationStorePort,
    DocumentStoreError,
    DocumentStorePort,
    DocumentStoreUnavailable,
)
from motadata_ai.ports.vector_store import VectorStorePort

__all__ = ["MIGRATIONS", "PostgresDocumentStore"]

_DOCUMENT_LOCK = (
    "SELECT pg_advisory_xact_lock("
    "hashtextextended('motadata_ai.document:' || length($1) || ':' || $1 || $2, 0))"
)
_RETRIED_SQLSTATES = ("40P01", "40001")  # deadlock detected, serialization failure
_WRITE_ATTEMPTS = 3

MIGRATIONS = [
    (
        1,
        "document versions, current documents, conversation turns",
        """
        CREATE TABLE IF NOT EXISTS motadata_document_versions (
            tenant_id     text        NOT NULL,
            document_id   text        NOT NULL,
            version       integer     NOT NULL CHECK (version >= 1),
            content_hash  text        NOT NULL,
            title         text        NOT NULL DEFAULT '',
            source        text        NOT NULL DEFAULT '',
            format        text        NOT NULL DEFAULT 'text',
            user_id       text,
            body          text        NOT NULL DEFAULT '',
            metadata      jsonb       NOT NULL DEFAULT '{}'::jsonb,
            chunk_ids     text[]      NOT NULL DEFAULT '{}',
            token_count   integer     NOT NULL DEFAULT 0,
            created_at    timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (tenant_id, document_id, version)
        );
        CREATE TABLE IF NOT EXISTS motadata_documents (
            tenant_id        text    NOT NULL,
            document_id      text    NOT NULL,
            current_version  integer NOT NULL,
            user_id          text,
            PRIMARY KEY (tenant_id, document_id)
        );
        CREATE INDEX IF NOT EXISTS motadata_documents_user ON motadata_documents (tenant_id, user_id);
        CREATE TABLE IF NOT EXISTS motadata_conversation_turns (
            id               bigserial   PRIMARY KEY,
            tenant_id        text        NOT NULL,
            conversation_id  text        NOT NULL,
            user_id          text,
            question         text        NOT NULL,
            answer           text        NOT NULL,
            rewritten_query  text,
            source_ids       text[]      NOT NULL DEFAULT '{}',
            created_at       timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX IF NOT EXISTS motadata_turns_conversation
            ON motadata_conversation_turns (tenant_id, conversation_id, id);
        CREATE INDEX IF NOT EXISTS motadata_turns_user ON motadata_conversation_turns (tenant_id, user_id);
        """,
    ),
]

_VERSION_COLUMNS = (
    "tenant_id, document_id, version, content_hash, title, source, format, user_id, body, "
    "metadata::text AS metadata, chunk_ids, token_count, created_at"
)
_TURN_COLUMNS = (
    "tenant_id, conversation_id, user_id, question, answer, rewritten_query, source_ids, created_at"
)


def _document(row: Any) -> StoredDocument:
    return StoredDocument(
        tenant_id=row["tenant_id"],
        document_id=row["document_id"],
        version=row["version"],
        content_hash=row["content_hash"],
        title=row["title"],
        source=row["source"],
        format=row["format"],
        user_id=row["user_id"],
        text=row["body"],
        metadata=json.loads(row["metadata"]),
        chunk_ids=tuple(row["chunk_ids"]),
        token_count=row["token_count"],
        created_at=row["created_at"],
    )


def _turn(row: Any) -> ConversationTurn:
    return ConversationTurn(
        tenant_id=row["tenant_id"],
        conversation_id=row["conversation_id"],
        user_id=row["user_id"],
        question=row["question"],
        answer=row["answer"],
        rewritten_query=row["rewritten_query"],
        source_ids=tuple(row["source_ids"]),
        created_at=row["created_at"],
    )


class PostgresDocumentStore(MigratedStore, DocumentStorePort, ConversationStorePort):
    """Document versions and conversation turns on a :class:`PostgresDatabase` (see module doc).

    Migrations run once, on first use (or call :meth:`setup`).
    """

    component = "documents"
    migrations = MIGRATIONS
    unavailable = DocumentStoreUnavailable
    failure = DocumentStoreError

    @property
    def address(self) -> str:
        """The database address with credentials masked."""
        return self._db.address

    async def _fetch(self, tenant: TenantContext, sql: str, *args: Any) -> list[Any]:
        await self.setup()
        with self._db.translate_errors(
            DocumentStoreUnavailable, DocumentStoreError, tenant_id=tenant.tenant_id
        ):
            async with self._db.pool.acquire() as conn:
                return list(await conn.fetch(sql, *args))

    async def _read(self, tenant: TenantContext, sql: str, *args: Any) -> list[Any]:
        """Like :meth:`_fetch`, on a read replica when one has replayed this tenant's writes."""
        await self.setup()
        with self._db.translate_errors(
            DocumentStoreUnavailable, DocumentStoreError, tenant_id=tenant.tenant_id
        ):
            return list(await self._db.read(lambda conn: conn.fetch(sql, *args), tenant_id=tenant.tenant_id))

    async def _execute(self, tenant: TenantContext, sql: str, *args: Any) -> str:
        await self.setup()
        with self._db.translate_errors(
            DocumentStoreUnavailable, DocumentStoreError, tenant_id=tenant.tenant_id
        ):
            async with self._db.pool.acquire() as conn:
                return str(await conn.execute(sql, *args))

    # -- documents ------------------------------------------------------------------------------

    async def get(self, tenant: TenantContext, document_id: str) -> StoredDocument | None:
        """The current version of ``document_id``, or ``None``."""
        tenant = TenantContext.of(tenant)
        rows = await self._fetch(
            tenant,
            f"SELECT {_VERSION_COLUMNS} FROM motadata_document_versions v "
            "WHERE v.tenant_id = $1 AND v.document_id = $2 AND v.version = ("
            "  SELECT current_version FROM motadata_documents d "
            "  WHERE d.tenant_id = $1 AND d.document_id = $2)",
            tenant.tenant_id,
            document_id,
        )
        return _document(rows[0]) if rows else None

    def _vectors(self, vectors: VectorStorePort) -> PgVectorStore:
        if not isinstance(vectors, PgVectorStore) or vectors.database is not self._db:
            raise ConfigurationError(
                "the PostgreSQL document store writes a version and its chunks in one transaction only "
                f"with a PgVectorStore on the same PostgresDatabase; got a {type(vectors).__name__} "
                "elsewhere: build both stores on one database",
                field="vector_store",
            )
        return vectors

    async def write_version(
        self,
        tenant: TenantContext,
        document: StoredDocument,
        chunks: Sequence[VectorRecord],
        *,
        vectors: VectorStorePort,
    ) -> StoredDocument:
        """Write the document row, the version and its chunks in one transaction (see module doc)."""
        tenant = TenantContext.of(tenant)
        store = self._vectors(vectors)
        batch = check_version_chunks(tenant, document, chunks, store.dimensions)
        staged = await store.stage_document(tenant, document.document_id, batch)
        await self.setup()

        async def write(conn: asyncpg.Connection) -> None:
            current = await conn.fetchval(
                "SELECT current_version FROM motadata_documents WHERE tenant_id = $1 AND document_id = $2",
                tenant.tenant_id,
                document.document_id,
            )
            if (current or 0) + 1 != document.version:
                raise version_conflict(tenant, document, current)
            await self._insert_version(conn, tenant, document)
            # last: the chunk swap ends with the tenant's keyword statistics, whose row concurrent
            # writers of the tenant queue on until this transaction commits
            await store.replace_document_in(conn, staged)

        await self._in_document_transaction(tenant, document.document_id, write)
        await store.document_written(tenant)
        return document

    async def _insert_version(
        self, conn: asyncpg.Connection, tenant: TenantContext, document: StoredDocument
    ) -> None:
        """Inside the write transaction: the version row and the current-version row."""
        await conn.execute(
            "INSERT INTO motadata_document_versions (tenant_id, document_id, version, "
            "content_hash, title, source, format, user_id, body, metadata, chunk_ids, "
            "token_count, created_at) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, $11, $12, $13)",
            tenant.tenant_id,
            document.document_id,
            document.version,
            document.content_hash,
            document.title,
            document.source,
            document.format,
            document.user_id,
            document.text,
            json.dumps(document.metadata, default=str),
            list(document.chunk_ids),
            document.token_count,
            document.created_at,
        )
        await conn.execute(
            "INSERT INTO motadata_documents (tenant_id, document_id, current_version, user_id) "
            "VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id, document_id) DO UPDATE "
            "SET current_version = EXCLUDED.current_version, user_id = EXCLUDED.user_id",
            tenant.tenant_id,
            document.document_id,
            document.version,
            document.user_id,
        )

    async def _in_document_transaction(self, tenant: TenantContext, document_id: str, body: Any) -> Any:
        """Run ``body(conn)`` in one transaction holding the document's advisory lock.

        Deadlocks, serialization failures and a chunk routed to the shared partition just before
        the tenant's promotion attached its own (``is_rerouted_row``) are retried; a connection
        lost during COMMIT raises
        :class:`DocumentStoreUnavailable` with ``commit_unknown=True``.
        """
        with self._db.translate_errors(
            DocumentStoreUnavailable, DocumentStoreError, tenant_id=tenant.tenant_id
        ):
            for attempt in range(1, _WRITE_ATTEMPTS + 1):
                conn = await self._db.pool.acquire()
                try:
                    transaction = conn.transaction()
                    await transaction.start()
                    try:
                        await conn.execute(_DOCUMENT_LOCK, tenant.tenant_id, document_id)
                        result = await body(conn)
                    except BaseException as error:
                        with contextlib.suppress(Exception):
                            await transaction.rollback()
                        state = getattr(error, "sqlstate", None)
                        retry = state in _RETRIED_SQLSTATES or is_rerouted_row(error)
                        if retry and attempt < _WRITE_ATTEMPTS:
                            continue
                        raise
                    try:
                        await transaction.commit()
                    except Exception as error:
                        if is_connection_error(error):
                            raise DocumentStoreUnavailable(
                                f"PostgreSQL at {self._db.address} went away during COMMIT of document "
                                f"{document_id!r}: the write is either wholly stored or wholly absent "
                                f"({type(error).__name__}: {error})",
                                address=self._db.address,
                                tenant_id=tenant.tenant_id,
                                document_id=document_id,
                                commit_unknown=True,
                            ) from error
                        raise
                    return result
                finally:
                    # Releasing resets the session; if the server died after the COMMIT that fails,
                    # but the write is durable and must not be reported as failed (the pool drops
                    # the broken connection itself).
                    with contextlib.suppress(Exception):
                        await self._db.pool.release(conn)
        raise AssertionError("unreachable")  # pragma: no cover

    async def versions(self, tenant: TenantContext, document_id: str) -> list[StoredDocument]:
        """Every version, oldest first."""
        tenant = TenantContext.of(tenant)
        rows = await self._fetch(
            tenant,
            f"SELECT {_VERSION_COLUMNS} FROM motadata_document_versions "
            "WHERE tenant_id = $1 AND document_id = $2 ORDER BY version",
            tenant.tenant_id,
            document_id,
        )
        return [_document(row) for row in rows]

    async def list(
        self, tenant: TenantContext, *, user_id: str | None = None, limit: int = 1000, offset: int = 0
    ) -> list[StoredDocument]:
        """Current versions by document id."""
        tenant = TenantContext.of(tenant)
        check_limit(limit, offset)
        rows = await self._read(
            tenant,
            f"SELECT {', '.join('v.' + c.strip() for c in _VERSION_COLUMNS.split(','))} "
            "FROM motadata_documents d JOIN motadata_document_versions v "
            "ON v.tenant_id = d.tenant_id AND v.document_id = d.document_id "
            "AND v.version = d.current_version "
            "WHERE d.tenant_id = $1 AND ($2::text IS NULL OR d.user_id = $2) "
            "ORDER BY d.document_id LIMIT $3 OFFSET $4",
            tenant.tenant_id,
            user_id,
            limit,
            offset,
        )
        return [_document(row) for row in rows]

    async def count(self, tenant: TenantContext, *, user_id: str | None = None) -> int:
        """How many documents the tenant (or user) has."""
        tenant = TenantContext.of(tenant)
        rows = await self._read(
            tenant,
            "SELECT count(*) AS n FROM motadata_documents "
            "WHERE tenant_id = $1 AND ($2::text IS NULL OR user_id = $2)",
            tenant.tenant_id,
            user_id,
        )
        return int(rows[0]["n"])

    async def delete(
        self, tenant: TenantContext, document_id: str, *, vectors: VectorStorePort | None = None
    ) -> bool:
        """Delete every version (and, with ``vectors``, every chunk) in one transaction."""
        tenant = TenantContext.of(tenant)
        check_document_id(document_id)
        store = self._vectors(vectors) if vectors is not None else None
        if store is not None:
            await store.ensure_ready()
        await self.setup()

        async def remove(conn: asyncpg.Connection) -> bool:
            chunks = await store.delete_document_in(conn, tenant, document_id) if store is not None else 0
            await conn.execute(
                "DELETE FROM motadata_document_versions WHERE tenant_id = $1 AND document_id = $2",
                tenant.tenant_id,
                document_id,
            )
            status = await conn.execute(
                "DELETE FROM motadata_documents WHERE tenant_id = $1 AND document_id = $2",
                tenant.tenant_id,
                document_id,
            )
            return str(status).split()[-1] != "0" or chunks > 0

        removed: bool = await self._in_document_transaction(tenant, document_id, remove)
        if store is not None:
            await store.document_written(tenant)
        return removed

    # -- conversations --------------------------------------------------------------------------

    async def append(self, tenant: TenantContext, turn: ConversationTurn) -> None:
        """Store one turn."""
        tenant = TenantContext.of(tenant)
        check_turn(tenant, turn)
        await self._execute(
            tenant,
            "INSERT INTO motadata_conversation_turns (tenant_id, conversation_id, user_id, question, answer, "
            "rewritten_query, source_ids, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            tenant.tenant_id,
            turn.conversation_id,
            turn.user_id,
            turn.question,
            turn.answer,
            turn.rewritten_query,
            list(turn.source_ids),
            turn.created_at,
        )

    async def history(
        self, tenant: TenantContext, conversation_id: str, *, limit: int = 10
    ) -> list[ConversationTurn]:
        """The last ``limit`` turns, oldest first."""
        tenant = TenantContext.of(tenant)
        check_limit(limit)
        rows = await self._fetch(
            tenant,
            f"SELECT {_TURN_COLUMNS} FROM (SELECT * FROM motadata_conversation_turns "
            "WHERE tenant_id = $1 AND conversation_id = $2 ORDER BY id DESC LIMIT $3) t ORDER BY id",
            tenant.tenant_id,
            conversation_id,
            limit,
        )
        return [_turn(row) for row in rows]

    async def user_turns(self, tenant: TenantContext, user_id: str) -> list[ConversationTurn]:
        """Every turn of ``user_id``, oldest first."""
        tenant = TenantContext.of(tenant)
        rows = await self._fetch(
            tenant,
            f"SELECT {_TURN_COLUMNS} FROM motadata_conversation_turns "
            "WHERE tenant_id = $1 AND user_id = $2 ORDER BY id",
            tenant.tenant_id,
            user_id,
        )
        return [_turn(row) for row in rows]

    async def delete_conversation(self, tenant: TenantContext, conversation_id: str) -> int:
        """Delete a conversation's turns."""
        tenant = TenantContext.of(tenant)
        status = await self._execute(
            tenant,
            "DELETE FROM motadata_conversation_turns WHERE tenant_id = $1 AND conversation_id = $2",
            tenant.tenant_id,
            conversation_id,
        )
        return int(status.split()[-1])

    async def delete_turns_before(self, tenant: TenantContext, cutoff: datetime) -> int:
        """Delete turns older than ``cutoff``."""
        tenant = TenantContext.of(tenant)
        status = await self._execute(
            tenant,
            "DELETE FROM motadata_conversation_turns WHERE tenant_id = $1 AND created_at < $2",
            tenant.tenant_id,
            cutoff if cutoff.tzinfo is not None else cutoff.replace(tzinfo=UTC),
        )
        return int(status.split()[-1])

    async def delete_user(self, tenant: TenantContext, user_id: str) -> int:
        """Delete every turn of ``user_id``."""
        tenant = TenantContext.of(tenant)
        status = await self._execute(
            tenant,
            "DELETE FROM motadata_conversation_turns WHERE tenant_id = $1 AND user_id = $2",
            tenant.tenant_id,
            user_id,
        )
        return int(status.split()[-1])

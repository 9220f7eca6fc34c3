"""PostgresDocumentStore: document versions and conversation turns in PostgreSQL.

Tables (component ``documents`` of :meth:`PostgresDatabase.apply_migrations`):

* ``motadata_document_versions`` — one row per version (hash, title, source, owner, text, metadata,
  chunk ids), primary key ``(tenant_id, document_id, version)``;
* ``motadata_documents`` — the current version of each document, for listing by tenant and user;
* ``motadata_conversation_turns`` — question/answer turns by tenant and conversation.

Every statement filters on ``tenant_id``. Adding a version locks the document's row, checks that
the version follows the current one and writes both tables in one transaction; two concurrent
writers of the same version get one success and one :class:`VersionConflict`.
"""

from __future__ import annotations

import json
from typing import Any

from motadata_ai.adapters.memory.documents import check_document_write, check_limit, check_turn
from motadata_ai.adapters.postgres.database import MigratedStore
from motadata_ai.domain.values.documents import ConversationTurn, StoredDocument
from motadata_ai.domain.values.tenancy import TenantContext
from motadata_ai.ports.documents import (
    ConversationStorePort,
    DocumentStoreError,
    DocumentStorePort,
    DocumentStoreUnavailable,
    VersionConflict,
)

__all__ = ["MIGRATIONS", "PostgresDocumentStore"]

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

    async def add_version(self, tenant: TenantContext, document: StoredDocument) -> StoredDocument:
        """Store the next version in one transaction; :class:`VersionConflict` on a lost race."""
        tenant = TenantContext.of(tenant)
        check_document_write(tenant, document)
        await self.setup()
        conflict = VersionConflict(
            f"document {document.document_id!r} version {document.version} was already written or does not "
            "follow the current version",
            tenant_id=tenant.tenant_id,
            document_id=document.document_id,
            version=document.version,
        )
        import asyncpg

        with self._db.translate_errors(
            DocumentStoreUnavailable, DocumentStoreError, tenant_id=tenant.tenant_id
        ):
            async with self._db.pool.acquire() as conn, conn.transaction():
                current = await conn.fetchval(
                    "SELECT current_version FROM motadata_documents "
                    "WHERE tenant_id = $1 AND document_id = $2 FOR UPDATE",
                    tenant.tenant_id,
                    document.document_id,
                )
                if (current or 0) + 1 != document.version:
                    raise conflict
                try:
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
                except asyncpg.UniqueViolationError as error:
                    raise conflict from error
        return document

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
        rows = await self._fetch(
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
        rows = await self._fetch(
            tenant,
            "SELECT count(*) AS n FROM motadata_documents "
            "WHERE tenant_id = $1 AND ($2::text IS NULL OR user_id = $2)",
            tenant.tenant_id,
            user_id,
        )
        return int(rows[0]["n"])

    async def delete(self, tenant: TenantContext, document_id: str) -> bool:
        """Delete every version in one transaction."""
        tenant = TenantContext.of(tenant)
        await self.setup()
        with self._db.translate_errors(
            DocumentStoreUnavailable, DocumentStoreError, tenant_id=tenant.tenant_id
        ):
            async with self._db.pool.acquire() as conn, conn.transaction():
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
        return str(status).split()[-1] != "0"

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

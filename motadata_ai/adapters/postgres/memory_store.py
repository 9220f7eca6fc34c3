"""PostgresMemoryStore: agent memories (with pgvector embeddings), sessions and checkpoints.

Tables (component ``memory`` of :meth:`PostgresDatabase.apply_migrations`):

* ``motadata_memories`` — one row per memory, primary key ``(tenant_id, id)``; ``embedding`` is an
  unconstrained ``vector`` (any model's dimensions). Memories are bounded per user (hundreds), so
  similarity search is an exact scan of one user's rows through the ``(tenant_id, user_id, kind)``
  index — no approximate index whose recall would depend on the other tenants' data.
* ``motadata_session_messages`` — conversation messages in insertion order (``seq``).
* ``motadata_checkpoints`` — the JSON state of runs paused for approval, with its ``status``
  (``paused`` → ``resumed``); :meth:`PostgresMemoryStore.claim_checkpoint` flips it in one
  ``UPDATE ... WHERE status = 'paused' RETURNING`` statement, so exactly one resume wins.

Every statement filters on ``tenant_id``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from motadata_ai.adapters.postgres.database import MigratedStore
from motadata_ai.domain.values.errors import ValidationError
from motadata_ai.domain.values.memory import (
    Checkpoint,
    CheckpointClaim,
    MemoryKind,
    MemoryMatch,
    MemoryRecord,
    SessionMessage,
)
from motadata_ai.domain.values.moments import aware
from motadata_ai.domain.values.tenancy import validate_tenant_id
from motadata_ai.domain.values.vectors import check_query_floats
from motadata_ai.ports.memory import MemoryStoreError, MemoryStorePort, MemoryStoreUnavailable

__all__ = ["MIGRATIONS", "PostgresMemoryStore"]

MIGRATIONS = [
    (
        1,
        "memories, session messages and checkpoints",
        """
        CREATE TABLE IF NOT EXISTS motadata_memories (
            tenant_id text NOT NULL,
            id text NOT NULL,
            user_id text NOT NULL,
            kind text NOT NULL,
            content text NOT NULL,
            importance double precision NOT NULL DEFAULT 0.5,
            embedding vector,
            metadata jsonb NOT NULL DEFAULT '{}',
            created_at timestamptz NOT NULL,
            PRIMARY KEY (tenant_id, id)
        );
        CREATE INDEX IF NOT EXISTS motadata_memories_user
            ON motadata_memories (tenant_id, user_id, kind, created_at);
        CREATE INDEX IF NOT EXISTS motadata_memories_time ON motadata_memories (tenant_id, created_at);
        CREATE TABLE IF NOT EXISTS motadata_session_messages (
            seq bigserial PRIMARY KEY,
            tenant_id text NOT NULL,
            conversation_id text NOT NULL,
            user_id text,
            role text NOT NULL,
            content text NOT NULL,
            created_at timestamptz NOT NULL
        );
        CREATE INDEX IF NOT EXISTS motadata_session_messages_conversation
            ON motadata_session_messages (tenant_id, conversation_id, seq);
        CREATE INDEX IF NOT EXISTS motadata_session_messages_user
            ON motadata_session_messages (tenant_id, user_id);
        CREATE TABLE IF NOT EXISTS motadata_checkpoints (
            tenant_id text NOT NULL,
            id text NOT NULL,
            user_id text,
            state jsonb NOT NULL,
            created_at timestamptz NOT NULL,
            PRIMARY KEY (tenant_id, id)
        );
        """,
    ),
    (
        2,
        "checkpoint status for exactly-once resume",
        """
        ALTER TABLE motadata_checkpoints
            ADD COLUMN IF NOT EXISTS status text NOT NULL DEFAULT 'paused',
            ADD COLUMN IF NOT EXISTS claimed_at timestamptz;
        """,
    ),
]

_RECORD_COLUMNS = "tenant_id, id, user_id, kind, content, importance, embedding, metadata, created_at"
_MESSAGE_COLUMNS = "tenant_id, conversation_id, user_id, role, content, created_at"
_CHECKPOINT_COLUMNS = "tenant_id, id, user_id, state, status, created_at, claimed_at"

# One statement: the UPDATE claims a paused row (a concurrent claimer waits on the row lock, then
# re-checks ``status`` and skips it); when it claimed nothing, the second branch reports whether
# the row exists at all (claimed by someone else) or not (missing).
_CLAIM_CHECKPOINT = f"""
WITH claimed AS (
    UPDATE motadata_checkpoints SET status = 'resumed', claimed_at = now()
    WHERE tenant_id = $1 AND id = $2 AND status = 'paused'
    RETURNING {_CHECKPOINT_COLUMNS}
)
SELECT true AS won, {_CHECKPOINT_COLUMNS} FROM claimed
UNION ALL
SELECT false AS won, {_CHECKPOINT_COLUMNS} FROM motadata_checkpoints
WHERE tenant_id = $1 AND id = $2 AND NOT EXISTS (SELECT 1 FROM claimed)
"""



def _record(row: Any) -> MemoryRecord:
    embedding = row["embedding"]
    return MemoryRecord(
        tenant_id=row["tenant_id"],
        id=row["id"],
        user_id=row["user_id"],
        kind=row["kind"],
        content=row["content"],
        importance=row["importance"],
        embedding=None if embedding is None else tuple(float(v) for v in embedding.to_list()),
        metadata=json.loads(row["metadata"]) if isinstance(row["metadata"], str) else dict(row["metadata"]),
        created_at=row["created_at"],
    )


def _checkpoint(row: Any) -> Checkpoint:
    state = json.loads(row["state"]) if isinstance(row["state"], str) else dict(row["state"])
    return Checkpoint(
        tenant_id=row["tenant_id"],
        id=row["id"],
        user_id=row["user_id"],
        state=state,
        status=row["status"],
        created_at=row["created_at"],
        claimed_at=row["claimed_at"],
    )


def _message(row: Any) -> SessionMessage:
    return SessionMessage(
        tenant_id=row["tenant_id"],
        conversation_id=row["conversation_id"],
        user_id=row["user_id"],
        role=row["role"],
        content=row["content"],
        created_at=row["created_at"],
    )


class PostgresMemoryStore(MigratedStore, MemoryStorePort):
    """The memory store on a :class:`PostgresDatabase` (its pool is shared, not owned)."""

    component = "memory"
    migrations = MIGRATIONS
    unavailable = MemoryStoreUnavailable
    failure = MemoryStoreError

    def _errors(self, tenant_id: str) -> Any:
        return self._db.translate_errors(MemoryStoreUnavailable, MemoryStoreError, tenant_id=tenant_id)

    async def _fetch(self, tenant_id: str, sql: str, *args: Any) -> list[Any]:
        await self.setup()
        with self._errors(tenant_id):
            async with self._db.pool.acquire() as conn:
                return list(await conn.fetch(sql, *args))

    async def _execute(self, tenant_id: str, sql: str, *args: Any) -> int:
        await self.setup()
        with self._errors(tenant_id):
            async with self._db.pool.acquire() as conn:
                status: str = await conn.execute(sql, *args)
        return int(status.rsplit(" ", 1)[-1]) if status and status[-1].isdigit() else 0

    # -- memories -------------------------------------------------------------------------------

    async def add(self, record: MemoryRecord) -> None:
        """Insert or replace the record."""
        await self._execute(
            record.tenant_id,
            f"INSERT INTO motadata_memories ({_RECORD_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
            "ON CONFLICT (tenant_id, id) DO UPDATE SET user_id = EXCLUDED.user_id, kind = EXCLUDED.kind, "
            "content = EXCLUDED.content, importance = EXCLUDED.importance, embedding = EXCLUDED.embedding, "
            "metadata = EXCLUDED.metadata, created_at = EXCLUDED.created_at",
            record.tenant_id,
            record.id,
            record.user_id,
            record.kind,
            record.content,
            record.importance,
            list(record.embedding) if record.embedding is not None else None,
            json.dumps(record.metadata),
            aware(record.created_at),
        )

    async def list_records(
        self, tenant_id: str, *, user_id: str | None = None, kind: MemoryKind | None = None
    ) -> list[MemoryRecord]:
        """The tenant's records, oldest first."""
        tenant = validate_tenant_id(tenant_id)
        rows = await self._fetch(
            tenant,
            f"SELECT {_RECORD_COLUMNS} FROM motadata_memories WHERE tenant_id = $1 "
            "AND ($2::text IS NULL OR user_id = $2) AND ($3::text IS NULL OR kind = $3) "
            "ORDER BY created_at, id",
            tenant,
            user_id,
            kind,
        )
        return [_record(row) for row in rows]

    async def search(
        self,
        tenant_id: str,
        embedding: Sequence[float],
        *,
        user_id: str,
        kinds: Sequence[MemoryKind] | None = None,
        limit: int = 10,
    ) -> list[MemoryMatch]:
        """Exact cosine search over the user's records."""
        tenant = validate_tenant_id(tenant_id)
        if limit <= 0:
            return []
        query = check_query_floats(embedding, field="embedding")
        if not query:
            raise ValidationError("the query embedding is empty", field="embedding")
        rows = await self._fetch(
            tenant,
            f"SELECT {_RECORD_COLUMNS}, COALESCE(1 - (embedding <=> $3), 0) AS similarity "
            "FROM motadata_memories WHERE tenant_id = $1 AND user_id = $2 AND embedding IS NOT NULL "
            "AND vector_dims(embedding) = $6 AND ($4::text[] IS NULL OR kind = ANY($4)) "
            "ORDER BY embedding <=> $3, created_at DESC LIMIT $5",
            tenant,
            user_id,
            query,
            list(kinds) if kinds is not None else None,
            limit,
            len(query),
        )
        return [MemoryMatch(record=_record(row), similarity=float(row["similarity"])) for row in rows]

    async def delete(self, tenant_id: str, ids: Sequence[str]) -> int:
        """Delete by id."""
        tenant = validate_tenant_id(tenant_id)
        if not ids:
            return 0
        return await self._execute(
            tenant,
            "DELETE FROM motadata_memories WHERE tenant_id = $1 AND id = ANY($2::text[])",
            tenant,
            list(ids),
        )

    async def delete_older_than(self, tenant_id: str, cutoff: datetime, *, user_id: str | None = None) -> int:
        """Delete records created before ``cutoff``."""
        tenant = validate_tenant_id(tenant_id)
        return await self._execute(
            tenant,
            "DELETE FROM motadata_memories WHERE tenant_id = $1 AND created_at < $2 "
            "AND ($3::text IS NULL OR user_id = $3)",
            tenant,
            aware(cutoff),
            user_id,
        )

    # -- sessions -------------------------------------------------------------------------------

    async def append_messages(self, tenant_id: str, messages: Sequence[SessionMessage]) -> None:
        """Append in order, in one transaction."""
        tenant = validate_tenant_id(tenant_id)
        for item in messages:
            if item.tenant_id != tenant:
                raise ValidationError(
                    f"message of tenant {item.tenant_id!r} appended for tenant {tenant!r}",
                    field="tenant_id",
                    tenant_id=tenant,
                )
        if not messages:
            return
        await self.setup()
        with self._errors(tenant):
            async with self._db.pool.acquire() as conn, conn.transaction():
                await conn.executemany(
                    f"INSERT INTO motadata_session_messages ({_MESSAGE_COLUMNS}) "
                    "VALUES ($1, $2, $3, $4, $5, $6)",
                    [
                        (m.tenant_id, m.conversation_id, m.user_id, m.role, m.content, aware(m.created_at))
                        for m in messages
                    ],
                )

    async def load_messages(
        self, tenant_id: str, conversation_id: str, *, limit: int | None = None
    ) -> list[SessionMessage]:
        """The conversation's last ``limit`` messages, oldest first."""
        tenant = validate_tenant_id(tenant_id)
        if limit is not None and limit <= 0:
            return []
        rows = await self._fetch(
            tenant,
            f"SELECT * FROM (SELECT seq, {_MESSAGE_COLUMNS} FROM motadata_session_messages "
            "WHERE tenant_id = $1 AND conversation_id = $2 ORDER BY seq DESC LIMIT $3) AS newest "
            "ORDER BY seq",
            tenant,
            conversation_id,
            limit,
        )
        return [_message(row) for row in rows]

    async def user_messages(self, tenant_id: str, user_id: str) -> list[SessionMessage]:
        """Every message of the user, oldest first."""
        tenant = validate_tenant_id(tenant_id)
        rows = await self._fetch(
            tenant,
            f"SELECT {_MESSAGE_COLUMNS} FROM motadata_session_messages WHERE tenant_id = $1 AND user_id = $2 "
            "ORDER BY seq",
            tenant,
            user_id,
        )
        return [_message(row) for row in rows]

    async def delete_conversation(self, tenant_id: str, conversation_id: str) -> int:
        """Drop the conversation's messages."""
        tenant = validate_tenant_id(tenant_id)
        return await self._execute(
            tenant,
            "DELETE FROM motadata_session_messages WHERE tenant_id = $1 AND conversation_id = $2",
            tenant,
            conversation_id,
        )

    async def delete_messages_before(self, tenant_id: str, cutoff: datetime) -> int:
        """Delete messages older than ``cutoff``."""
        tenant = validate_tenant_id(tenant_id)
        return await self._execute(
            tenant,
            "DELETE FROM motadata_session_messages WHERE tenant_id = $1 AND created_at < $2",
            tenant,
            aware(cutoff),
        )

    # -- checkpoints ----------------------------------------------------------------------------

    async def save_checkpoint(self, checkpoint: Checkpoint) -> None:
        """Insert or replace the state (a replaced checkpoint takes the new status)."""
        await self._execute(
            checkpoint.tenant_id,
            f"INSERT INTO motadata_checkpoints ({_CHECKPOINT_COLUMNS}) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (tenant_id, id) DO UPDATE SET "
            "user_id = EXCLUDED.user_id, state = EXCLUDED.state, status = EXCLUDED.status, "
            "created_at = EXCLUDED.created_at, claimed_at = EXCLUDED.claimed_at",
            checkpoint.tenant_id,
            checkpoint.id,
            checkpoint.user_id,
            json.dumps(checkpoint.state),
            checkpoint.status,
            aware(checkpoint.created_at),
            None if checkpoint.claimed_at is None else aware(checkpoint.claimed_at),
        )

    async def load_checkpoint(self, tenant_id: str, checkpoint_id: str) -> Checkpoint | None:
        """The state, or ``None``."""
        tenant = validate_tenant_id(tenant_id)
        rows = await self._fetch(
            tenant,
            f"SELECT {_CHECKPOINT_COLUMNS} FROM motadata_checkpoints WHERE tenant_id = $1 AND id = $2",
            tenant,
            checkpoint_id,
        )
        return _checkpoint(rows[0]) if rows else None

    async def claim_checkpoint(self, tenant_id: str, checkpoint_id: str) -> CheckpointClaim:
        """Claim the paused checkpoint in one statement (compare-and-set on ``status``)."""
        tenant = validate_tenant_id(tenant_id)
        rows = await self._fetch(tenant, _CLAIM_CHECKPOINT, tenant, checkpoint_id)
        if not rows:
            return CheckpointClaim(outcome="missing")
        if rows[0]["won"]:
            return CheckpointClaim(outcome="claimed", checkpoint=_checkpoint(rows[0]))
        return CheckpointClaim(outcome="already_claimed")

    async def delete_checkpoint(self, tenant_id: str, checkpoint_id: str) -> bool:
        """Drop the state."""
        tenant = validate_tenant_id(tenant_id)
        deleted = await self._execute(
            tenant, "DELETE FROM motadata_checkpoints WHERE tenant_id = $1 AND id = $2", tenant, checkpoint_id
        )
        return deleted > 0

    async def user_checkpoints(self, tenant_id: str, user_id: str) -> list[Checkpoint]:
        """Oldest first."""
        tenant = validate_tenant_id(tenant_id)
        rows = await self._fetch(
            tenant,
            f"SELECT {_CHECKPOINT_COLUMNS} FROM motadata_checkpoints WHERE tenant_id = $1 AND user_id = $2 "
            "ORDER BY created_at, id",
            tenant,
            user_id,
        )
        return [_checkpoint(row) for row in rows]

    # -- erasure --------------------------------------------------------------------------------

    async def delete_user(self, tenant_id: str, user_id: str) -> int:
        """Erase the user's records, messages and checkpoints in one transaction."""
        tenant = validate_tenant_id(tenant_id)
        await self.setup()
        total = 0
        with self._errors(tenant):
            async with self._db.pool.acquire() as conn, conn.transaction():
                for table in ("motadata_memories", "motadata_session_messages", "motadata_checkpoints"):
                    status = await conn.execute(
                        f"DELETE FROM {table} WHERE tenant_id = $1 AND user_id = $2", tenant, user_id
                    )
                    total += int(status.rsplit(" ", 1)[-1])
        return total

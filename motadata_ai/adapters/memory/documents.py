"""InMemoryDocumentStore: document versions and conversation turns in process memory.

It implements both :class:`DocumentStorePort` and :class:`ConversationStorePort`, like the
PostgreSQL store, and is the reference behaviour of the documents contract suite.

A version is written together with its chunks into an :class:`InMemoryVectorStore`: under one
asyncio lock per ``(tenant, document id)`` the version is compared and set, then, holding the
vector store's write lock, the chunks are swapped and the version appended with no ``await`` in
between, so no reader ever sees one without the other (the in-process form of one transaction).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime

from motadata_ai.adapters.memory._health import InProcessProbe
from motadata_ai.adapters.memory.vector_store import InMemoryVectorStore, check_document_id, check_records
from motadata_ai.domain.values.documents import ConversationTurn, StoredDocument
from motadata_ai.domain.values.errors import ConfigurationError, ValidationError
from motadata_ai.domain.values.tenancy import TenantContext
from motadata_ai.domain.values.vectors import VectorRecord
from motadata_ai.ports.documents import ConversationStorePort, DocumentStorePort, VersionConflict
from motadata_ai.ports.vector_store import VectorStorePort

__all__ = [
    "InMemoryDocumentStore",
    "check_document_write",
    "check_limit",
    "check_turn",
    "check_version_chunks",
    "version_conflict",
]


def check_limit(limit: int, offset: int = 0) -> None:
    """Refuse a non-positive ``limit`` or a negative ``offset``."""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValidationError(f"limit must be a positive integer, got {limit!r}", field="limit")
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise ValidationError(f"offset must be a non-negative integer, got {offset!r}", field="offset")


def check_document_write(tenant: TenantContext, document: StoredDocument) -> None:
    """Refuse a version of another tenant, an empty id or NUL characters."""
    if not isinstance(document, StoredDocument):
        raise ValidationError("document must be a StoredDocument", field="document")
    if document.tenant_id != tenant.tenant_id:
        raise ValidationError(
            f"document {document.document_id!r} belongs to tenant {document.tenant_id!r}, "
            f"not to the calling tenant {tenant.tenant_id!r}",
            field="tenant_id",
            tenant_id=tenant.tenant_id,
        )
    if not document.document_id:
        raise ValidationError("document_id must not be empty", field="document_id")
    for name in ("document_id", "text", "title", "source"):
        if "\x00" in getattr(document, name):
            raise ValidationError(f"document {name} holds a NUL character", field=name)


def check_version_chunks(
    tenant: TenantContext, document: StoredDocument, chunks: Sequence[VectorRecord], dimensions: int
) -> list[VectorRecord]:
    """Check a whole version (document and chunks) before anything is written; return the chunks.

    The chunks must be exactly the records ``document.chunk_ids`` names, each of this tenant,
    document and version, and valid records for a store of ``dimensions`` (see ``check_records``).
    """
    check_document_write(tenant, document)
    batch = check_records(tenant, chunks, dimensions, document_id=document.document_id)
    if len(batch) != len(chunks) or [r.id for r in batch] != list(document.chunk_ids):
        raise ValidationError(
            f"the chunks of document {document.document_id!r} version {document.version} must be the "
            f"{len(document.chunk_ids)} records its chunk_ids name, in order; got "
            f"{[r.id for r in chunks][:5]}...",
            field="chunks",
            document_id=document.document_id,
        )
    for record in batch:
        if record.version != document.version:
            raise ValidationError(
                f"chunk {record.id!r} is of version {record.version}, not {document.version}",
                field="chunks",
                record_id=record.id,
            )
    return batch


def version_conflict(tenant: TenantContext, document: StoredDocument, current: int | None) -> VersionConflict:
    """The conflict raised when ``document.version`` does not follow the ``current`` one."""
    return VersionConflict(
        f"document {document.document_id!r} version {document.version} cannot follow "
        f"{'no stored version' if not current else f'version {current}'} (a concurrent write won)",
        tenant_id=tenant.tenant_id,
        document_id=document.document_id,
        version=document.version,
        current_version=current or 0,
    )


def check_turn(tenant: TenantContext, turn: ConversationTurn) -> None:
    """Refuse a turn of another tenant or with NUL characters."""
    if not isinstance(turn, ConversationTurn):
        raise ValidationError("turn must be a ConversationTurn", field="turn")
    if turn.tenant_id != tenant.tenant_id:
        raise ValidationError(
            f"turn belongs to tenant {turn.tenant_id!r}, not to the calling tenant {tenant.tenant_id!r}",
            field="tenant_id",
            tenant_id=tenant.tenant_id,
        )
    for name in ("conversation_id", "question", "answer"):
        if "\x00" in getattr(turn, name):
            raise ValidationError(f"turn {name} holds a NUL character", field=name)


class InMemoryDocumentStore(InProcessProbe, DocumentStorePort, ConversationStorePort):
    """Versions per (tenant, document) and turns per (tenant, conversation), in dictionaries."""

    def __init__(self) -> None:
        self._versions: dict[tuple[str, str], list[StoredDocument]] = {}
        self._turns: dict[str, list[ConversationTurn]] = {}
        self._lock = asyncio.Lock()
        self._document_locks: dict[tuple[str, str], asyncio.Lock] = {}

    def _vectors(self, vectors: VectorStorePort) -> InMemoryVectorStore:
        if not isinstance(vectors, InMemoryVectorStore):
            raise ConfigurationError(
                f"the in-memory document store writes a version and its chunks as one unit only with an "
                f"InMemoryVectorStore, not a {type(vectors).__name__}: use the stores of one profile",
                field="vector_store",
            )
        return vectors

    def _document_lock(self, key: tuple[str, str]) -> asyncio.Lock:
        lock = self._document_locks.get(key)
        if lock is None:
            lock = self._document_locks[key] = asyncio.Lock()
        return lock

    # -- documents ------------------------------------------------------------------------------

    async def get(self, tenant: TenantContext, document_id: str) -> StoredDocument | None:
        """The current version of ``document_id``, or ``None``."""
        tenant = TenantContext.of(tenant)
        versions = self._versions.get((tenant.tenant_id, document_id))
        return versions[-1] if versions else None

    async def write_version(
        self,
        tenant: TenantContext,
        document: StoredDocument,
        chunks: Sequence[VectorRecord],
        *,
        vectors: VectorStorePort,
    ) -> StoredDocument:
        """Compare-and-set the version and swap its chunks in one step (see the module doc)."""
        tenant = TenantContext.of(tenant)
        store = self._vectors(vectors)
        batch = check_version_chunks(tenant, document, chunks, store.dimensions)
        key = (tenant.tenant_id, document.document_id)
        async with self._document_lock(key):
            versions = self._versions.get(key, [])
            current = versions[-1].version if versions else 0
            if document.version != current + 1:
                raise version_conflict(tenant, document, current)
            async with store.lock, self._lock:
                store.replace_document_now(tenant, document.document_id, batch)
                self._versions.setdefault(key, []).append(document)
        return document

    async def versions(self, tenant: TenantContext, document_id: str) -> list[StoredDocument]:
        """Every version, oldest first."""
        tenant = TenantContext.of(tenant)
        return list(self._versions.get((tenant.tenant_id, document_id), []))

    async def list(
        self, tenant: TenantContext, *, user_id: str | None = None, limit: int = 1000, offset: int = 0
    ) -> list[StoredDocument]:
        """Current versions by document id."""
        tenant = TenantContext.of(tenant)
        check_limit(limit, offset)
        current = [
            versions[-1]
            for (tenant_id, _), versions in sorted(self._versions.items())
            if tenant_id == tenant.tenant_id
            and versions
            and (user_id is None or versions[-1].user_id == user_id)
        ]
        return current[offset : offset + limit]

    async def count(self, tenant: TenantContext, *, user_id: str | None = None) -> int:
        """How many documents the tenant (or user) has."""
        tenant = TenantContext.of(tenant)
        return sum(
            1
            for (tenant_id, _), versions in self._versions.items()
            if tenant_id == tenant.tenant_id
            and versions
            and (user_id is None or versions[-1].user_id == user_id)
        )

    async def delete(
        self, tenant: TenantContext, document_id: str, *, vectors: VectorStorePort | None = None
    ) -> bool:
        """Delete every version (and, with ``vectors``, every chunk) in one step."""
        tenant = TenantContext.of(tenant)
        check_document_id(document_id)
        store = self._vectors(vectors) if vectors is not None else None
        key = (tenant.tenant_id, document_id)
        async with self._document_lock(key):
            if store is None:
                async with self._lock:
                    return self._versions.pop(key, None) is not None
            async with store.lock, self._lock:
                removed_chunks = store.delete_document_now(tenant, document_id)
                return self._versions.pop(key, None) is not None or removed_chunks > 0

    # -- conversations --------------------------------------------------------------------------

    async def append(self, tenant: TenantContext, turn: ConversationTurn) -> None:
        """Store one turn."""
        tenant = TenantContext.of(tenant)
        check_turn(tenant, turn)
        async with self._lock:
            self._turns.setdefault(tenant.tenant_id, []).append(turn)

    async def history(
        self, tenant: TenantContext, conversation_id: str, *, limit: int = 10
    ) -> list[ConversationTurn]:
        """The last ``limit`` turns, oldest first."""
        tenant = TenantContext.of(tenant)
        check_limit(limit)
        turns = [t for t in self._turns.get(tenant.tenant_id, []) if t.conversation_id == conversation_id]
        return turns[-limit:]

    async def user_turns(self, tenant: TenantContext, user_id: str) -> list[ConversationTurn]:
        """Every turn of ``user_id``, oldest first."""
        tenant = TenantContext.of(tenant)
        return [t for t in self._turns.get(tenant.tenant_id, []) if t.user_id == user_id]

    async def delete_conversation(self, tenant: TenantContext, conversation_id: str) -> int:
        """Delete a conversation's turns."""
        tenant = TenantContext.of(tenant)
        async with self._lock:
            turns = self._turns.get(tenant.tenant_id, [])
            kept = [t for t in turns if t.conversation_id != conversation_id]
            self._turns[tenant.tenant_id] = kept
            return len(turns) - len(kept)

    async def delete_turns_before(self, tenant: TenantContext, cutoff: datetime) -> int:
        """Delete turns older than ``cutoff``."""
        tenant = TenantContext.of(tenant)
        cutoff = cutoff if cutoff.tzinfo is not None else cutoff.replace(tzinfo=UTC)
        async with self._lock:
            turns = self._turns.get(tenant.tenant_id, [])
            kept = [t for t in turns if t.created_at >= cutoff]
            self._turns[tenant.tenant_id] = kept
            return len(turns) - len(kept)

    async def delete_user(self, tenant: TenantContext, user_id: str) -> int:
        """Delete every turn of ``user_id``."""
        tenant = TenantContext.of(tenant)
        async with self._lock:
            turns = self._turns.get(tenant.tenant_id, [])
            kept = [t for t in turns if t.user_id != user_id]
            self._turns[tenant.tenant_id] = kept
            return len(turns) - len(kept)

"""InMemoryDocumentStore: document versions and conversation turns in process memory.

It implements both :class:`DocumentStorePort` and :class:`ConversationStorePort`, like the
PostgreSQL store, and is the reference behaviour of the documents contract suite.
"""

from __future__ import annotations

import asyncio

from motadata_ai.domain.values.documents import ConversationTurn, StoredDocument
from motadata_ai.domain.values.errors import ValidationError
from motadata_ai.domain.values.tenancy import TenantContext
from motadata_ai.ports.documents import ConversationStorePort, DocumentStorePort, VersionConflict

__all__ = ["InMemoryDocumentStore", "check_document_write", "check_limit", "check_turn"]


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


class InMemoryDocumentStore(DocumentStorePort, ConversationStorePort):
    """Versions per (tenant, document) and turns per (tenant, conversation), in dictionaries."""

    def __init__(self) -> None:
        self._versions: dict[tuple[str, str], list[StoredDocument]] = {}
        self._turns: dict[str, list[ConversationTurn]] = {}
        self._lock = asyncio.Lock()

    # -- documents ------------------------------------------------------------------------------

    async def get(self, tenant: TenantContext, document_id: str) -> StoredDocument | None:
        """The current version of ``document_id``, or ``None``."""
        tenant = TenantContext.of(tenant)
        versions = self._versions.get((tenant.tenant_id, document_id))
        return versions[-1] if versions else None

    async def add_version(self, tenant: TenantContext, document: StoredDocument) -> StoredDocument:
        """Store the next version; :class:`VersionConflict` unless it is current + 1."""
        tenant = TenantContext.of(tenant)
        check_document_write(tenant, document)
        async with self._lock:
            versions = self._versions.setdefault((tenant.tenant_id, document.document_id), [])
            expected = versions[-1].version + 1 if versions else 1
            if document.version != expected:
                raise VersionConflict(
                    f"document {document.document_id!r} version {document.version} cannot follow "
                    f"version {expected - 1}",
                    tenant_id=tenant.tenant_id,
                    document_id=document.document_id,
                    version=document.version,
                )
            versions.append(document)
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

    async def delete(self, tenant: TenantContext, document_id: str) -> bool:
        """Delete every version."""
        tenant = TenantContext.of(tenant)
        async with self._lock:
            return self._versions.pop((tenant.tenant_id, document_id), None) is not None

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

    async def delete_user(self, tenant: TenantContext, user_id: str) -> int:
        """Delete every turn of ``user_id``."""
        tenant = TenantContext.of(tenant)
        async with self._lock:
            turns = self._turns.get(tenant.tenant_id, [])
            kept = [t for t in turns if t.user_id != user_id]
            self._turns[tenant.tenant_id] = kept
            return len(turns) - len(kept)

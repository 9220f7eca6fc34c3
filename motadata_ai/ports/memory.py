"""MemoryStorePort: agent memories, conversation sessions and paused-run checkpoints, per tenant.

One port holds the three because they share a lifecycle: one user's data is exported and erased
from all of them at once (``delete_user``).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from datetime import datetime

from motadata_ai.domain.values.errors import ServiceError, StoreUnavailable
from motadata_ai.domain.values.memory import (
    Checkpoint,
    CheckpointClaim,
    MemoryKind,
    MemoryMatch,
    MemoryRecord,
    SessionMessage,
)
from motadata_ai.ports.health import HealthProbe


class MemoryStoreError(ServiceError):
    """The memory store failed."""


class MemoryStoreUnavailable(MemoryStoreError, StoreUnavailable):
    """The memory store cannot be reached; ``address`` names it with credentials masked."""


class MemoryStorePort(HealthProbe):
    """Persistent agent memory. Every call is scoped to one tenant; no call crosses tenants."""

    # -- memories -------------------------------------------------------------------------------

    @abstractmethod
    async def add(self, record: MemoryRecord) -> None:
        """Store ``record`` (replacing a record with the same tenant and id)."""

    @abstractmethod
    async def list_records(
        self, tenant_id: str, *, user_id: str | None = None, kind: MemoryKind | None = None
    ) -> list[MemoryRecord]:
        """The tenant's records (optionally of one user and kind), oldest first."""

    @abstractmethod
    async def search(
        self,
        tenant_id: str,
        embedding: Sequence[float],
        *,
        user_id: str,
        kinds: Sequence[MemoryKind] | None = None,
        limit: int = 10,
    ) -> list[MemoryMatch]:
        """The user's records with embeddings, most similar (cosine) to ``embedding`` first."""

    @abstractmethod
    async def delete(self, tenant_id: str, ids: Sequence[str]) -> int:
        """Delete the tenant's records with these ids; return how many existed."""

    @abstractmethod
    async def delete_older_than(self, tenant_id: str, cutoff: datetime, *, user_id: str | None = None) -> int:
        """Delete the tenant's records created before ``cutoff``; return how many."""

    # -- sessions -------------------------------------------------------------------------------

    @abstractmethod
    async def append_messages(self, tenant_id: str, messages: Sequence[SessionMessage]) -> None:
        """Append messages to their conversations, in order."""

    @abstractmethod
    async def load_messages(
        self, tenant_id: str, conversation_id: str, *, limit: int | None = None
    ) -> list[SessionMessage]:
        """The conversation's last ``limit`` messages (all when ``None``), oldest first."""

    @abstractmethod
    async def user_messages(self, tenant_id: str, user_id: str) -> list[SessionMessage]:
        """Every message of the user's conversations, oldest first."""

    @abstractmethod
    async def delete_conversation(self, tenant_id: str, conversation_id: str) -> int:
        """Delete a conversation's messages; return how many."""

    @abstractmethod
    async def delete_messages_before(self, tenant_id: str, cutoff: datetime) -> int:
        """Delete the tenant's session messages created before ``cutoff`` (retention)."""

    # -- checkpoints ----------------------------------------------------------------------------

    @abstractmethod
    async def save_checkpoint(self, checkpoint: Checkpoint) -> None:
        """Store (or replace) the state of a paused run, with the checkpoint's ``status``."""

    @abstractmethod
    async def load_checkpoint(self, tenant_id: str, checkpoint_id: str) -> Checkpoint | None:
        """The saved state (paused or already claimed), or ``None``."""

    @abstractmethod
    async def claim_checkpoint(self, tenant_id: str, checkpoint_id: str) -> CheckpointClaim:
        """Atomically move a ``paused`` checkpoint to ``resumed`` and hand it to this caller.

        One indivisible step (a single statement on a database): of any number of concurrent
        callers, in any number of processes, exactly one gets ``outcome="claimed"`` with the
        checkpoint; the others get ``already_claimed``; ``missing`` when there is none. The
        claimed checkpoint stays stored (``status="resumed"``, ``claimed_at`` set) until it is
        deleted or replaced by :meth:`save_checkpoint`.
        """

    @abstractmethod
    async def delete_checkpoint(self, tenant_id: str, checkpoint_id: str) -> bool:
        """Delete the saved state; ``True`` when it existed."""

    @abstractmethod
    async def user_checkpoints(self, tenant_id: str, user_id: str) -> list[Checkpoint]:
        """Every checkpoint (paused or claimed) of the user's runs, oldest first."""

    # -- erasure --------------------------------------------------------------------------------

    @abstractmethod
    async def delete_user(self, tenant_id: str, user_id: str) -> int:
        """Erase every record, message and checkpoint of the user; return how many items went."""

    async def aclose(self) -> None:
        """Release connections."""

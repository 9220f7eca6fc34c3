"""InMemoryMemoryStore: the in-process MemoryStorePort (the zero-dependency mode and the fake)."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime

from motadata_ai.adapters.memory._health import InProcessProbe
from motadata_ai.domain.values.errors import ValidationError
from motadata_ai.domain.values.memory import (
    Checkpoint,
    CheckpointClaim,
    MemoryKind,
    MemoryMatch,
    MemoryRecord,
    SessionMessage,
)
from motadata_ai.domain.values.tenancy import validate_tenant_id
from motadata_ai.domain.values.vectors import check_query_floats
from motadata_ai.ports.memory import MemoryStorePort


def _cosine(left: Sequence[float], right: Sequence[float]) -> float:
    if len(left) != len(right):
        raise ValidationError(
            f"embedding has {len(right)} dimensions; stored memories have {len(left)}", field="embedding"
        )
    dot = sum(a * b for a, b in zip(left, right, strict=True))
    norm = math.sqrt(sum(a * a for a in left)) * math.sqrt(sum(b * b for b in right))
    return dot / norm if norm else 0.0


class InMemoryMemoryStore(InProcessProbe, MemoryStorePort):
    """Dictionaries keyed by tenant: nothing is shared between tenants."""

    def __init__(self) -> None:
        self._records: dict[str, dict[str, MemoryRecord]] = defaultdict(dict)
        self._messages: dict[str, list[SessionMessage]] = defaultdict(list)
        self._checkpoints: dict[str, dict[str, Checkpoint]] = defaultdict(dict)

    async def add(self, record: MemoryRecord) -> None:
        """Store the record."""
        self._records[record.tenant_id][record.id] = record

    async def list_records(
        self, tenant_id: str, *, user_id: str | None = None, kind: MemoryKind | None = None
    ) -> list[MemoryRecord]:
        """The tenant's records, oldest first."""
        records = self._records.get(validate_tenant_id(tenant_id), {}).values()
        chosen = [
            r
            for r in records
            if (user_id is None or r.user_id == user_id) and (kind is None or r.kind == kind)
        ]
        return sorted(chosen, key=lambda r: r.created_at)

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
        records = self._records.get(validate_tenant_id(tenant_id), {}).values()
        query = check_query_floats(embedding, field="embedding")
        matches = [
            MemoryMatch(record=r, similarity=_cosine(r.embedding, query))
            for r in records
            if r.user_id == user_id and r.embedding is not None and (kinds is None or r.kind in kinds)
        ]
        matches.sort(key=lambda m: m.similarity, reverse=True)
        return matches[: max(0, limit)]

    async def delete(self, tenant_id: str, ids: Sequence[str]) -> int:
        """Delete by id."""
        records = self._records.get(validate_tenant_id(tenant_id), {})
        return sum(1 for record_id in ids if records.pop(record_id, None) is not None)

    async def delete_older_than(self, tenant_id: str, cutoff: datetime, *, user_id: str | None = None) -> int:
        """Delete records created before ``cutoff``."""
        records = self._records.get(validate_tenant_id(tenant_id), {})
        old = [
            r.id
            for r in records.values()
            if r.created_at < cutoff and (user_id is None or r.user_id == user_id)
        ]
        for record_id in old:
            del records[record_id]
        return len(old)

    async def append_messages(self, tenant_id: str, messages: Sequence[SessionMessage]) -> None:
        """Append in order."""
        tenant = validate_tenant_id(tenant_id)
        for message in messages:
            if message.tenant_id != tenant:
                raise ValidationError(
                    f"message of tenant {message.tenant_id!r} appended for tenant {tenant!r}",
                    field="tenant_id",
                    tenant_id=tenant,
                )
        self._messages[tenant].extend(messages)

    async def load_messages(
        self, tenant_id: str, conversation_id: str, *, limit: int | None = None
    ) -> list[SessionMessage]:
        """The conversation's last ``limit`` messages."""
        found = [
            m
            for m in self._messages.get(validate_tenant_id(tenant_id), [])
            if m.conversation_id == conversation_id
        ]
        return found[-limit:] if limit is not None and limit > 0 else ([] if limit == 0 else found)

    async def user_messages(self, tenant_id: str, user_id: str) -> list[SessionMessage]:
        """Every message of the user."""
        return [m for m in self._messages.get(validate_tenant_id(tenant_id), []) if m.user_id == user_id]

    async def delete_conversation(self, tenant_id: str, conversation_id: str) -> int:
        """Drop the conversation."""
        tenant = validate_tenant_id(tenant_id)
        before = self._messages.get(tenant, [])
        kept = [m for m in before if m.conversation_id != conversation_id]
        self._messages[tenant] = kept
        return len(before) - len(kept)

    async def delete_messages_before(self, tenant_id: str, cutoff: datetime) -> int:
        """Drop messages older than ``cutoff``."""
        tenant = validate_tenant_id(tenant_id)
        before = self._messages.get(tenant, [])
        kept = [m for m in before if m.created_at >= cutoff]
        self._messages[tenant] = kept
        return len(before) - len(kept)

    async def save_checkpoint(self, checkpoint: Checkpoint) -> None:
        """Store the state."""
        self._checkpoints[checkpoint.tenant_id][checkpoint.id] = checkpoint

    async def load_checkpoint(self, tenant_id: str, checkpoint_id: str) -> Checkpoint | None:
        """The state or ``None``."""
        return self._checkpoints.get(validate_tenant_id(tenant_id), {}).get(checkpoint_id)

    async def claim_checkpoint(self, tenant_id: str, checkpoint_id: str) -> CheckpointClaim:
        """Check and mark the checkpoint with no ``await`` in between: atomic on the event loop."""
        checkpoints = self._checkpoints.get(validate_tenant_id(tenant_id), {})
        found = checkpoints.get(checkpoint_id)
        if found is None:
            return CheckpointClaim(outcome="missing")
        if found.status != "paused":
            return CheckpointClaim(outcome="already_claimed")
        claimed = found.model_copy(update={"status": "resumed", "claimed_at": datetime.now(UTC)})
        checkpoints[checkpoint_id] = claimed
        return CheckpointClaim(outcome="claimed", checkpoint=claimed)

    async def delete_checkpoint(self, tenant_id: str, checkpoint_id: str) -> bool:
        """Drop the state."""
        return self._checkpoints.get(validate_tenant_id(tenant_id), {}).pop(checkpoint_id, None) is not None

    async def user_checkpoints(self, tenant_id: str, user_id: str) -> list[Checkpoint]:
        """Oldest first."""
        found = self._checkpoints.get(validate_tenant_id(tenant_id), {}).values()
        return sorted((c for c in found if c.user_id == user_id), key=lambda c: (c.created_at, c.id))

    async def delete_user(self, tenant_id: str, user_id: str) -> int:
        """Erase the user's records, messages and checkpoints."""
        tenant = validate_tenant_id(tenant_id)
        records = self._records.get(tenant, {})
        record_ids = [r.id for r in records.values() if r.user_id == user_id]
        for record_id in record_ids:
            del records[record_id]
        messages = self._messages.get(tenant, [])
        kept = [m for m in messages if m.user_id != user_id]
        self._messages[tenant] = kept
        checkpoints = self._checkpoints.get(tenant, {})
        checkpoint_ids = [c.id for c in checkpoints.values() if c.user_id == user_id]
        for checkpoint_id in checkpoint_ids:
            del checkpoints[checkpoint_id]
        return len(record_ids) + (len(messages) - len(kept)) + len(checkpoint_ids)

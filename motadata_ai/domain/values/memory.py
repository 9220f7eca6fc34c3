"""Value types of agent memory: memory records, conversation (session) messages, checkpoints,
and the memory configuration with its bounds."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import ConfigDict, Field

from motadata_ai.domain.values.base import ValueModel
from motadata_ai.domain.values.tenancy import TenantId

MemoryKind = Literal["long_term", "episodic", "semantic"]
"""Persistent kinds: ``long_term`` user facts and preferences, ``episodic`` past tasks and their
outcomes, ``semantic`` knowledge patterns. (Short-term memory is the conversation buffer.)"""

MEMORY_KINDS: tuple[MemoryKind, ...] = ("long_term", "episodic", "semantic")


def _now() -> datetime:
    return datetime.now(UTC)


def _new_id() -> str:
    return uuid.uuid4().hex


class MemoryRecord(ValueModel):
    """One remembered item of one user of one tenant."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(default_factory=_new_id)
    tenant_id: TenantId
    user_id: str
    kind: MemoryKind
    content: str
    importance: float = Field(0.5, ge=0.0, le=1.0)
    embedding: tuple[float, ...] | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime = Field(default_factory=_now)


class MemoryMatch(ValueModel):
    """A record and its similarity to a query embedding (cosine, -1..1; 0 without embeddings)."""

    model_config = ConfigDict(frozen=True)

    record: MemoryRecord
    similarity: float


class ScoredMemory(ValueModel):
    """A recalled memory with the parts of its score."""

    model_config = ConfigDict(frozen=True)

    record: MemoryRecord
    score: float
    relevance: float
    recency: float
    importance: float


class SessionMessage(ValueModel):
    """One persisted message of a conversation (the short-term memory of ``chat``)."""

    model_config = ConfigDict(frozen=True)

    tenant_id: TenantId
    conversation_id: str = Field(min_length=1, max_length=256)
    user_id: str | None = None
    role: Literal["user", "assistant"]
    content: str
    created_at: datetime = Field(default_factory=_now)


CheckpointStatus = Literal["paused", "resumed"]
"""``paused``: the run waits for a decision; ``resumed``: one caller claimed it and continues it."""


class Checkpoint(ValueModel):
    """The saved state of a paused run (awaiting approval), so it resumes in any process.

    ``status`` moves from ``paused`` to ``resumed`` exactly once, by
    :meth:`~motadata_ai.ports.memory.MemoryStorePort.claim_checkpoint`; ``claimed_at`` says when.
    """

    model_config = ConfigDict(frozen=True)

    tenant_id: TenantId
    id: str
    user_id: str | None = None
    state: dict[str, Any]
    status: CheckpointStatus = "paused"
    created_at: datetime = Field(default_factory=_now)
    claimed_at: datetime | None = None


class CheckpointClaim(ValueModel):
    """What one :meth:`~motadata_ai.ports.memory.MemoryStorePort.claim_checkpoint` call got.

    ``claimed``: this caller, and no other, took the paused checkpoint (``checkpoint`` holds it);
    ``already_claimed``: the checkpoint exists but another caller claimed it first;
    ``missing``: there is no checkpoint with this id for the tenant.
    """

    model_config = ConfigDict(frozen=True)

    outcome: Literal["claimed", "already_claimed", "missing"]
    checkpoint: Checkpoint | None = None


class MemoryConfig(ValueModel):
    """Bounds and scoring of an agent's memory (``Settings.memory`` in an app; defaults written here)."""

    model_config = ConfigDict(frozen=True)

    enabled: bool = True
    max_episodic: int = Field(100, ge=1, le=1_000_000, description="Episodic memories kept per user")
    max_semantic: int = Field(200, ge=1, le=1_000_000, description="Semantic memories kept per user")
    max_long_term: int = Field(
        200, ge=1, le=1_000_000, description="Long-term facts/preferences kept per user"
    )
    max_age_days: float = Field(30, gt=0, le=36_500, description="Memories older than this are removed")
    short_term_max_tokens: int = Field(
        2000, ge=1, le=10_000_000, description="Conversation history kept in a prompt"
    )
    recall_limit: int = Field(5, ge=0, le=1000, description="Memories recalled into a prompt")
    min_recall_score: float = Field(0.0, ge=0, le=1, description="Recalled memories must score at least this")
    relevance_weight: float = Field(0.6, ge=0, le=100)
    recency_weight: float = Field(0.25, ge=0, le=100)
    importance_weight: float = Field(0.15, ge=0, le=100)
    recency_half_life_days: float = Field(
        7.0, gt=0, le=36_500, description="Recency halves every so many days"
    )
    remember_tasks: bool = Field(True, description="Store each finished task as an episodic memory")

    def limit_for(self, kind: MemoryKind) -> int:
        """The number of records of ``kind`` kept per user."""
        return {"episodic": self.max_episodic, "semantic": self.max_semantic}.get(kind, self.max_long_term)


class UserDataExport(ValueModel):
    """Everything the SDK's memory holds about one user of one tenant."""

    model_config = ConfigDict(frozen=True)

    tenant_id: TenantId
    user_id: str
    memories: tuple[MemoryRecord, ...] = ()
    messages: tuple[SessionMessage, ...] = ()
    exported_at: datetime = Field(default_factory=_now)

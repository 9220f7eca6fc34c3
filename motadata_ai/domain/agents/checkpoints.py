"""Checkpoints of paused agent runs: saved, claimed exactly once, and dropped when the run ends.

With a memory store the checkpoint lives there and is claimed atomically by the store (so of
concurrent resumes in any number of processes one wins); without one it lives in the agent's
process and the claim is atomic on the event loop.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

from motadata_ai.domain.agents.run_state import RunState
from motadata_ai.domain.values.memory import Checkpoint, CheckpointClaim
from motadata_ai.ports.memory import MemoryStoreError, MemoryStorePort


class RunCheckpoints:
    """The paused runs of one agent of one tenant, keyed ``agent:<agent_id>:<task_id>``."""

    def __init__(self, *, agent_id: str, tenant_id: str) -> None:
        self.agent_id = agent_id
        self.tenant_id = tenant_id
        self._local: dict[str, Checkpoint] = {}

    def key(self, task_id: str) -> str:
        """The checkpoint id of ``task_id``."""
        return f"agent:{self.agent_id}:{task_id}"

    async def save(self, state: RunState, store: MemoryStorePort | None) -> None:
        """Save (or replace) the checkpoint of a paused run."""
        checkpoint = Checkpoint(
            tenant_id=self.tenant_id,
            id=self.key(state.task_id),
            user_id=state.user_id,
            state=state.model_dump(mode="json"),
        )
        if store is not None:
            await store.save_checkpoint(checkpoint)
        else:
            self._local[checkpoint.id] = checkpoint

    async def claim(self, task_id: str, store: MemoryStorePort | None) -> CheckpointClaim:
        """Claim the paused checkpoint of ``task_id``: one caller gets ``claimed``, later ones
        ``already_claimed``; ``missing`` when there is none."""
        key = self.key(task_id)
        if store is not None:
            return await store.claim_checkpoint(self.tenant_id, key)
        found = self._local.get(key)  # no await until it is marked: atomic on the loop
        if found is None:
            return CheckpointClaim(outcome="missing")
        if found.status != "paused":
            return CheckpointClaim(outcome="already_claimed")
        claimed = found.model_copy(update={"status": "resumed", "claimed_at": datetime.now(UTC)})
        self._local[key] = claimed
        return CheckpointClaim(outcome="claimed", checkpoint=claimed)

    async def drop(self, task_id: str, store: MemoryStorePort | None) -> None:
        """Delete the claimed checkpoint of a run that ended."""
        key = self.key(task_id)
        if store is None:
            self._local.pop(key, None)
            return
        # A claimed checkpoint left behind (store down now) only ever answers TaskAlreadyResumed.
        with contextlib.suppress(MemoryStoreError):
            await store.delete_checkpoint(self.tenant_id, key)

"""The MemoryStorePort contract: one suite every memory store adapter must pass.

Subclass :class:`MemoryStoreContract` (in a ``Test*`` class) and implement :meth:`make_store` to
return a fresh, empty store; adapters behind a server subclass :class:`MemoryStoreServerContract`
and implement :meth:`make_unreachable_store` to return a store pointed at a server that does not
answer, with the password ``s3cret`` in its address::

    class TestMyMemoryStore(MemoryStoreContract):
        async def make_store(self) -> MemoryStorePort:
            return MyMemoryStore(...)
"""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from motadata_ai.domain.values.errors import InvalidTenant, ValidationError
from motadata_ai.domain.values.memory import Checkpoint, MemoryRecord, SessionMessage
from motadata_ai.ports.memory import MemoryStorePort, MemoryStoreUnavailable
from motadata_ai.testing.contracts.health import assert_probe_answers, assert_probe_reports_down

__all__ = ["SECRET", "MemoryStoreContract", "MemoryStoreServerContract"]

SECRET = "s3cret"
T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


def unit(*values: float) -> tuple[float, ...]:
    """``values`` normalised to length 1."""
    norm = math.sqrt(sum(v * v for v in values))
    return tuple(v / norm for v in values)


def record(tenant: str, record_id: str, **fields: Any) -> MemoryRecord:
    """A memory record with defaults."""
    values: dict[str, Any] = {
        "tenant_id": tenant,
        "id": record_id,
        "user_id": "u1",
        "kind": "long_term",
        "content": f"content of {record_id}",
        "created_at": T0,
    }
    values.update(fields)
    return MemoryRecord(**values)


def message(
    tenant: str,
    conversation: str,
    content: str,
    *,
    user: str | None = "u1",
    offset: int = 0,
    role: str = "user",
) -> SessionMessage:
    """A session message with defaults."""
    return SessionMessage(
        tenant_id=tenant,
        conversation_id=conversation,
        user_id=user,
        role=role,  # type: ignore[arg-type]
        content=content,
        created_at=T0 + timedelta(seconds=offset),
    )


class MemoryStoreContract:
    """Behaviour every memory store shares; subclasses provide the store."""

    async def make_store(self) -> MemoryStorePort:
        """A fresh, empty store."""
        raise NotImplementedError

    # -- memories -------------------------------------------------------------------------------

    async def test_starts_empty(self) -> None:
        store = await self.make_store()
        assert await store.list_records("acme") == []
        assert await store.load_messages("acme", "c1") == []
        assert await store.load_checkpoint("acme", "x") is None

    async def test_records_round_trip_oldest_first(self) -> None:
        store = await self.make_store()
        later = record(
            "acme",
            "b",
            created_at=T0 + timedelta(hours=1),
            importance=0.9,
            metadata={"tools": ["lookup"], "n": 2},
            embedding=unit(1, 0, 0),
            kind="episodic",
        )
        await store.add(later)
        await store.add(record("acme", "a"))
        found = await store.list_records("acme")
        assert [r.id for r in found] == ["a", "b"]
        got = found[1]
        assert got.content == later.content and got.kind == "episodic" and got.importance == 0.9
        assert got.metadata == {"tools": ["lookup"], "n": 2}
        assert got.created_at == later.created_at
        assert got.embedding is not None and all(
            math.isclose(x, y, abs_tol=1e-6)
            for x, y in zip(got.embedding, later.embedding or (), strict=True)
        )

    async def test_adding_the_same_id_replaces_the_record(self) -> None:
        store = await self.make_store()
        await store.add(record("acme", "a", content="old"))
        await store.add(record("acme", "a", content="new"))
        assert [r.content for r in await store.list_records("acme")] == ["new"]

    async def test_list_filters_by_user_and_kind(self) -> None:
        store = await self.make_store()
        await store.add(record("acme", "1", user_id="u1", kind="episodic"))
        await store.add(record("acme", "2", user_id="u1", kind="semantic"))
        await store.add(record("acme", "3", user_id="u2", kind="episodic"))
        assert {r.id for r in await store.list_records("acme", user_id="u1")} == {"1", "2"}
        assert {r.id for r in await store.list_records("acme", kind="episodic")} == {"1", "3"}
        assert [r.id for r in await store.list_records("acme", user_id="u2", kind="episodic")] == ["3"]

    async def test_search_orders_by_cosine_similarity_within_the_user(self) -> None:
        store = await self.make_store()
        await store.add(record("acme", "far", embedding=unit(0, 1, 0)))
        await store.add(record("acme", "near", embedding=unit(1, 0.1, 0)))
        await store.add(record("acme", "mid", embedding=unit(1, 1, 0), kind="semantic"))
        await store.add(record("acme", "other-user", user_id="u2", embedding=unit(1, 0, 0)))
        await store.add(record("acme", "no-vector"))
        matches = await store.search("acme", unit(1, 0, 0), user_id="u1")
        assert [m.record.id for m in matches] == ["near", "mid", "far"]
        assert math.isclose(matches[2].similarity, 0.0, abs_tol=1e-6)
        assert matches[0].similarity > matches[1].similarity
        only = await store.search("acme", unit(1, 0, 0), user_id="u1", kinds=["semantic"], limit=5)
        assert [m.record.id for m in only] == ["mid"]
        assert len(await store.search("acme", unit(1, 0, 0), user_id="u1", limit=1)) == 1

    async def test_a_query_embedding_that_is_not_finite_numbers_is_refused(self) -> None:
        store = await self.make_store()
        await store.add(record("acme", "near", embedding=unit(1, 0.1, 0)))
        for embedding in ((None, 0.0, 1.0), (1.0, "x", 0.0), "123", 5, (float("nan"), 0.0, 1.0)):
            with pytest.raises(ValidationError):
                await store.search("acme", embedding, user_id="u1")  # type: ignore[arg-type]

    async def test_delete_by_ids_counts_what_existed(self) -> None:
        store = await self.make_store()
        await store.add(record("acme", "a"))
        await store.add(record("acme", "b"))
        assert await store.delete("acme", ["a", "missing"]) == 1
        assert [r.id for r in await store.list_records("acme")] == ["b"]
        assert await store.delete("acme", []) == 0

    async def test_delete_older_than(self) -> None:
        store = await self.make_store()
        await store.add(record("acme", "old", created_at=T0 - timedelta(days=40)))
        await store.add(record("acme", "old-u2", user_id="u2", created_at=T0 - timedelta(days=40)))
        await store.add(record("acme", "new"))
        assert await store.delete_older_than("acme", T0 - timedelta(days=30), user_id="u1") == 1
        assert {r.id for r in await store.list_records("acme")} == {"old-u2", "new"}
        assert await store.delete_older_than("acme", T0 - timedelta(days=30)) == 1

    # -- sessions -------------------------------------------------------------------------------

    async def test_messages_keep_their_order_and_the_limit_takes_the_newest(self) -> None:
        store = await self.make_store()
        await store.append_messages("acme", [message("acme", "c1", f"m{i}", offset=i) for i in range(3)])
        await store.append_messages("acme", [message("acme", "c1", "m3", offset=3, role="assistant")])
        await store.append_messages("acme", [message("acme", "c2", "other")])
        assert [m.content for m in await store.load_messages("acme", "c1")] == ["m0", "m1", "m2", "m3"]
        newest = await store.load_messages("acme", "c1", limit=2)
        assert [(m.content, m.role) for m in newest] == [("m2", "user"), ("m3", "assistant")]
        assert await store.load_messages("acme", "c1", limit=0) == []

    async def test_user_messages_and_conversation_deletion(self) -> None:
        store = await self.make_store()
        await store.append_messages(
            "acme",
            [
                message("acme", "c1", "a", user="u1"),
                message("acme", "c2", "b", user="u2", offset=1),
                message("acme", "c3", "c", user="u1", offset=2),
            ],
        )
        assert [m.content for m in await store.user_messages("acme", "u1")] == ["a", "c"]
        assert await store.delete_conversation("acme", "c1") == 1
        assert [m.content for m in await store.user_messages("acme", "u1")] == ["c"]

    # -- checkpoints ----------------------------------------------------------------------------

    async def test_checkpoints_round_trip_and_delete(self) -> None:
        store = await self.make_store()
        state = {"task": "restart", "steps": [{"index": 0}], "nested": {"ok": True}}
        await store.save_checkpoint(Checkpoint(tenant_id="acme", id="t1", user_id="u1", state=state))
        loaded = await store.load_checkpoint("acme", "t1")
        assert loaded is not None and loaded.state == state and loaded.user_id == "u1"
        await store.save_checkpoint(Checkpoint(tenant_id="acme", id="t1", state={"v": 2}))
        assert (await store.load_checkpoint("acme", "t1")).state == {"v": 2}  # type: ignore[union-attr]
        assert await store.delete_checkpoint("acme", "t1") is True
        assert await store.delete_checkpoint("acme", "t1") is False

    async def test_a_claim_takes_the_paused_checkpoint_once(self) -> None:
        store = await self.make_store()
        await store.save_checkpoint(Checkpoint(tenant_id="acme", id="t1", user_id="u1", state={"v": 1}))
        assert (await store.load_checkpoint("acme", "t1")).status == "paused"  # type: ignore[union-attr]
        won = await store.claim_checkpoint("acme", "t1")
        assert won.outcome == "claimed"
        assert won.checkpoint is not None and won.checkpoint.state == {"v": 1}
        assert won.checkpoint.status == "resumed" and won.checkpoint.claimed_at is not None
        assert won.checkpoint.user_id == "u1"
        assert (await store.claim_checkpoint("acme", "t1")).outcome == "already_claimed"
        stored = await store.load_checkpoint("acme", "t1")
        assert stored is not None and stored.status == "resumed" and stored.claimed_at is not None
        assert (await store.claim_checkpoint("acme", "nope")).outcome == "missing"
        assert (await store.claim_checkpoint("globex", "t1")).outcome == "missing"

    async def test_saving_again_pauses_a_claimed_checkpoint_and_delete_makes_it_missing(self) -> None:
        store = await self.make_store()
        await store.save_checkpoint(Checkpoint(tenant_id="acme", id="t1", state={"v": 1}))
        assert (await store.claim_checkpoint("acme", "t1")).outcome == "claimed"
        await store.save_checkpoint(Checkpoint(tenant_id="acme", id="t1", state={"v": 2}))
        again = await store.claim_checkpoint("acme", "t1")
        assert again.outcome == "claimed" and again.checkpoint is not None
        assert again.checkpoint.state == {"v": 2}
        assert await store.delete_checkpoint("acme", "t1") is True
        assert (await store.claim_checkpoint("acme", "t1")).outcome == "missing"

    async def test_concurrent_claims_of_one_checkpoint_have_exactly_one_winner(self) -> None:
        store = await self.make_store()
        for round_ in range(5):
            checkpoint_id = f"t{round_}"
            await store.save_checkpoint(Checkpoint(tenant_id="acme", id=checkpoint_id, state={"r": round_}))
            claims = await asyncio.gather(*(store.claim_checkpoint("acme", checkpoint_id) for _ in range(8)))
            outcomes = sorted(claim.outcome for claim in claims)
            assert outcomes == ["already_claimed"] * 7 + ["claimed"]
            winner = next(claim for claim in claims if claim.outcome == "claimed")
            assert winner.checkpoint is not None and winner.checkpoint.state == {"r": round_}

    async def test_claims_validate_the_tenant(self) -> None:
        store = await self.make_store()
        with pytest.raises(InvalidTenant):
            await store.claim_checkpoint("not a tenant!", "t1")

    # -- erasure and isolation ------------------------------------------------------------------

    async def test_delete_user_erases_only_that_users_data(self) -> None:
        store = await self.make_store()
        await store.add(record("acme", "a1", user_id="alice"))
        await store.add(record("acme", "b1", user_id="bob"))
        await store.add(record("globex", "a2", user_id="alice"))
        await store.append_messages(
            "acme",
            [message("acme", "c", "hi", user="alice"), message("acme", "d", "yo", user="bob", offset=1)],
        )
        await store.save_checkpoint(Checkpoint(tenant_id="acme", id="t", user_id="alice", state={}))
        await store.save_checkpoint(Checkpoint(tenant_id="acme", id="u", user_id="bob", state={}))
        assert [c.id for c in await store.user_checkpoints("acme", "alice")] == ["t"]
        assert await store.user_checkpoints("globex", "alice") == []
        assert await store.delete_user("acme", "alice") == 3
        assert await store.user_checkpoints("acme", "alice") == []
        assert [c.id for c in await store.user_checkpoints("acme", "bob")] == ["u"]
        assert [r.id for r in await store.list_records("acme")] == ["b1"]
        assert [m.content for m in await store.load_messages("acme", "d")] == ["yo"]
        assert await store.load_checkpoint("acme", "t") is None
        assert [r.id for r in await store.list_records("globex")] == ["a2"]

    async def test_tenants_never_see_each_others_data(self) -> None:
        store = await self.make_store()
        await store.add(record("acme", "same-id", embedding=unit(1, 0)))
        await store.add(record("globex", "same-id", content="globex", embedding=unit(1, 0)))
        await store.append_messages("acme", [message("acme", "c1", "acme says")])
        await store.save_checkpoint(Checkpoint(tenant_id="acme", id="t", state={"a": 1}))
        assert [r.content for r in await store.list_records("globex")] == ["globex"]
        assert [m.record.content for m in await store.search("globex", unit(1, 0), user_id="u1")] == [
            "globex"
        ]
        assert await store.load_messages("globex", "c1") == []
        assert await store.load_checkpoint("globex", "t") is None
        assert await store.delete("globex", ["same-id"]) == 1
        assert [r.id for r in await store.list_records("acme")] == ["same-id"]
        assert await store.delete_user("globex", "u1") == 0
        assert len(await store.load_messages("acme", "c1")) == 1

    async def test_invalid_tenant_ids_are_rejected(self) -> None:
        store = await self.make_store()
        with pytest.raises(InvalidTenant):
            await store.list_records("not a tenant!")
        with pytest.raises(InvalidTenant):
            await store.load_messages("", "c1")
        with pytest.raises(InvalidTenant):
            await store.delete_user("x" * 65, "u1")

    async def test_health_probe_answers(self) -> None:
        await assert_probe_answers(await self.make_store())


class MemoryStoreServerContract(MemoryStoreContract):
    """The MemoryStore contract plus error translation, for adapters behind a server."""

    async def make_unreachable_store(self) -> MemoryStorePort:
        """An adapter pointed at a server that does not answer, with the password ``s3cret`` in
        its address."""
        raise NotImplementedError

    async def test_an_unreachable_server_is_a_port_error_naming_the_masked_address(self) -> None:
        store = await self.make_unreachable_store()
        with pytest.raises(MemoryStoreUnavailable) as caught:
            await store.list_records("acme")
        address = str(caught.value.fields.get("address", ""))
        assert address and SECRET not in address and SECRET not in str(caught.value)

    async def test_health_probe_reports_an_unreachable_server_down(self) -> None:
        await assert_probe_reports_down(await self.make_unreachable_store(), secret=SECRET)

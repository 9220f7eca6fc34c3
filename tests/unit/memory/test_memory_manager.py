"""Memory: bounds, ageing with a fake clock, scoring, sessions, export and erasure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from motadata_ai.adapters.memory.embedding import HashEmbeddings
from motadata_ai.adapters.memory.memory_store import InMemoryMemoryStore
from motadata_ai.adapters.memory.telemetry import RecordingTelemetry
from motadata_ai.domain.gateway.config import GatewayConfig
from motadata_ai.domain.gateway.service import Gateway
from motadata_ai.domain.memory import MemoryManager, ShortTermBuffer
from motadata_ai.domain.prompts import redact_sensitive
from motadata_ai.domain.values.errors import InvalidTenant, ValidationError
from motadata_ai.domain.values.memory import MemoryConfig, SessionMessage
from motadata_ai.testing.models import FunctionLLM


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2025, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def make_memory(clock: FakeClock, **config: object) -> MemoryManager:
    gateway = Gateway(
        llm=FunctionLLM(lambda _: "x"),
        embeddings=HashEmbeddings(dimensions=128),
        config=GatewayConfig(default_model="m", default_embedding_model="hash", enable_caching=False),
    )
    return MemoryManager(
        store=InMemoryMemoryStore(),
        embedder=gateway,
        config=MemoryConfig(**config),
        clock=clock,  # type: ignore[arg-type]
        telemetry=RecordingTelemetry(),
    )


async def test_episodic_memories_are_bounded_dropping_the_least_worth_keeping() -> None:
    clock = FakeClock()
    memory = make_memory(clock, max_episodic=3)
    await memory.remember("acme", "u1", "important old", kind="episodic", importance=1.0)
    for index in range(5):
        clock.advance(hours=1)
        await memory.remember("acme", "u1", f"episode {index}", kind="episodic", importance=0.1)
    kept = [r.content for r in await memory.store.list_records("acme", user_id="u1", kind="episodic")]
    assert kept == ["important old", "episode 3", "episode 4"]


async def test_each_kind_has_its_own_bound() -> None:
    clock = FakeClock()
    memory = make_memory(clock, max_episodic=2, max_semantic=4)
    for index in range(5):
        await memory.remember("acme", "u1", f"episode {index}", kind="episodic")
        await memory.remember("acme", "u1", f"pattern {index}", kind="semantic")
    assert len(await memory.store.list_records("acme", kind="episodic")) == 2
    assert len(await memory.store.list_records("acme", kind="semantic")) == 4


async def test_memories_age_out_after_max_age_days() -> None:
    clock = FakeClock()
    memory = make_memory(clock, max_age_days=30)
    await memory.remember("acme", "u1", "prefers email updates")
    clock.advance(days=29)
    assert [m.record.content for m in await memory.recall("acme", "u1", "email updates")] == [
        "prefers email updates"
    ]
    clock.advance(days=2)
    assert await memory.recall("acme", "u1", "email updates") == []  # expired, even before clean-up
    assert len(await memory.store.list_records("acme")) == 1
    assert await memory.cleanup("acme") == 1
    assert await memory.store.list_records("acme") == []


async def test_remember_cleans_up_expired_memories_automatically() -> None:
    clock = FakeClock()
    memory = make_memory(clock, max_age_days=1)
    await memory.remember("acme", "u1", "old fact")
    clock.advance(days=2)
    await memory.remember("acme", "u1", "new fact")
    assert [r.content for r in await memory.store.list_records("acme")] == ["new fact"]


async def test_recall_scores_relevance_recency_and_importance() -> None:
    clock = FakeClock()
    memory = make_memory(clock)
    await memory.remember("acme", "u1", "the printer on floor 3 jams often", importance=0.2)
    await memory.remember("acme", "u1", "vpn token resets fix login failures", importance=0.2)
    clock.advance(days=10)
    await memory.remember("acme", "u1", "user prefers phone calls", importance=0.9)
    recalled = await memory.recall("acme", "u1", "vpn login failures", limit=3)
    assert recalled[0].record.content.startswith("vpn token")
    top = recalled[0]
    assert top.score == pytest.approx(0.6 * top.relevance + 0.25 * top.recency + 0.15 * top.importance)
    newest = next(m for m in recalled if m.record.content.startswith("user prefers"))
    assert newest.recency == pytest.approx(1.0) and top.recency == pytest.approx(0.5 ** (10 / 7))


async def test_recall_is_per_user_and_per_tenant() -> None:
    memory = make_memory(FakeClock())
    await memory.remember("acme", "u1", "secret project falcon")
    await memory.remember("globex", "u1", "globex project falcon")
    assert [m.record.content for m in await memory.recall("acme", "u1", "project falcon")] == [
        "secret project falcon"
    ]
    assert await memory.recall("acme", "u2", "project falcon") == []


async def test_export_and_delete_user_data_leave_others_untouched() -> None:
    memory = make_memory(FakeClock())
    await memory.remember("acme", "alice", "alice likes dark mode")
    await memory.remember("acme", "bob", "bob likes light mode")
    await memory.remember("globex", "alice", "other tenant's alice")
    await memory.append_turn("acme", "c1", user_id="alice", question="hi", answer="hello")
    exported = await memory.export_user_data(tenant_id="acme", user_id="alice")
    assert [m.content for m in exported.memories] == ["alice likes dark mode"]
    assert [m.content for m in exported.messages] == ["hi", "hello"]
    assert await memory.delete_user_data(tenant_id="acme", user_id="alice") == 3
    assert (await memory.export_user_data(tenant_id="acme", user_id="alice")).memories == ()
    assert len(await memory.store.list_records("acme", user_id="bob")) == 1
    assert len(await memory.store.list_records("globex", user_id="alice")) == 1


async def test_user_data_calls_refuse_positional_arguments_that_could_be_swapped() -> None:
    from motadata_ai.errors import KeywordArgumentsRequired

    memory = make_memory(FakeClock())
    await memory.remember("acme", "bob", "bob likes light mode")
    # the design document's order (user, tenant): it must not silently erase nothing
    with pytest.raises(KeywordArgumentsRequired) as caught:
        await memory.delete_user_data("bob", "acme")
    assert isinstance(caught.value, TypeError) and "tenant_id=" in str(caught.value)
    with pytest.raises(KeywordArgumentsRequired):
        await memory.export_user_data("bob", "acme")
    assert len(await memory.store.list_records("acme", user_id="bob")) == 1


async def test_bad_input_is_rejected_with_typed_errors() -> None:
    memory = make_memory(FakeClock())
    with pytest.raises(ValidationError):
        await memory.remember("acme", "u1", "   ")
    with pytest.raises(ValidationError):
        await memory.remember("acme", "u1", "x", kind="bogus")  # type: ignore[arg-type]
    with pytest.raises(InvalidTenant):
        await memory.remember("bad tenant!", "u1", "x")
    with pytest.raises(ValidationError):
        await memory.remember("acme", "u1", "x", importance=2.0)


async def test_redaction_applies_before_storage() -> None:
    clock = FakeClock()
    memory = make_memory(clock)
    memory.redact = redact_sensitive
    record = await memory.remember("acme", "u1", "my email is bob@example.com")
    assert "bob@example.com" not in record.content and "[REDACTED_EMAIL]" in record.content


def test_short_term_buffer_keeps_the_newest_messages_within_tokens() -> None:
    messages = [
        SessionMessage(
            tenant_id="acme",
            conversation_id="c",
            role="user" if i % 2 == 0 else "assistant",
            content=f"message number {i} " + "x" * 40,
        )
        for i in range(10)
    ]
    kept = ShortTermBuffer(max_tokens=50).fit(messages)
    assert 0 < len(kept) < 10
    assert kept[-1].content == messages[-1].content
    assert kept[0].content == messages[10 - len(kept)].content


async def test_memory_operations_are_traced() -> None:
    memory = make_memory(FakeClock())
    await memory.remember("acme", "u1", "fact")
    await memory.recall("acme", "u1", "fact")
    names = [s.name for s in memory.telemetry.spans]  # type: ignore[attr-defined]
    assert "memory remember" in names and "memory recall" in names


@pytest.mark.parametrize(
    ("arguments", "field"),
    [({"content": None}, "content"), ({"content": 5}, "content"), ({"importance": "high"}, "importance"),
     ({"importance": None}, "importance"), ({"importance": True}, "importance"), ({"user_id": 7}, "user_id")],
)  # fmt: skip
async def test_remember_refuses_arguments_of_the_wrong_kind(arguments: dict[str, object], field: str) -> None:
    memory = make_memory(FakeClock())
    call = {"user_id": "alice", "content": "prefers e-mail", **arguments}
    with pytest.raises(ValidationError) as caught:
        await memory.remember("acme", call.pop("user_id"), call.pop("content"), **call)  # type: ignore[arg-type]
    assert caught.value.field == field
    assert await memory.store.list_records("acme") == []

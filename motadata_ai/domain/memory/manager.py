"""Agent memory: remember, recall (relevance × recency × importance), bounds and ageing, sessions,
and a user's data export and erasure.

Scoring: ``score = w_rel·relevance + w_rec·recency + w_imp·importance`` where relevance is the
cosine similarity of the memory to the query (embeddings through the gateway, floored at 0),
recency is ``0.5 ** (age_days / recency_half_life_days)``, and importance is the 0..1 value given
when the memory was stored. Bounds: after every ``remember`` the user's memories older than
``max_age_days`` are deleted, and when a kind holds more than its limit (``max_episodic``,
``max_semantic``, ``max_long_term``) the records with the lowest retention score
(``w_rec·recency + w_imp·importance``) go first. Recall never returns an expired memory even
before clean-up ran.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from motadata_ai.domain.guardrails.context import FLAG
from motadata_ai.domain.memory._telemetry import NoTelemetry
from motadata_ai.domain.prompts.context import TokenCounter, estimate_tokens
from motadata_ai.domain.prompts.redaction import Redactor
from motadata_ai.domain.values.arguments import check_number, check_string
from motadata_ai.domain.values.base import check_text
from motadata_ai.domain.values.calls import CallOrigin, Purpose, acting_for, current_origin, new_request_id
from motadata_ai.domain.values.consent import ConsentRequired
from motadata_ai.domain.values.errors import ValidationError
from motadata_ai.domain.values.keywords import keywords_only
from motadata_ai.domain.values.llm import Message
from motadata_ai.domain.values.memory import (
    MEMORY_KINDS,
    MemoryConfig,
    MemoryKind,
    MemoryRecord,
    ScoredMemory,
    SessionMessage,
    UserDataExport,
)
from motadata_ai.domain.values.tenancy import TenantContext, check_user_id
from motadata_ai.ports.gateway import GatewayPort
from motadata_ai.ports.memory import MemoryStorePort
from motadata_ai.ports.telemetry import TelemetryPort

Clock = Callable[[], datetime]
Embedder = GatewayPort
"""What memory needs from the gateway (embeddings): the one :class:`GatewayPort`."""
ContextScreen = GatewayPort
"""What quoting memories needs (``guard_context``): the one :class:`GatewayPort`."""


ConsentCheck = Callable[[str, str], Awaitable[bool]]
"""``(tenant_id, user_id) -> consents to memory?``"""


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _tenant_id(tenant: TenantContext | str) -> str:
    return TenantContext.of(tenant).tenant_id


class ShortTermBuffer:
    """The newest conversation messages that fit ``max_tokens`` (the short-term memory)."""

    def __init__(self, *, max_tokens: int, counter: TokenCounter | None = None) -> None:
        self.max_tokens = max_tokens
        self.count = counter or estimate_tokens

    def fit(self, messages: Sequence[SessionMessage]) -> list[Message]:
        """Chat messages for the newest ``messages`` within the budget, oldest first."""
        kept: list[Message] = []
        used = 0
        for message in reversed(messages):
            cost = self.count(message.content) + 4
            if used + cost > self.max_tokens:
                break
            kept.append(Message(role=message.role, content=message.content))
            used += cost
        kept.reverse()
        return kept


class MemoryManager:
    """One agent's (or RAG system's) memory over a :class:`MemoryStorePort`, clock injected."""

    def __init__(
        self,
        *,
        store: MemoryStorePort,
        embedder: Embedder | None = None,
        config: MemoryConfig | None = None,
        clock: Clock = _utcnow,
        telemetry: TelemetryPort | None = None,
        redact: Redactor | None = None,
        embedding_model: str | None = None,
        counter: TokenCounter | None = None,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.config = config or MemoryConfig()
        self.clock = clock
        self.telemetry = telemetry or NoTelemetry()
        self.redact = redact
        self.embedding_model = embedding_model
        self.buffer = ShortTermBuffer(max_tokens=self.config.short_term_max_tokens, counter=counter)
        self.consent: ConsentCheck | None = None
        """When set, nothing is remembered about a user beyond the session without their consent
        to ``memory`` (``remember`` raises :class:`ConsentRequired`)."""

    async def may_remember(self, tenant: TenantContext | str, user_id: str) -> bool:
        """Whether memories of the user may be stored (consent to ``memory``, when required)."""
        return self.consent is None or bool(await self.consent(_tenant_id(tenant), user_id))

    async def _embed(
        self,
        tenant: TenantContext | str,
        texts: Sequence[str],
        *,
        purpose: Purpose,
        user_id: str,
        operation: str,
    ) -> list[tuple[float, ...]] | None:
        """Embed for ``user_id``: inside a request (an agent task) as part of it, else as a
        request of its own named ``operation`` (``memory.recall``), so the ledger says why."""
        if self.embedder is None:
            return None
        caller = TenantContext.of(tenant, user_id)
        origin = current_origin() or CallOrigin(
            new_request_id(), caller.tenant_id, operation, user_id=user_id
        )
        with acting_for(origin):
            response = await self.embedder.embed(
                list(texts), tenant_id=caller, model=self.embedding_model, purpose=purpose
            )
        return [tuple(v) for v in response.vectors]

    def _attributes(self, operation: str, tenant_id: str, **more: Any) -> dict[str, Any]:
        return {"gen_ai.operation.name": operation, "motadata.tenant.id": tenant_id, **more}

    # -- long-term, episodic, semantic --------------------------------------------------------

    async def remember(
        self,
        tenant: TenantContext | str,
        user_id: str,
        content: str,
        *,
        kind: MemoryKind = "long_term",
        importance: float = 0.5,
        metadata: dict[str, Any] | None = None,
    ) -> MemoryRecord:
        """Store a memory of ``kind`` for the user, then enforce the bounds."""
        tenant_id = _tenant_id(tenant)
        if kind not in MEMORY_KINDS:
            raise ValidationError(f"memory kind {kind!r} is not one of {MEMORY_KINDS}", field="kind")
        if not user_id:
            raise ValidationError("user_id must not be empty", field="user_id")
        check_user_id(user_id)
        if not check_string("content", content).strip():
            raise ValidationError("memory content must not be empty", field="content")
        check_text(content, "content")
        check_number("importance", importance, low=0.0, high=1.0)
        if not await self.may_remember(tenant_id, user_id):
            raise ConsentRequired(
                f"user {user_id!r} of tenant {tenant_id} has not consented to 'memory': nothing remembered",
                tenant_id=tenant_id,
                user_id=user_id,
                purpose="memory",
            )
        if self.redact is not None:
            content = self.redact(content)
        with self.telemetry.span(
            "memory remember",
            attributes=self._attributes("memory.remember", tenant_id, **{"memory.kind": kind}),
        ):
            vectors = await self._embed(
                tenant, [content], purpose="memory_write", user_id=user_id, operation="memory.remember"
            )
            record = MemoryRecord(
                tenant_id=tenant_id,
                user_id=user_id,
                kind=kind,
                content=content,
                importance=importance,
                embedding=vectors[0] if vectors else None,
                metadata=metadata or {},
                created_at=self.clock(),
            )
            await self.store.add(record)
            await self._enforce_bounds(tenant_id, user_id, kind)
        return record

    def _recency(self, record: MemoryRecord, now: datetime) -> float:
        age_days = max(0.0, (now - record.created_at).total_seconds() / 86400)
        return float(0.5 ** (age_days / self.config.recency_half_life_days))

    def _expired(self, record: MemoryRecord, now: datetime) -> bool:
        return record.created_at < now - timedelta(days=self.config.max_age_days)

    async def _enforce_bounds(self, tenant_id: str, user_id: str, kind: MemoryKind) -> int:
        now = self.clock()
        removed = await self.store.delete_older_than(
            tenant_id, now - timedelta(days=self.config.max_age_days), user_id=user_id
        )
        records = await self.store.list_records(tenant_id, user_id=user_id, kind=kind)
        excess = len(records) - self.config.limit_for(kind)
        if excess > 0:
            cfg = self.config
            ranked = sorted(
                records,
                key=lambda r: (
                    cfg.recency_weight * self._recency(r, now) + cfg.importance_weight * r.importance,
                    r.created_at,
                ),
            )
            removed += await self.store.delete(tenant_id, [r.id for r in ranked[:excess]])
        return removed

    async def cleanup(self, tenant: TenantContext | str, user_id: str | None = None) -> int:
        """Delete expired memories and enforce the per-kind bounds; return how many went."""
        tenant_id = _tenant_id(tenant)
        with self.telemetry.span("memory cleanup", attributes=self._attributes("memory.cleanup", tenant_id)):
            now = self.clock()
            removed = await self.store.delete_older_than(
                tenant_id, now - timedelta(days=self.config.max_age_days), user_id=user_id
            )
            users = {user_id} if user_id else {r.user_id for r in await self.store.list_records(tenant_id)}
            for user in users:
                for kind in MEMORY_KINDS:
                    removed += await self._enforce_bounds(tenant_id, user, kind)
        return removed

    async def recall(
        self,
        tenant: TenantContext | str,
        user_id: str,
        query: str,
        *,
        kinds: Sequence[MemoryKind] | None = None,
        limit: int | None = None,
    ) -> list[ScoredMemory]:
        """The user's memories best for ``query``, scored by relevance, recency and importance."""
        tenant_id = _tenant_id(tenant)
        check_text(query, "query")
        limit = self.config.recall_limit if limit is None else limit
        if limit <= 0 or not user_id:
            return []
        with self.telemetry.span(
            "memory recall", attributes=self._attributes("memory.recall", tenant_id)
        ) as span:
            now = self.clock()
            vectors = (
                await self._embed(
                    tenant, [query], purpose="memory_recall", user_id=user_id, operation="memory.recall"
                )
                if query.strip()
                else None
            )
            if vectors:
                matches = await self.store.search(
                    tenant_id, vectors[0], user_id=user_id, kinds=kinds, limit=max(limit * 4, 20)
                )
                candidates = [(m.record, max(0.0, m.similarity)) for m in matches]
            else:
                records = await self.store.list_records(tenant_id, user_id=user_id)
                candidates = [(r, 0.0) for r in records if kinds is None or r.kind in kinds]
            cfg = self.config
            scored = []
            for record, relevance in candidates:
                if self._expired(record, now):
                    continue
                recency = self._recency(record, now)
                score = (
                    cfg.relevance_weight * relevance
                    + cfg.recency_weight * recency
                    + cfg.importance_weight * record.importance
                )
                if score >= cfg.min_recall_score:
                    scored.append(
                        ScoredMemory(
                            record=record,
                            score=score,
                            relevance=relevance,
                            recency=recency,
                            importance=record.importance,
                        )
                    )
            scored.sort(key=lambda s: s.score, reverse=True)
            span.set_attribute("memory.recalled", min(limit, len(scored)))
            return scored[:limit]

    async def prompt_lines(
        self,
        recalled: Sequence[ScoredMemory],
        *,
        guard: ContextScreen,
        tenant: TenantContext | str,
        model: str | None = None,
    ) -> list[str]:
        """Recalled memories as prompt lines, ``(kind) content``, guarded as untrusted context.

        A memory holds what a user (or a tool's result) once said, so it passes the input
        guardrails at the tenant's level before a prompt quotes it: PII redacted, injection-like
        memories dropped or flagged (see :mod:`motadata_ai.domain.guardrails.context`).
        """
        if not recalled:
            return []
        checked = await guard.guard_context(
            [m.record.content for m in recalled], tenant_id=tenant, origin="memory", model=model
        )
        lines: list[str] = []
        for memory, guarded in zip(recalled, checked.texts, strict=True):
            if guarded.dropped:
                continue
            mark = f"{FLAG} " if guarded.flagged else ""
            lines.append(f"({memory.record.kind}) {mark}{guarded.text}")
        return lines

    # -- sessions (short-term) ----------------------------------------------------------------

    async def history(self, tenant: TenantContext | str, conversation_id: str) -> list[Message]:
        """The conversation's newest messages that fit the short-term token budget."""
        tenant_id = _tenant_id(tenant)
        with self.telemetry.span("memory history", attributes=self._attributes("memory.history", tenant_id)):
            messages = await self.store.load_messages(tenant_id, conversation_id, limit=200)
            return self.buffer.fit(messages)

    async def append_turn(
        self,
        tenant: TenantContext | str,
        conversation_id: str,
        *,
        user_id: str | None,
        question: str,
        answer: str,
    ) -> None:
        """Persist one question and its answer in the conversation."""
        tenant_id = _tenant_id(tenant)
        now = self.clock()
        if self.redact is not None:
            question, answer = self.redact(question), self.redact(answer)
        await self.store.append_messages(
            tenant_id,
            [
                SessionMessage(
                    tenant_id=tenant_id,
                    conversation_id=conversation_id,
                    user_id=user_id,
                    role="user",
                    content=question,
                    created_at=now,
                ),
                SessionMessage(
                    tenant_id=tenant_id,
                    conversation_id=conversation_id,
                    user_id=user_id,
                    role="assistant",
                    content=answer,
                    created_at=now + timedelta(microseconds=1),
                ),
            ],
        )

    # -- a user's data ------------------------------------------------------------------------

    @keywords_only
    async def export_user_data(self, *, tenant_id: TenantContext | str, user_id: str) -> UserDataExport:
        """Every memory and conversation message of the user in the tenant (keywords only; the
        memory part of ``ai.privacy.export_user``)."""
        tenant_id = _tenant_id(tenant_id)
        with self.telemetry.span("memory export", attributes=self._attributes("memory.export", tenant_id)):
            return UserDataExport(
                tenant_id=tenant_id,
                user_id=user_id,
                memories=tuple(await self.store.list_records(tenant_id, user_id=user_id)),
                messages=tuple(await self.store.user_messages(tenant_id, user_id)),
                exported_at=self.clock(),
            )

    @keywords_only
    async def delete_user_data(self, *, tenant_id: TenantContext | str, user_id: str) -> int:
        """Erase every memory, message and paused run of the user in the tenant; return the count
        (keywords only; the memory part of ``ai.privacy.erase_user``)."""
        tenant_id = _tenant_id(tenant_id)
        if not user_id:
            raise ValidationError("user_id must not be empty", field="user_id")
        with self.telemetry.span(
            "memory delete_user", attributes=self._attributes("memory.delete", tenant_id)
        ):
            return await self.store.delete_user(tenant_id, user_id)

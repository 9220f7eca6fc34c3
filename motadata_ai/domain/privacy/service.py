"""Privacy: one erase and one export of a user's data across every store the app uses.

``erase_user(tenant_id=..., user_id=...)`` goes through the stores in a fixed order, each step
idempotent, and returns an :class:`ErasureReport` with a count per store:

==========================  =====================================================================
step (report key)           what happens to the user's data
==========================  =====================================================================
cache_entries               gateway answers and embeddings listed in the user's cache index;
                            when the user owns documents, every cached gateway answer of the
                            tenant (any may quote them)
documents, chunks           every document the user owns, all versions, with its chunks (one
                            transaction per document)
conversation_turns          every RAG conversation turn of the user
memory                      memories of every kind, agent session messages and checkpoints
bus_messages                messages the bus still retains for the user (agent tasks, ingestion
                            jobs: their subjects carry the user token after the tenant)
semantic_cache_entries      the prompt vectors of those answers in the semantic index
prediction_log              sampled ML predictions made for the user
consents                    the user's consent decisions
feedback                    ratings and comments (free text: deleted)
usage_pseudonymised         usage-ledger rows, kept for billing, user id replaced by the pseudonym
audit_pseudonymised         audit events, kept, user id replaced by the pseudonym; then one
                            ``privacy.erase`` event (under the pseudonym) records the erasure
==========================  =====================================================================

A store that fails stops the erasure with :class:`ErasureIncomplete` naming it (``store``) and
the counts done so far; nothing is reported as erased until every step succeeded, and running the
erasure again finishes it. Buffered usage records and audit events are written before their
stores are pseudonymised, so none arrives later under the real id.

An unknown user gives a report of zeros; another tenant's user is never touched (every store call
is scoped to ``tenant_id``).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from motadata_ai.domain.bus.subjects import USER_ROOTS, user_pattern
from motadata_ai.domain.privacy import cache_policy
from motadata_ai.domain.privacy.audit import AuditTrail
from motadata_ai.domain.privacy.config import RetentionPolicy
from motadata_ai.domain.privacy.pseudonyms import pseudonym, random_key
from motadata_ai.domain.values import keys
from motadata_ai.domain.values.errors import MotadataError, ValidationError
from motadata_ai.domain.values.keywords import keywords_only
from motadata_ai.domain.values.privacy import ErasureIncomplete, ErasureReport, RetentionReport, UserExport
from motadata_ai.domain.values.tenancy import TenantContext, validate_tenant_id
from motadata_ai.ports.bus import BusPort
from motadata_ai.ports.cache import CachePort
from motadata_ai.ports.consent import ConsentStorePort
from motadata_ai.ports.documents import ConversationStorePort, DocumentStorePort
from motadata_ai.ports.ledger import AuditLogPort, UsageLedgerPort
from motadata_ai.ports.memory import MemoryStorePort
from motadata_ai.ports.ml import PredictionLogPort
from motadata_ai.ports.vector_store import VectorStorePort

__all__ = ["Privacy"]

_PAGE = 500


def _check_user(user_id: object) -> str:
    if not isinstance(user_id, str) or not user_id or len(user_id) > 256:
        raise ValidationError("user_id must be a non-empty string of at most 256 characters", field="user_id")
    return user_id


def _jsonable(value: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(value.model_dump_json())
    return data


class Privacy:
    """Erase and export one user's data in every store given (``None``: the app has no such store)."""

    def __init__(
        self,
        *,
        documents: DocumentStorePort | None = None,
        vectors: VectorStorePort | None = None,
        conversations: ConversationStorePort | None = None,
        memory: MemoryStorePort | None = None,
        cache: CachePort | None = None,
        ledger: UsageLedgerPort | None = None,
        audit: AuditLogPort | None = None,
        trail: AuditTrail | None = None,
        predictions: PredictionLogPort | None = None,
        consents: ConsentStorePort | None = None,
        buses: Sequence[BusPort] = (),
        before_pseudonymising: Sequence[Callable[[], Awaitable[None]]] = (),
        forget_cached: Callable[[str, Sequence[str]], int] | None = None,
        pseudonym_key: bytes | None = None,
        retention: Callable[[str], RetentionPolicy] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._documents = documents
        self._vectors = vectors
        self._conversations = conversations
        self._memory = memory
        self._cache = cache
        self._ledger = ledger
        self._audit = audit if audit is not None else (trail.log if trail is not None else None)
        self._trail = trail
        self._predictions = predictions
        self._consents = consents
        self._buses = tuple(bus for bus in buses if bus.supports_purge)
        self._flushes = tuple(before_pseudonymising)
        self._forget_cached = forget_cached
        self._key = pseudonym_key or random_key()
        self._retention = retention or (lambda _tenant: RetentionPolicy())
        self._clock = clock

    def pseudonym(self, *, tenant_id: str, user_id: str) -> str:
        """The pseudonym the user's kept records get on erasure."""
        return pseudonym(self._key, validate_tenant_id(tenant_id), _check_user(user_id))

    # -- erase ------------------------------------------------------------------------------------

    @keywords_only
    async def erase_user(self, *, tenant_id: str, user_id: str) -> ErasureReport:
        """Remove (or pseudonymise, where records are kept for billing and audit) everything of
        ``user_id`` in ``tenant_id``; see the module docstring for each store."""
        tenant_id = validate_tenant_id(tenant_id)
        user_id = _check_user(user_id)
        alias = pseudonym(self._key, tenant_id, user_id)
        counts: dict[str, int] = {}
        tenant = TenantContext(tenant_id=tenant_id)

        async def step(store: str, run: Callable[[], Awaitable[dict[str, int]]]) -> None:
            try:
                counts.update(await run())
            except MotadataError as error:
                raise ErasureIncomplete(
                    f"erasing user data of tenant {tenant_id} stopped at the {store} store ({error}); "
                    "nothing else was changed after it: run the erasure again to finish",
                    store=store,
                    tenant_id=tenant_id,
                    user_id=user_id,
                    completed=dict(counts),
                ) from error

        if self._cache is not None:  # first: whether the user still owns documents decides its scope
            await step("cache", lambda: self._erase_cache(tenant, user_id))
        if self._documents is not None:
            await step("documents", lambda: self._erase_documents(tenant, user_id))
        if self._conversations is not None:
            conversations = self._conversations
            await step(
                "conversations",
                lambda: _count("conversation_turns", conversations.delete_user(tenant, user_id)),
            )
        if self._memory is not None:
            memory = self._memory
            await step("memory", lambda: _count("memory", memory.delete_user(tenant_id, user_id)))
        if self._buses:
            await step("bus", lambda: self._erase_bus(tenant_id, user_id))
        if self._predictions is not None:
            predictions = self._predictions
            await step(
                "prediction_log",
                lambda: _count("prediction_log", predictions.delete_user(tenant_id, user_id)),
            )
        if self._consents is not None:
            consents = self._consents
            await step(
                "consents",
                lambda: _count("consents", consents.delete_user(tenant_id=tenant_id, user_id=user_id)),
            )
        if self._flushes:
            await step("ledger", self._flush_pending)
        if self._ledger is not None:
            await step("ledger", lambda: self._erase_ledger(tenant_id, user_id, alias))
        if self._audit is not None:
            await step("audit", lambda: self._erase_audit(tenant_id, user_id, alias, counts))
        return ErasureReport(
            tenant_id=tenant_id, user_id=user_id, pseudonym=alias, counts=counts, erased_at=self._clock()
        )

    async def _flush_pending(self) -> dict[str, int]:
        for flush in self._flushes:
            await flush()
        return {}

    async def _erase_documents(self, tenant: TenantContext, user_id: str) -> dict[str, int]:
        assert self._documents is not None
        documents = chunks = 0
        while True:
            batch = await self._documents.list(tenant, user_id=user_id, limit=_PAGE)
            if not batch:
                break
            for stored in batch:
                if await self._documents.delete(tenant, stored.document_id, vectors=self._vectors):
                    documents += 1
                    chunks += len(stored.chunk_ids)
        return {"documents": documents, "chunks": chunks}

    async def _erase_bus(self, tenant_id: str, user_id: str) -> dict[str, int]:
        purged = 0
        for bus in self._buses:
            for root in USER_ROOTS:
                purged += await bus.purge(user_pattern(root, tenant_id, user_id))
        return {"bus_messages": purged}

    async def _export_bus(self, tenant_id: str, user_id: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for bus in self._buses:
            for root in USER_ROOTS:
                for message in await bus.retained(user_pattern(root, tenant_id, user_id)):
                    rows.append(_jsonable(message))
        return rows

    async def _erase_cache(self, tenant: TenantContext, user_id: str) -> dict[str, int]:
        assert self._cache is not None
        tenant_id = tenant.tenant_id
        owns_documents = (
            self._documents is not None and await self._documents.count(tenant, user_id=user_id) > 0
        )
        index = cache_policy.user_index_key(tenant_id, user_id)
        listed = await self._cache.index_members(index)
        forgotten = self._forget_cached(tenant_id, listed) if self._forget_cached and listed else 0
        deleted = await self._cache.delete_indexed(index)
        if owns_documents:  # any cached answer of the tenant may quote the documents erased next
            deleted += await self._cache.delete_tenant(tenant_id, namespace=keys.GATEWAY)
        return {"cache_entries": deleted, "semantic_cache_entries": forgotten}

    async def _erase_ledger(self, tenant_id: str, user_id: str, alias: str) -> dict[str, int]:
        assert self._ledger is not None
        feedback = await self._ledger.delete_user_feedback(tenant=tenant_id, user_id=user_id)
        usage = await self._ledger.pseudonymise_user(tenant=tenant_id, user_id=user_id, pseudonym=alias)
        return {"feedback": feedback, "usage_pseudonymised": usage}

    async def _erase_audit(
        self, tenant_id: str, user_id: str, alias: str, counts: dict[str, int]
    ) -> dict[str, int]:
        assert self._audit is not None
        if self._trail is not None:
            await self._trail.flush()
        changed = await self._audit.pseudonymise_user(tenant=tenant_id, user_id=user_id, pseudonym=alias)
        erased = {**counts, "audit_pseudonymised": changed}
        if self._trail is not None:
            await self._trail.record(
                "privacy.erase",
                tenant_id=tenant_id,
                user_id=alias,
                resource="user",
                metadata={"counts": erased},
            )
            await self._trail.flush()
        else:
            from motadata_ai.domain.values.usage import AuditEvent

            await self._audit.write(
                AuditEvent(
                    timestamp=self._clock(),
                    tenant_id=tenant_id,
                    user_id=alias,
                    action="privacy.erase",
                    resource="user",
                    metadata={"counts": erased},
                )
            )
        return {"audit_pseudonymised": changed}

    # -- export -----------------------------------------------------------------------------------

    @keywords_only
    async def export_user(self, *, tenant_id: str, user_id: str) -> UserExport:
        """Everything held about ``user_id`` in ``tenant_id``, per store, as one document."""
        tenant_id = validate_tenant_id(tenant_id)
        user_id = _check_user(user_id)
        tenant = TenantContext(tenant_id=tenant_id)
        stores: dict[str, list[dict[str, Any]]] = {}
        if self._documents is not None:
            versions: list[dict[str, Any]] = []
            offset = 0
            while True:
                batch = await self._documents.list(tenant, user_id=user_id, limit=_PAGE, offset=offset)
                if not batch:
                    break
                for stored in batch:
                    versions.extend(
                        _jsonable(v) for v in await self._documents.versions(tenant, stored.document_id)
                    )
                offset += len(batch)
            stores["documents"] = versions
        if self._conversations is not None:
            turns = await self._conversations.user_turns(tenant, user_id)
            stores["conversations"] = [_jsonable(t) for t in turns]
        if self._memory is not None:
            records = await self._memory.list_records(tenant_id, user_id=user_id)
            stores["memories"] = [_jsonable(r) for r in records]
            messages = await self._memory.user_messages(tenant_id, user_id)
            stores["session_messages"] = [_jsonable(m) for m in messages]
            checkpoints = await self._memory.user_checkpoints(tenant_id, user_id)
            stores["checkpoints"] = [_jsonable(c) for c in checkpoints]
        if self._ledger is not None:
            for flush in self._flushes:
                await flush()
            usage = await self._ledger.usage_records(tenant=tenant_id, user_id=user_id, limit=1_000_000)
            stores["usage"] = [_jsonable(u) for u in reversed(usage)]
            feedback = await self._ledger.user_feedback(tenant=tenant_id, user_id=user_id)
            stores["feedback"] = [_jsonable(f) for f in feedback]
        if self._audit is not None:
            if self._trail is not None:
                await self._trail.flush()
            events = await self._audit.events(tenant=tenant_id, user_id=user_id, limit=100_000)
            stores["audit"] = [_jsonable(e) for e in reversed(events)]
        if self._predictions is not None:
            entries = await self._predictions.user_entries(tenant_id, user_id)
            stores["predictions"] = [_jsonable(e) for e in entries]
        if self._consents is not None:
            decisions = await self._consents.user_consents(tenant_id=tenant_id, user_id=user_id)
            stores["consents"] = [_jsonable(c) for c in decisions]
        if self._buses:
            stores["bus_messages"] = await self._export_bus(tenant_id, user_id)
        if self._cache is not None:
            listed = await self._cache.index_members(cache_policy.user_index_key(tenant_id, user_id))
            stores["cache_keys"] = [{"key": key} for key in listed]
        export = UserExport(tenant_id=tenant_id, user_id=user_id, exported_at=self._clock(), stores=stores)
        if self._trail is not None:
            await self._trail.record(
                "privacy.export",
                tenant_id=tenant_id,
                user_id=user_id,
                resource="user",
                metadata={"records": {name: len(rows) for name, rows in stores.items()}},
            )
        return export

    # -- retention --------------------------------------------------------------------------------

    @keywords_only
    async def enforce_retention(self, *, tenant_id: str, now: datetime | None = None) -> RetentionReport:
        """Delete what is past the tenant's retention periods (``privacy.retention`` or its entry
        in ``privacy.tenant_retention``): RAG turns and session messages (``conversations_days``),
        memories (``memories_days``), audit events (``audit_days``), usage records and their
        feedback (``ledger_days``). Returns the counts; a period that is not set keeps its data."""
        tenant_id = validate_tenant_id(tenant_id)
        policy = self._retention(tenant_id)
        moment = now or self._clock()
        tenant = TenantContext(tenant_id=tenant_id)
        counts: dict[str, int] = {}
        cutoffs: dict[str, datetime] = {}

        def cutoff(name: str, days: int | None) -> datetime | None:
            if days is None:
                return None
            cutoffs[name] = moment - timedelta(days=days)
            return cutoffs[name]

        if (when := cutoff("conversations", policy.conversations_days)) is not None:
            if self._conversations is not None:
                counts["conversation_turns"] = await self._conversations.delete_turns_before(tenant, when)
            if self._memory is not None:
                counts["session_messages"] = await self._memory.delete_messages_before(tenant_id, when)
        if (when := cutoff("memories", policy.memories_days)) is not None and self._memory is not None:
            counts["memories"] = await self._memory.delete_older_than(tenant_id, when)
        if (when := cutoff("ledger", policy.ledger_days)) is not None and self._ledger is not None:
            for flush in self._flushes:
                await flush()
            counts["usage"] = await self._ledger.delete_usage_before(tenant=tenant_id, cutoff=when)
        if (when := cutoff("audit", policy.audit_days)) is not None and self._audit is not None:
            if self._trail is not None:
                await self._trail.flush()
            counts["audit"] = await self._audit.delete_before(tenant=tenant_id, cutoff=when)
        if self._trail is not None:
            await self._trail.record(
                "privacy.retention", tenant_id=tenant_id, resource="tenant", metadata={"counts": counts}
            )
        return RetentionReport(tenant_id=tenant_id, counts=counts, cutoffs=cutoffs, enforced_at=moment)


async def _count(name: str, counted: Awaitable[int]) -> dict[str, int]:
    return {name: await counted}

"""The DocumentStorePort + ConversationStorePort contract: one suite for every document store.

Subclass :class:`DocumentStoreContract` in a module pytest collects and implement
:meth:`~DocumentStoreContract.make_store` to return a fresh, empty store implementing both ports
and :meth:`~DocumentStoreContract.make_vector_store` to return an empty vector store that the
store writes a version's chunks into in the same transaction; adapters behind a server subclass
:class:`DocumentStoreServerContract` and implement
:meth:`~DocumentStoreServerContract.make_unreachable_store` to return one pointed at a server that
does not answer, with the password ``s3cret`` in its address::

    class TestMyDocumentStore(DocumentStoreContract):
        async def make_store(self):
            return MyDocumentStore()

        async def make_vector_store(self, store):
            return MyVectorStore(dimensions=self.dimensions)
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from motadata_ai.domain.values.documents import ConversationTurn, StoredDocument
from motadata_ai.domain.values.errors import (
    ConfigurationError,
    InvalidTenant,
    StoreUnavailable,
    ValidationError,
)
from motadata_ai.domain.values.tenancy import TenantContext
from motadata_ai.domain.values.vectors import MetadataFilter, SearchHit, VectorRecord
from motadata_ai.ports.documents import (
    DocumentStoreUnavailable,
    VersionConflict,
)
from motadata_ai.ports.vector_store import DimensionMismatch, VectorStorePort
from motadata_ai.testing.contracts.health import assert_probe_answers, assert_probe_reports_down

__all__ = ["DocumentStoreContract", "DocumentStoreServerContract"]

A = TenantContext(tenant_id="tenant-a")
B = TenantContext(tenant_id="tenant-b")


def doc(
    tenant: TenantContext,
    document_id: str,
    version: int = 1,
    *,
    text: str = "body",
    user_id: str | None = None,
    **metadata: Any,
) -> StoredDocument:
    """A document version for the suite."""
    return StoredDocument(
        tenant_id=tenant.tenant_id,
        document_id=document_id,
        version=version,
        content_hash=f"hash-{document_id}-{version}",
        title=f"Title {document_id}",
        source=f"/kb/{document_id}.md",
        format="markdown",
        user_id=user_id,
        text=text,
        metadata=metadata,
        chunk_ids=(f"{document_id}-{version}-0", f"{document_id}-{version}-1"),
        token_count=42,
    )


def chunks_of(document: StoredDocument, dimensions: int) -> list[VectorRecord]:
    """The chunk records ``document.chunk_ids`` names: text from the document, one-hot vectors."""
    return [
        VectorRecord(
            id=cid,
            tenant_id=document.tenant_id,
            document_id=document.document_id,
            version=document.version,
            chunk_index=index,
            text=f"{document.text} part{index}",
            embedding=tuple(1.0 if d == index % dimensions else 0.0 for d in range(dimensions)),
            metadata={"title": document.title},
        )
        for index, cid in enumerate(document.chunk_ids)
    ]


class ForeignVectorStore(VectorStorePort):
    """A vector store of another technology: no document store can share a transaction with it."""

    dimensions = 4

    async def upsert(self, tenant: TenantContext, records: Sequence[VectorRecord]) -> int:
        raise AssertionError("a document store must not write chunks into a store it cannot commit with")

    async def delete(
        self,
        tenant: TenantContext,
        *,
        ids: Sequence[str] | None = None,
        document_id: str | None = None,
        filters: MetadataFilter | None = None,
    ) -> int:
        raise AssertionError("a document store must not delete chunks in a store it cannot commit with")

    async def dense_search(
        self,
        tenant: TenantContext,
        vector: Sequence[float],
        *,
        top_k: int = 5,
        filters: MetadataFilter | None = None,
        min_score: float | None = None,
    ) -> list[SearchHit]:
        return []

    async def keyword_search(
        self, tenant: TenantContext, query: str, *, top_k: int = 5, filters: MetadataFilter | None = None
    ) -> list[SearchHit]:
        return []

    async def count(self, tenant: TenantContext, *, filters: MetadataFilter | None = None) -> int:
        return 0

    async def get(self, tenant: TenantContext, ids: Sequence[str]) -> list[VectorRecord]:
        return []


def turn(
    tenant: TenantContext, conversation_id: str, question: str, *, user_id: str | None = "u1"
) -> ConversationTurn:
    """A conversation turn for the suite."""
    return ConversationTurn(
        tenant_id=tenant.tenant_id,
        conversation_id=conversation_id,
        user_id=user_id,
        question=question,
        answer=f"answer to {question}",
        source_ids=("c1",),
    )


class DocumentStoreContract:
    """Behaviour every document/conversation store shares; subclasses provide the stores."""

    dimensions = 4
    concurrent_writers = 10

    async def make_store(self) -> Any:
        """A fresh, empty store implementing DocumentStorePort and ConversationStorePort."""
        raise NotImplementedError

    async def make_vector_store(self, store: Any) -> VectorStorePort:
        """An empty vector store (``dimensions == self.dimensions``) that ``store`` writes chunks
        into in the same transaction as their version."""
        raise NotImplementedError

    async def vectors(self, store: Any) -> VectorStorePort:
        """The vector store paired with ``store`` in this test (made on first use)."""
        paired: dict[int, VectorStorePort] = self.__dict__.setdefault("_paired", {})
        if id(store) not in paired:
            paired[id(store)] = await self.make_vector_store(store)
        return paired[id(store)]

    async def write(self, store: Any, document: StoredDocument) -> StoredDocument:
        """Write ``document`` with its chunks through ``write_version``."""
        vectors = await self.vectors(store)
        written: StoredDocument = await store.write_version(
            TenantContext(tenant_id=document.tenant_id),
            document,
            chunks_of(document, vectors.dimensions),
            vectors=vectors,
        )
        return written

    async def assert_whole(self, store: Any, tenant: TenantContext, document_id: str) -> StoredDocument:
        """The current version's chunk ids are exactly the document's stored chunks; return it."""
        vectors = await self.vectors(store)
        current = await store.get(tenant, document_id)
        assert current is not None
        stored = await vectors.get(tenant, list(current.chunk_ids))
        assert [r.id for r in stored] == list(current.chunk_ids)
        assert {r.version for r in stored} == {current.version}
        assert all(r.text.startswith(current.text) for r in stored)
        hits = await vectors.dense_search(tenant, (1.0,) + (0.0,) * (self.dimensions - 1), top_k=100)
        of_document = {h.record.id for h in hits if h.record.document_id == document_id}
        assert of_document <= set(current.chunk_ids)
        return current

    # -- documents ------------------------------------------------------------------------------

    async def test_starts_empty(self) -> None:
        store = await self.make_store()
        assert await store.get(A, "d1") is None
        assert await store.list(A) == []
        assert await store.count(A) == 0
        assert await store.versions(A, "d1") == []

    async def test_add_and_get_round_trips_every_field(self) -> None:
        store = await self.make_store()
        written = doc(
            A, "d1", text="Reset your password ✓", user_id="alice", category="access", tags=["a", "b"]
        )
        await self.write(store, written)
        got = await store.get(A, "d1")
        assert got is not None
        assert got.model_dump(exclude={"created_at"}) == written.model_dump(exclude={"created_at"})
        assert abs((got.created_at - written.created_at).total_seconds()) < 1

    async def test_new_version_becomes_current_and_history_is_kept(self) -> None:
        store = await self.make_store()
        await self.write(store, doc(A, "d1", 1, text="old"))
        await self.write(store, doc(A, "d1", 2, text="new"))
        current = await store.get(A, "d1")
        assert current is not None and current.version == 2 and current.text == "new"
        assert [v.version for v in await store.versions(A, "d1")] == [1, 2]
        assert await store.count(A) == 1
        assert [d.version for d in await store.list(A)] == [2]

    async def test_version_must_follow_the_current_one(self) -> None:
        store = await self.make_store()
        with pytest.raises(VersionConflict):
            await self.write(store, doc(A, "d1", 2))
        await self.write(store, doc(A, "d1", 1))
        with pytest.raises(VersionConflict) as caught:
            await self.write(store, doc(A, "d1", 1))
        assert caught.value.document_id == "d1"
        with pytest.raises(VersionConflict):
            await self.write(store, doc(A, "d1", 3))
        assert [v.version for v in await store.versions(A, "d1")] == [1]

    async def test_concurrent_writers_of_one_version_one_wins(self) -> None:
        store = await self.make_store()
        results = await asyncio.gather(
            *(self.write(store, doc(A, "race", 1, text=str(i))) for i in range(4)), return_exceptions=True
        )
        assert sum(1 for r in results if isinstance(r, StoredDocument)) == 1
        assert all(isinstance(r, VersionConflict) for r in results if not isinstance(r, StoredDocument))
        assert len(await store.versions(A, "race")) == 1

    async def test_list_by_user_with_paging(self) -> None:
        store = await self.make_store()
        for name, user in (("a", "alice"), ("b", "bob"), ("c", "alice"), ("d", None)):
            await self.write(store, doc(A, name, user_id=user))
        assert [d.document_id for d in await store.list(A)] == ["a", "b", "c", "d"]
        assert [d.document_id for d in await store.list(A, user_id="alice")] == ["a", "c"]
        assert await store.count(A, user_id="alice") == 2
        assert [d.document_id for d in await store.list(A, limit=2, offset=1)] == ["b", "c"]
        with pytest.raises(ValidationError):
            await store.list(A, limit=0)

    async def test_delete_removes_every_version(self) -> None:
        store = await self.make_store()
        await self.write(store, doc(A, "d1", 1))
        await self.write(store, doc(A, "d1", 2))
        assert await store.delete(A, "d1") is True
        assert await store.get(A, "d1") is None
        assert await store.versions(A, "d1") == []
        assert await store.delete(A, "d1") is False
        await self.write(store, doc(A, "d1", 1))  # the id can start over
        assert (await store.get(A, "d1")).version == 1  # type: ignore[union-attr]

    async def test_tenants_never_see_each_other(self) -> None:
        store = await self.make_store()
        await self.write(store, doc(A, "same-id", text="A's", user_id="u"))
        await self.write(store, doc(B, "same-id", text="B's", user_id="u"))
        assert (await store.get(A, "same-id")).text == "A's"  # type: ignore[union-attr]
        assert (await store.get(B, "same-id")).text == "B's"  # type: ignore[union-attr]
        assert await store.delete(A, "same-id") is True
        assert await store.get(A, "same-id") is None
        assert (await store.get(B, "same-id")).text == "B's"  # type: ignore[union-attr]
        assert await store.count(A) == 0 and await store.count(B) == 1
        assert [d.tenant_id for d in await store.list(B, user_id="u")] == ["tenant-b"]

    async def test_refuses_another_tenants_document(self) -> None:
        store = await self.make_store()
        theirs = doc(B, "d1")
        vectors = await self.vectors(store)
        with pytest.raises(ValidationError) as caught:
            await store.write_version(A, theirs, chunks_of(theirs, self.dimensions), vectors=vectors)
        assert caught.value.field == "tenant_id"
        assert await vectors.count(A) == 0 and await vectors.count(B) == 0
        assert await store.count(A) == 0 and await store.count(B) == 0

    async def test_refuses_nul_characters(self) -> None:
        store = await self.make_store()
        with pytest.raises(ValidationError):
            await self.write(store, doc(A, "d1", text="bad\x00text"))
        assert await store.get(A, "d1") is None

    # -- one version, one unit of work --------------------------------------------------------

    async def test_write_version_stores_the_version_and_its_chunks_together(self) -> None:
        store = await self.make_store()
        vectors = await self.vectors(store)
        written = await self.write(store, doc(A, "d1", text="Reset your password"))
        assert written.version == 1
        current = await self.assert_whole(store, A, "d1")
        assert current.text == "Reset your password"
        assert await vectors.count(A) == 2
        hits = await vectors.keyword_search(A, "password", top_k=10)
        assert sorted(h.record.id for h in hits) == sorted(written.chunk_ids)

    async def test_a_new_version_replaces_every_chunk_of_the_old_one(self) -> None:
        store = await self.make_store()
        vectors = await self.vectors(store)
        first = await self.write(store, doc(A, "d1", 1, text="printer toner"))
        await self.write(store, doc(A, "d2", 1, text="other document"))
        second = doc(A, "d1", 2, text="wireless network").model_copy(
            update={"chunk_ids": ("d1-2-0", "d1-2-1", "d1-2-2")}
        )
        await self.write(store, second)
        await self.assert_whole(store, A, "d1")
        await self.assert_whole(store, A, "d2")
        assert await vectors.get(A, list(first.chunk_ids)) == []
        assert await vectors.keyword_search(A, "toner", top_k=10) == []
        assert await vectors.count(A) == 5

    async def test_a_stale_version_conflicts_and_changes_nothing(self) -> None:
        store = await self.make_store()
        vectors = await self.vectors(store)
        await self.write(store, doc(A, "d1", 1, text="kept"))
        stale = doc(A, "d1", 1, text="late writer").model_copy(update={"chunk_ids": ("late-0",)})
        with pytest.raises(VersionConflict) as caught:
            await self.write(store, stale)
        assert caught.value.document_id == "d1"
        with pytest.raises(VersionConflict):
            await self.write(store, doc(A, "d1", 3, text="skips a version"))
        current = await self.assert_whole(store, A, "d1")
        assert current.version == 1 and current.text == "kept"
        assert await vectors.get(A, ["late-0"]) == []
        assert await vectors.count(A) == 2

    async def test_refused_chunks_write_nothing(self) -> None:
        store = await self.make_store()
        vectors = await self.vectors(store)
        document = doc(A, "d1")
        good = chunks_of(document, self.dimensions)
        with pytest.raises(ValidationError):  # chunk ids other than the version names
            await store.write_version(A, document, good[:1], vectors=vectors)
        with pytest.raises(ValidationError):  # a chunk of another version
            await store.write_version(
                A, document, [good[0], good[1].model_copy(update={"version": 2})], vectors=vectors
            )
        with pytest.raises(DimensionMismatch):
            await store.write_version(
                A, document, [good[0], good[1].model_copy(update={"embedding": (1.0,)})], vectors=vectors
            )
        assert await store.get(A, "d1") is None
        assert await vectors.count(A) == 0

    async def test_a_store_it_cannot_commit_with_is_refused(self) -> None:
        store = await self.make_store()
        document = doc(A, "d1")
        with pytest.raises(ConfigurationError):
            await store.write_version(
                A, document, chunks_of(document, 4), vectors=ForeignVectorStore()
            )
        assert await store.get(A, "d1") is None

    async def test_concurrent_writes_of_one_new_document_leave_one_whole_version(self) -> None:
        store = await self.make_store()
        vectors = await self.vectors(store)
        writers = [
            doc(A, "race", 1, text=f"writer {i}").model_copy(
                update={"chunk_ids": tuple(f"race-1-{i}-{c}" for c in range(3))}
            )
            for i in range(self.concurrent_writers)
        ]
        results = await asyncio.gather(*(self.write(store, w) for w in writers), return_exceptions=True)
        won = [r for r in results if isinstance(r, StoredDocument)]
        assert len(won) == 1
        assert all(isinstance(r, VersionConflict) for r in results if not isinstance(r, StoredDocument))
        current = await self.assert_whole(store, A, "race")
        assert current.text == won[0].text
        assert await vectors.count(A) == 3
        assert len(await store.versions(A, "race")) == 1

    async def test_concurrent_writers_that_follow_the_current_version_all_land_in_turn(self) -> None:
        store = await self.make_store()
        vectors = await self.vectors(store)

        async def writer(name: str) -> int:
            while True:
                current = await store.get(A, "busy")
                version = current.version + 1 if current else 1
                document = doc(A, "busy", version, text=name).model_copy(
                    update={"chunk_ids": (f"busy-{version}-0", f"busy-{version}-1")}
                )
                try:
                    await self.write(store, document)
                    return version
                except VersionConflict:
                    continue

        landed = await asyncio.gather(*(writer(f"w{i}") for i in range(self.concurrent_writers)))
        assert sorted(landed) == list(range(1, self.concurrent_writers + 1))
        current = await self.assert_whole(store, A, "busy")
        assert current.version == self.concurrent_writers
        assert await vectors.count(A) == 2

    async def test_delete_with_vectors_removes_the_versions_and_chunks_together(self) -> None:
        store = await self.make_store()
        vectors = await self.vectors(store)
        await self.write(store, doc(A, "d1", 1))
        await self.write(store, doc(A, "d1", 2))
        await self.write(store, doc(A, "d2", 1))
        await self.write(store, doc(B, "d1", 1))
        assert await store.delete(A, "d1", vectors=vectors) is True
        assert await store.get(A, "d1") is None and await store.versions(A, "d1") == []
        assert await vectors.count(A) == 2
        await self.assert_whole(store, A, "d2")
        await self.assert_whole(store, B, "d1")
        assert await store.delete(A, "d1", vectors=vectors) is False

    async def test_invalid_tenant_id_is_refused(self) -> None:
        store = await self.make_store()
        with pytest.raises(InvalidTenant):
            await store.get("bad tenant!", "d1")

    # -- conversations --------------------------------------------------------------------------

    async def test_history_is_the_last_turns_oldest_first(self) -> None:
        store = await self.make_store()
        for i in range(5):
            await store.append(A, turn(A, "c1", f"q{i}"))
        await store.append(A, turn(A, "c2", "other"))
        history = await store.history(A, "c1", limit=3)
        assert [t.question for t in history] == ["q2", "q3", "q4"]
        assert history[0].answer == "answer to q2" and history[0].source_ids == ("c1",)
        assert await store.history(A, "missing") == []

    async def test_user_turns_and_deletes(self) -> None:
        store = await self.make_store()
        await store.append(A, turn(A, "c1", "q1", user_id="alice"))
        await store.append(A, turn(A, "c2", "q2", user_id="alice"))
        await store.append(A, turn(A, "c3", "q3", user_id="bob"))
        assert [t.question for t in await store.user_turns(A, "alice")] == ["q1", "q2"]
        assert await store.delete_conversation(A, "c3") == 1
        assert await store.delete_user(A, "alice") == 2
        assert await store.user_turns(A, "alice") == []
        assert await store.history(A, "c1") == []

    async def test_conversations_are_tenant_scoped(self) -> None:
        store = await self.make_store()
        await store.append(A, turn(A, "shared", "from A", user_id="u"))
        await store.append(B, turn(B, "shared", "from B", user_id="u"))
        assert [t.question for t in await store.history(A, "shared")] == ["from A"]
        assert await store.delete_user(A, "u") == 1
        assert [t.question for t in await store.history(B, "shared")] == ["from B"]
        with pytest.raises(ValidationError):
            await store.append(A, turn(B, "x", "wrong tenant"))

    async def test_health_probe_answers(self) -> None:
        store = await self.make_store()
        await assert_probe_answers(store)


class DocumentStoreServerContract(DocumentStoreContract):
    """The DocumentStore contract plus error translation, for adapters behind a server."""

    async def make_unreachable_store(self) -> Any:
        """An adapter pointed at a server that does not answer, with the password ``s3cret`` in
        its address."""
        raise NotImplementedError

    async def test_unreachable_server_raises_the_port_error_with_masked_address(self) -> None:
        store = await self.make_unreachable_store()
        for call in (lambda: store.get(A, "d1"), lambda: store.append(A, turn(A, "c", "q"))):
            with pytest.raises(DocumentStoreUnavailable) as caught:
                await call()
            assert isinstance(caught.value, StoreUnavailable)
            assert "s3cret" not in str(caught.value)
            assert "***" in caught.value.address

    async def test_health_probe_reports_an_unreachable_server_down(self) -> None:
        store = await self.make_unreachable_store()
        await assert_probe_reports_down(store, secret="s3cret")

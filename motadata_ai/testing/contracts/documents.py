"""The DocumentStorePort + ConversationStorePort contract: one suite for every document store.

Subclass :class:`DocumentStoreContract` in a module pytest collects and implement
:meth:`~DocumentStoreContract.make_store` to return a fresh, empty store implementing both ports;
adapters behind a server subclass :class:`DocumentStoreServerContract` and implement
:meth:`~DocumentStoreServerContract.make_unreachable_store` to return one pointed at a server that
does not answer, with the password ``s3cret`` in its address::

    class TestMyDocumentStore(DocumentStoreContract):
        async def make_store(self):
            return MyDocumentStore()
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from motadata_ai.domain.values.documents import ConversationTurn, StoredDocument
from motadata_ai.domain.values.errors import InvalidTenant, StoreUnavailable, ValidationError
from motadata_ai.domain.values.tenancy import TenantContext
from motadata_ai.ports.documents import (
    DocumentStoreUnavailable,
    VersionConflict,
)

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

    async def make_store(self) -> Any:
        """A fresh, empty store implementing DocumentStorePort and ConversationStorePort."""
        raise NotImplementedError

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
        await store.add_version(A, written)
        got = await store.get(A, "d1")
        assert got is not None
        assert got.model_dump(exclude={"created_at"}) == written.model_dump(exclude={"created_at"})
        assert abs((got.created_at - written.created_at).total_seconds()) < 1

    async def test_new_version_becomes_current_and_history_is_kept(self) -> None:
        store = await self.make_store()
        await store.add_version(A, doc(A, "d1", 1, text="old"))
        await store.add_version(A, doc(A, "d1", 2, text="new"))
        current = await store.get(A, "d1")
        assert current is not None and current.version == 2 and current.text == "new"
        assert [v.version for v in await store.versions(A, "d1")] == [1, 2]
        assert await store.count(A) == 1
        assert [d.version for d in await store.list(A)] == [2]

    async def test_version_must_follow_the_current_one(self) -> None:
        store = await self.make_store()
        with pytest.raises(VersionConflict):
            await store.add_version(A, doc(A, "d1", 2))
        await store.add_version(A, doc(A, "d1", 1))
        with pytest.raises(VersionConflict) as caught:
            await store.add_version(A, doc(A, "d1", 1))
        assert caught.value.document_id == "d1"
        with pytest.raises(VersionConflict):
            await store.add_version(A, doc(A, "d1", 3))
        assert [v.version for v in await store.versions(A, "d1")] == [1]

    async def test_concurrent_writers_of_one_version_one_wins(self) -> None:
        store = await self.make_store()
        results = await asyncio.gather(
            *(store.add_version(A, doc(A, "race", 1, text=str(i))) for i in range(4)), return_exceptions=True
        )
        assert sum(1 for r in results if isinstance(r, StoredDocument)) == 1
        assert all(isinstance(r, VersionConflict) for r in results if not isinstance(r, StoredDocument))
        assert len(await store.versions(A, "race")) == 1

    async def test_list_by_user_with_paging(self) -> None:
        store = await self.make_store()
        for name, user in (("a", "alice"), ("b", "bob"), ("c", "alice"), ("d", None)):
            await store.add_version(A, doc(A, name, user_id=user))
        assert [d.document_id for d in await store.list(A)] == ["a", "b", "c", "d"]
        assert [d.document_id for d in await store.list(A, user_id="alice")] == ["a", "c"]
        assert await store.count(A, user_id="alice") == 2
        assert [d.document_id for d in await store.list(A, limit=2, offset=1)] == ["b", "c"]
        with pytest.raises(ValidationError):
            await store.list(A, limit=0)

    async def test_delete_removes_every_version(self) -> None:
        store = await self.make_store()
        await store.add_version(A, doc(A, "d1", 1))
        await store.add_version(A, doc(A, "d1", 2))
        assert await store.delete(A, "d1") is True
        assert await store.get(A, "d1") is None
        assert await store.versions(A, "d1") == []
        assert await store.delete(A, "d1") is False
        await store.add_version(A, doc(A, "d1", 1))  # the id can start over
        assert (await store.get(A, "d1")).version == 1  # type: ignore[union-attr]

    async def test_tenants_never_see_each_other(self) -> None:
        store = await self.make_store()
        await store.add_version(A, doc(A, "same-id", text="A's", user_id="u"))
        await store.add_version(B, doc(B, "same-id", text="B's", user_id="u"))
        assert (await store.get(A, "same-id")).text == "A's"  # type: ignore[union-attr]
        assert (await store.get(B, "same-id")).text == "B's"  # type: ignore[union-attr]
        assert await store.delete(A, "same-id") is True
        assert await store.get(A, "same-id") is None
        assert (await store.get(B, "same-id")).text == "B's"  # type: ignore[union-attr]
        assert await store.count(A) == 0 and await store.count(B) == 1
        assert [d.tenant_id for d in await store.list(B, user_id="u")] == ["tenant-b"]

    async def test_refuses_another_tenants_document(self) -> None:
        store = await self.make_store()
        with pytest.raises(ValidationError) as caught:
            await store.add_version(A, doc(B, "d1"))
        assert caught.value.field == "tenant_id"
        assert await store.count(A) == 0 and await store.count(B) == 0

    async def test_refuses_nul_characters(self) -> None:
        store = await self.make_store()
        with pytest.raises(ValidationError):
            await store.add_version(A, doc(A, "d1", text="bad\x00text"))
        assert await store.get(A, "d1") is None

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

    # -- errors ---------------------------------------------------------------------------------


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

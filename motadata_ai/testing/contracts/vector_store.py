"""The VectorStorePort contract: one suite every vector store adapter must pass.

Subclass :class:`VectorStoreContract` in a module pytest collects (its name must start with
``Test``) and implement :meth:`~VectorStoreContract.make_store` to return a fresh, empty store with
``dimensions == self.dimensions``; adapters behind a server subclass
:class:`VectorStoreServerContract` and implement its ``make_unreachable_store`` to return a store
pointed at a server that does not answer, with the password ``s3cret`` in its address::

    class TestMyVectorStore(VectorStoreContract):
        async def make_store(self) -> VectorStorePort:
            return MyVectorStore(dimensions=self.dimensions)

Vectors in the suite hold small integers and halves, exact in ``halfvec`` storage too.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from motadata_ai.domain.values.errors import InvalidTenant, StoreUnavailable, ValidationError
from motadata_ai.domain.values.tenancy import TenantContext
from motadata_ai.domain.values.vectors import VectorRecord
from motadata_ai.ports.vector_store import DimensionMismatch, VectorStorePort, VectorStoreUnavailable
from motadata_ai.testing.contracts.health import assert_probe_answers, assert_probe_reports_down

__all__ = ["VectorStoreContract", "VectorStoreServerContract"]

A = TenantContext(tenant_id="tenant-a")
B = TenantContext(tenant_id="tenant-b")

E1 = (1.0, 0.0, 0.0, 0.0)
E2 = (0.0, 1.0, 0.0, 0.0)
E3 = (0.0, 0.0, 1.0, 0.0)
NEAR_E1 = (1.0, 0.5, 0.0, 0.0)


def rec(
    tenant: TenantContext,
    rid: str,
    embedding: tuple[float, ...],
    *,
    document_id: str = "doc-1",
    text: str = "text",
    version: int = 1,
    chunk_index: int = 0,
    **metadata: Any,
) -> VectorRecord:
    """A record for the suite."""
    return VectorRecord(
        id=rid,
        tenant_id=tenant.tenant_id,
        document_id=document_id,
        version=version,
        chunk_index=chunk_index,
        text=text,
        embedding=embedding,
        metadata=metadata,
    )


def ids(hits: list[Any]) -> list[str]:
    """Record ids of search hits or records, in order."""
    return [getattr(h, "record", h).id for h in hits]


class VectorStoreContract:
    """Behaviour every :class:`VectorStorePort` adapter shares; subclasses provide the stores."""

    dimensions = 4

    async def make_store(self) -> VectorStorePort:
        """A fresh, empty store with ``dimensions == self.dimensions``."""
        raise NotImplementedError

    async def seeded(self) -> VectorStorePort:
        """A store holding three chunks of two documents for tenant A."""
        store = await self.make_store()
        await store.upsert(
            A,
            [
                rec(
                    A,
                    "a1",
                    E1,
                    document_id="doc-1",
                    text="Reset your VPN password from the portal",
                    category="vpn",
                    lang="en",
                ),
                rec(
                    A,
                    "a2",
                    E2,
                    document_id="doc-1",
                    chunk_index=1,
                    text="Printers jam when the toner is low",
                    category="printer",
                    lang="en",
                ),
                rec(
                    A,
                    "a3",
                    E3,
                    document_id="doc-2",
                    text="MFA enrolment uses the authenticator app",
                    category="mfa",
                    lang="de",
                    priority=2,
                ),
            ],
        )
        return store

    # -- empty store, upsert, get, count ----------------------------------------------------------

    async def test_new_store_is_empty(self) -> None:
        store = await self.make_store()
        assert store.dimensions == self.dimensions
        assert await store.count(A) == 0
        assert await store.get(A, ["x"]) == []
        assert await store.dense_search(A, E1) == []
        assert await store.keyword_search(A, "vpn") == []

    async def test_upsert_then_get_returns_the_same_records(self) -> None:
        store = await self.make_store()
        record = rec(
            A,
            "r1",
            (0.5, -1.0, 2.0, 0.0),
            document_id="d",
            text="hello world",
            version=3,
            chunk_index=7,
            source="kb",
            tags=["x", "y"],
            nested={"k": 1},
        )
        assert await store.upsert(A, [record]) == 1
        [got] = await store.get(A, ["r1"])
        assert got.model_dump() == record.model_dump()

    async def test_get_keeps_requested_order_and_skips_missing(self) -> None:
        store = await self.seeded()
        assert ids(await store.get(A, ["a3", "missing", "a1", "a3"])) == ["a3", "a1"]
        assert await store.get(A, []) == []

    async def test_upsert_replaces_by_id(self) -> None:
        store = await self.seeded()
        await store.upsert(A, [rec(A, "a1", E2, text="changed", category="other")])
        [got] = await store.get(A, ["a1"])
        assert (got.text, got.embedding, got.metadata) == ("changed", E2, {"category": "other"})
        assert await store.count(A) == 3

    async def test_duplicate_ids_in_one_batch_keep_the_last(self) -> None:
        store = await self.make_store()
        written = await store.upsert(A, [rec(A, "r", E1, text="first"), rec(A, "r", E2, text="second")])
        assert written == 1
        [got] = await store.get(A, ["r"])
        assert got.text == "second"

    async def test_count_with_filters(self) -> None:
        store = await self.seeded()
        assert await store.count(A) == 3
        assert await store.count(A, filters={"lang": "en"}) == 2
        assert await store.count(A, filters={"category": ["vpn", "mfa"]}) == 2
        assert await store.count(A, filters={"category": ["vpn", "mfa"], "lang": "en"}) == 1
        assert await store.count(A, filters={"priority": 2}) == 1
        assert await store.count(A, filters={"missing": "x"}) == 0
        assert await store.count(A, filters={"category": []}) == 0

    # -- delete -----------------------------------------------------------------------------------

    async def test_delete_by_ids_document_and_filters(self) -> None:
        store = await self.seeded()
        assert await store.delete(A, ids=["a1", "nope"]) == 1
        assert ids(await store.get(A, ["a1", "a2", "a3"])) == ["a2", "a3"]
        assert await store.delete(A, document_id="doc-2") == 1
        assert await store.delete(A, filters={"category": "printer"}) == 1
        assert await store.count(A) == 0

    async def test_delete_criteria_combine_with_and(self) -> None:
        store = await self.seeded()
        assert await store.delete(A, document_id="doc-1", filters={"category": "mfa"}) == 0
        assert await store.delete(A, ids=["a1", "a3"], document_id="doc-1") == 1
        assert ids(await store.get(A, ["a1", "a2", "a3"])) == ["a2", "a3"]

    async def test_delete_without_criteria_is_refused(self) -> None:
        store = await self.seeded()
        with pytest.raises(ValidationError):
            await store.delete(A)
        assert await store.count(A) == 3

    # -- dense search -----------------------------------------------------------------------------

    async def test_dense_search_orders_by_cosine_similarity(self) -> None:
        store = await self.seeded()
        hits = await store.dense_search(A, NEAR_E1, top_k=3)
        assert ids(hits) == ["a1", "a2", "a3"]
        assert math.isclose(hits[0].score, 1 / math.sqrt(1.25), abs_tol=1e-3)
        assert math.isclose(hits[1].score, 0.5 / math.sqrt(1.25), abs_tol=1e-3)
        assert math.isclose(hits[2].score, 0.0, abs_tol=1e-3)

    async def test_dense_search_score_is_one_minus_cosine_distance(self) -> None:
        store = await self.make_store()
        await store.upsert(
            A, [rec(A, "same", (2.0, 0.0, 0.0, 0.0)), rec(A, "opposite", (-1.0, 0.0, 0.0, 0.0))]
        )
        hits = await store.dense_search(A, E1, top_k=2)
        assert ids(hits) == ["same", "opposite"]
        assert math.isclose(hits[0].score, 1.0, abs_tol=1e-4)
        assert math.isclose(hits[1].score, -1.0, abs_tol=1e-4)

    async def test_dense_search_top_k_min_score_and_filters(self) -> None:
        store = await self.seeded()
        assert ids(await store.dense_search(A, NEAR_E1, top_k=1)) == ["a1"]
        assert ids(await store.dense_search(A, NEAR_E1, top_k=3, min_score=0.4)) == ["a1", "a2"]
        assert ids(await store.dense_search(A, NEAR_E1, top_k=3, filters={"lang": "en"})) == ["a1", "a2"]
        assert ids(await store.dense_search(A, NEAR_E1, filters={"category": ["mfa", "printer"]})) == [
            "a2",
            "a3",
        ]
        assert await store.dense_search(A, NEAR_E1, filters={"category": "none"}) == []

    async def test_dense_search_returns_complete_records(self) -> None:
        store = await self.seeded()
        [hit] = await store.dense_search(A, E3, top_k=1)
        assert (
            hit.record.model_dump()
            == rec(
                A,
                "a3",
                E3,
                document_id="doc-2",
                text="MFA enrolment uses the authenticator app",
                category="mfa",
                lang="de",
                priority=2,
            ).model_dump()
        )

    async def test_bad_search_input_is_refused(self) -> None:
        store = await self.seeded()
        for top_k in (0, -1, 10_001):
            with pytest.raises(ValidationError):
                await store.dense_search(A, E1, top_k=top_k)
        with pytest.raises(ValidationError):
            await store.dense_search(A, (0.0, 0.0, 0.0, 0.0))
        with pytest.raises(ValidationError):
            await store.dense_search(A, (float("nan"), 0.0, 0.0, 1.0))
        with pytest.raises(ValidationError):
            await store.dense_search(A, E1, filters={"category": {"nested": "dict"}})
        with pytest.raises(ValidationError):
            await store.keyword_search(A, "vpn", top_k=0)

    async def test_a_query_vector_that_is_not_numbers_is_refused(self) -> None:
        store = await self.seeded()
        for vector in (
            (None, 0.0, 0.0, 1.0), (1.0, "x", 0.0, 0.0), "1234", b"\x01\x02\x03\x04", 5, ((1.0,), 0, 0, 0),
        ):
            with pytest.raises(ValidationError):
                await store.dense_search(A, vector)  # type: ignore[arg-type]

    async def test_non_finite_filter_values_are_refused_the_same_way(self) -> None:
        store = await self.seeded()
        before = await store.count(A)
        for bad in (float("nan"), float("inf"), float("-inf"), [1.0, float("nan")]):
            calls = (
                store.dense_search(A, E1, filters={"priority": bad}),
                store.keyword_search(A, "vpn", filters={"priority": bad}),
                store.count(A, filters={"priority": bad}),
                store.delete(A, filters={"priority": bad}),
            )
            for call in calls:
                with pytest.raises(ValidationError) as caught:
                    await call
                assert caught.value.field == "filters"
        assert await store.count(A) == before, "a refused delete removes nothing"

    # -- keyword search ---------------------------------------------------------------------------

    async def test_keyword_search_matches_stems_and_skips_non_matches(self) -> None:
        store = await self.seeded()
        assert ids(await store.keyword_search(A, "printer")) == ["a2"]
        assert ids(await store.keyword_search(A, "passwords")) == ["a1"]
        assert await store.keyword_search(A, "kubernetes") == []

    async def test_keyword_search_ranks_documents_matching_more_terms_first(self) -> None:
        store = await self.make_store()
        await store.upsert(
            A,
            [
                rec(A, "one", E1, text="The vpn client is slow on hotel networks today"),
                rec(A, "both", E2, text="Reset the vpn password in the self service portal"),
                rec(A, "none", E3, text="Printers need toner and paper every week"),
            ],
        )
        hits = await store.keyword_search(A, "vpn password", top_k=5)
        assert ids(hits) == ["both", "one"]
        assert hits[0].score > hits[1].score

    async def test_keyword_search_weighs_rare_terms_above_common_ones(self) -> None:
        store = await self.make_store()
        common = [rec(A, f"c{i}", E3, text=f"Airflow over the wing section number {i}") for i in range(6)]
        await store.upsert(
            A,
            [
                *common,
                rec(A, "rare", E1, text="Boundary layer separation near the trailing edge"),
                rec(A, "frequent", E2, text="Airflow measurements taken in the tunnel today"),
            ],
        )
        hits = await store.keyword_search(A, "boundary airflow", top_k=10)
        assert ids(hits)[0] == "rare"
        assert set(ids(hits)) == {"rare", "frequent", *(r.id for r in common)}

    async def test_keyword_search_filters_top_k_and_blank_query(self) -> None:
        store = await self.seeded()
        assert ids(await store.keyword_search(A, "vpn printers mfa", top_k=5, filters={"lang": "en"})) in (
            ["a1", "a2"],
            ["a2", "a1"],
        )
        assert len(await store.keyword_search(A, "vpn printers mfa", top_k=2)) == 2
        assert await store.keyword_search(A, "   ") == []
        assert await store.keyword_search(A, "the and of") == []

    async def test_keyword_scores_follow_replacements_deletes_and_stay_per_tenant(self) -> None:
        """BM25 statistics follow every write: after replacing and deleting records, a tenant's
        scores equal those of a tenant holding the remaining records alone, and another tenant's
        writes leave them unchanged."""
        store = await self.make_store()
        await store.upsert(
            A,
            [
                rec(A, "k1", E1, document_id="d1", text="Reset the vpn password from the portal"),
                rec(A, "k2", E2, document_id="d2", text="The vpn client is slow, reinstall the vpn client"),
                rec(A, "k3", E3, document_id="d3", text="Printer toner and printer paper"),
                rec(A, "k4", E1, document_id="d4", text="Password policy for printers and vpn"),
            ],
        )
        remaining = [
            rec(A, "k1", E1, document_id="d1", text="Reset the vpn password from the portal"),
            rec(A, "k2", E2, document_id="d2", text="The printer queue is stuck again"),
            rec(A, "k5", E3, document_id="d5", text="Expired vpn password on the laptop"),
        ]
        await store.upsert(A, [remaining[1]])  # replaces k2's text
        await store.delete(A, document_id="d3")
        await store.upsert(A, [remaining[2]])
        await store.delete(A, ids=["k4"])
        queries = ("vpn password", "printer queue", "expired password portal")

        async def scores(tenant: TenantContext) -> list[dict[str, float]]:
            return [
                {h.record.id: h.score for h in await store.keyword_search(tenant, q, top_k=10)}
                for q in queries
            ]

        before = await scores(A)
        await store.upsert(B, [r.model_copy(update={"tenant_id": B.tenant_id}) for r in remaining])
        await store.upsert(
            TenantContext(tenant_id="tenant-c"),
            [
                rec(TenantContext(tenant_id="tenant-c"), f"c{i}", E1, text=f"vpn password printer {i}")
                for i in range(5)
            ],
        )
        after, alone = await scores(A), await scores(B)
        assert [set(s) for s in before] == [{"k1", "k5"}, {"k2"}, {"k1", "k5"}]
        for got, unchanged, want in zip(after, before, alone, strict=True):
            assert got == pytest.approx(unchanged), "another tenant's writes changed this tenant's scores"
            assert got == pytest.approx(want), "scores differ from a tenant holding these records alone"

    async def test_keyword_scores_do_not_depend_on_filters(self) -> None:
        """A filter narrows the hits but not their scores: term statistics cover the whole tenant."""
        store = await self.make_store()
        await store.upsert(
            A,
            [
                rec(A, "en1", E1, text="vpn password reset steps", lang="en"),
                rec(A, "en2", E2, text="password expiry and password policy", lang="en"),
                rec(A, "de1", E3, text="vpn client for the office", lang="de"),
                rec(A, "de2", E1, text="vpn tunnel and vpn gateway", lang="de"),
                rec(A, "de3", E2, text="printer toner", lang="de"),
            ],
        )
        everything = {h.record.id: h.score for h in await store.keyword_search(A, "vpn password", top_k=10)}
        english = await store.keyword_search(A, "vpn password", top_k=10, filters={"lang": "en"})
        assert set(everything) == {"en1", "en2", "de1", "de2"}
        assert sorted(ids(english)) == ["en1", "en2"]
        for hit in english:
            assert hit.score == pytest.approx(everything[hit.record.id])

    # -- bad writes -------------------------------------------------------------------------------

    async def test_dimension_mismatch_writes_nothing(self) -> None:
        store = await self.make_store()
        with pytest.raises(DimensionMismatch) as caught:
            await store.upsert(A, [rec(A, "ok", E1), rec(A, "short", (1.0, 0.0, 0.0))])
        assert caught.value.expected == self.dimensions
        assert caught.value.actual == 3
        assert await store.count(A) == 0
        with pytest.raises(DimensionMismatch):
            await store.dense_search(A, (1.0, 0.0))

    async def test_records_of_another_tenant_or_non_finite_are_refused(self) -> None:
        store = await self.make_store()
        with pytest.raises(ValidationError):
            await store.upsert(A, [rec(A, "ok", E1), rec(B, "theirs", E1)])
        with pytest.raises(ValidationError):
            await store.upsert(A, [rec(A, "inf", (float("inf"), 0.0, 0.0, 0.0))])
        with pytest.raises(ValidationError):
            await store.upsert(A, [rec(A, "nan-meta", E1, score=float("nan"))])
        assert await store.count(A) == 0
        assert await store.count(B) == 0

    async def test_invalid_tenant_id_is_refused(self) -> None:
        store = await self.make_store()
        for bad in ("", "x" * 65, "bad tenant", "a/b"):
            with pytest.raises(InvalidTenant):
                await store.count(bad)  # type: ignore[arg-type]

    # -- tenant isolation -------------------------------------------------------------------------

    async def test_tenants_never_see_each_other_with_identical_data(self) -> None:
        store = await self.make_store()
        for tenant in (A, B):
            await store.upsert(
                tenant,
                [
                    rec(tenant, "shared-id", E1, document_id="doc", text="identical vpn text", group="g"),
                    rec(
                        tenant,
                        "shared-2",
                        E2,
                        document_id="doc",
                        chunk_index=1,
                        text="identical vpn text two",
                        group="g",
                    ),
                ],
            )
        for tenant in (A, B):
            assert await store.count(tenant) == 2
            dense = await store.dense_search(tenant, E1, top_k=10)
            keyword = await store.keyword_search(tenant, "vpn", top_k=10)
            got = await store.get(tenant, ["shared-id", "shared-2"])
            for record in [h.record for h in dense + keyword] + got:
                assert record.tenant_id == tenant.tenant_id
            assert len(dense) == 2 and len(keyword) == 2 and len(got) == 2

        assert await store.delete(A, ids=["shared-id"]) == 1
        assert await store.delete(A, filters={"group": "g"}) == 1
        assert await store.count(A) == 0
        assert await store.count(B) == 2
        assert await store.upsert(A, [rec(A, "new", E3, document_id="doc")]) == 1
        assert ids(await store.get(B, ["shared-id", "shared-2", "new"])) == ["shared-id", "shared-2"]
        assert await store.delete(B, document_id="doc") == 2
        assert ids(await store.get(A, ["new"])) == ["new"]

    async def test_tenant_with_no_data_sees_nothing(self) -> None:
        store = await self.seeded()
        other = TenantContext(tenant_id="tenant-empty")
        assert await store.count(other) == 0
        assert await store.dense_search(other, E1) == []
        assert await store.keyword_search(other, "vpn") == []
        assert await store.get(other, ["a1"]) == []
        assert await store.delete(other, ids=["a1", "a2", "a3"]) == 0
        assert await store.count(A) == 3

    # -- error translation ------------------------------------------------------------------------

    async def test_health_probe_answers(self) -> None:
        await assert_probe_answers(await self.make_store())


class VectorStoreServerContract(VectorStoreContract):
    """The VectorStore contract plus error translation, for adapters behind a server."""

    async def make_unreachable_store(self) -> VectorStorePort:
        """An adapter pointed at a server that does not answer, with the password ``s3cret`` in
        its address."""
        raise NotImplementedError

    async def test_unreachable_server_raises_the_port_error_with_masked_address(self) -> None:
        store = await self.make_unreachable_store()
        for operation in (
            lambda: store.count(A),
            lambda: store.dense_search(A, E1),
            lambda: store.upsert(A, [rec(A, "r", E1)]),
        ):
            with pytest.raises(VectorStoreUnavailable) as caught:
                await operation()
            assert isinstance(caught.value, StoreUnavailable)
            address = caught.value.address
            assert address and "***" in address and "s3cret" not in str(caught.value)

    async def test_health_probe_reports_an_unreachable_server_down(self) -> None:
        await assert_probe_reports_down(await self.make_unreachable_store(), secret="s3cret")

"""Search candidates: built from stored records without re-validation, with the same fields and
scores as a validated source; the cosine of a keyword-only candidate; which candidates become
sources."""

from __future__ import annotations

import math

import pytest

from motadata_ai.domain.retrieval.config import RAGConfig
from motadata_ai.domain.retrieval.scoring import cosine
from motadata_ai.domain.retrieval.search import Candidate, merge_hits, sources_needed, to_source
from motadata_ai.domain.values.documents import Source
from motadata_ai.domain.values.vectors import SearchHit, VectorRecord


def record(chunk: str, embedding: tuple[float, ...]) -> VectorRecord:
    return VectorRecord(
        id=chunk,
        tenant_id="acme",
        document_id=f"doc-{chunk}",
        version=2,
        chunk_index=3,
        text=f"text of {chunk}",
        embedding=embedding,
        metadata={"title": "Password", "source": "kb/password.md", "headings": "Reset"},
    )


def test_a_candidate_equals_the_validated_source_of_its_record() -> None:
    stored = record("c1", (0.6, 0.8))
    built = to_source(stored, score=0.9, dense_score=0.9, dense_rank=1)
    expected = Source(
        chunk_id="c1",
        document_id="doc-c1",
        title="Password",
        source="kb/password.md",
        chunk_index=3,
        version=2,
        text="text of c1",
        metadata=dict(stored.metadata),
        score=0.9,
        dense_score=0.9,
        dense_rank=1,
    )
    assert built == expected and built.model_dump() == expected.model_dump()
    assert built.metadata is not stored.metadata  # the caller's copy


def test_a_keyword_only_candidate_gets_its_cosine_to_the_query() -> None:
    dense = [SearchHit(record=record("c1", (1.0, 0.0)), score=1.0)]
    keyword = [
        SearchHit(record=record("c1", (1.0, 0.0)), score=7.5),
        SearchHit(record=record("c2", (3.0, 4.0)), score=2.5),
    ]
    merged = merge_hits(dense, keyword, (1.0, 0.0))
    assert merged["c1"].keyword_rank == 1 and merged["c1"].dense_rank == 1
    assert merged["c2"].dense_score == pytest.approx(0.6) and merged["c2"].keyword_rank == 2


def test_cosine_of_long_vectors_matches_the_definition() -> None:
    a = tuple(math.sin(i) for i in range(384))
    b = tuple(math.cos(i * 0.5) for i in range(384))
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    expected = dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))
    assert cosine(a, b) == pytest.approx(expected, rel=1e-12)
    assert cosine(a, b, norm_a=math.hypot(*a)) == cosine(a, b)  # the query's norm computed once
    assert cosine(a, tuple(0.0 for _ in a)) == 0.0


def test_a_candidate_becomes_the_source_of_its_record_with_its_scores() -> None:
    stored = record("c1", (0.6, 0.8))
    candidate = Candidate(stored, 0.4, dense_score=0.9, dense_rank=2, keyword_score=7.5, keyword_rank=1)
    assert candidate.source() == to_source(
        stored, score=0.4, dense_score=0.9, dense_rank=2, keyword_score=7.5, keyword_rank=1
    )


@pytest.mark.parametrize(
    ("options", "needed"),
    [
        ({}, 10),
        ({"enable_reranking": True, "rerank_candidates": 20}, 20),
        ({"enable_reranking": True, "rerank_candidates": 5}, 10),  # the top_k after the re-ranked head
        ({"use_mmr": True}, 50),  # MMR chooses among all
    ],
)
def test_only_candidates_a_later_step_can_return_become_sources(
    options: dict[str, object], needed: int
) -> None:
    assert sources_needed(RAGConfig(**options), 10, 50) == needed  # type: ignore[arg-type]

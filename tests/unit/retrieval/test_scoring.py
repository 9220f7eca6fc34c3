"""Fusion, MMR, threshold, hashing."""

from __future__ import annotations

import pytest

from motadata_ai.domain.retrieval.fusion import reciprocal_rank_fusion
from motadata_ai.domain.retrieval.hashing import chunk_id, content_hash
from motadata_ai.domain.retrieval.mmr import maximal_marginal_relevance
from motadata_ai.domain.retrieval.scoring import cosine, min_cosine, passes_threshold, validate_threshold
from motadata_ai.domain.values.documents import Document
from motadata_ai.domain.values.errors import ValidationError


def test_rrf_is_normalised_and_rewards_agreement() -> None:
    fused = reciprocal_rank_fusion([["a", "b", "c"], ["b", "a", "d"]], k=60)
    assert [f.key for f in fused][:2] in (["a", "b"], ["b", "a"])
    scores = {f.key: f.score for f in fused}
    assert scores["a"] == pytest.approx(scores["b"])
    assert scores["a"] == pytest.approx((1 / 61 + 1 / 62) / (2 / 61))
    assert scores["d"] == pytest.approx((1 / 63) / (2 / 61))
    top = reciprocal_rank_fusion([["x"], ["x"]])[0]
    assert top.score == pytest.approx(1.0) and top.ranks == [1, 1]
    assert reciprocal_rank_fusion([["x"], []])[0].score == pytest.approx(0.5)


def test_rrf_weights_and_k() -> None:
    fused = reciprocal_rank_fusion([["a", "b"], ["b", "a"]], weights=[3.0, 1.0])
    assert fused[0].key == "a"
    # a smaller k makes the top ranks count more
    lists = [["a", "x", "y", "c"], ["b", "z", "w", "c"]]
    low_k = {f.key: f.score for f in reciprocal_rank_fusion(lists, k=0)}
    high_k = {f.key: f.score for f in reciprocal_rank_fusion(lists, k=1000)}
    assert low_k["c"] < low_k["a"]
    assert high_k["c"] > high_k["a"]
    with pytest.raises(ValidationError):
        reciprocal_rank_fusion([["a"]], weights=[1.0, 2.0])
    with pytest.raises(ValidationError):
        reciprocal_rank_fusion([["a"]], k=-1)


def test_mmr_skips_near_duplicates() -> None:
    vectors = [(1.0, 0.0), (0.99, 0.01), (0.0, 1.0)]
    relevances = [0.9, 0.89, 0.6]
    assert maximal_marginal_relevance(relevances, vectors, top_k=2, lambda_mult=1.0) == [0, 1]
    assert maximal_marginal_relevance(relevances, vectors, top_k=2, lambda_mult=0.5) == [0, 2]
    with pytest.raises(ValidationError):
        maximal_marginal_relevance(relevances, vectors, top_k=2, lambda_mult=1.5)


def test_threshold_applies_to_relevance_of_cosine() -> None:
    assert min_cosine(0.7) == pytest.approx(0.4)
    assert passes_threshold(0.41, 0.7) and not passes_threshold(0.39, 0.7)
    assert passes_threshold(-1.0, 0.0)
    assert passes_threshold(None, 0.9)
    assert cosine((1.0, 0.0), (0.0, 2.0)) == 0.0 and cosine((0.0, 0.0), (1.0, 0.0)) == 0.0
    with pytest.raises(ValidationError) as caught:
        validate_threshold(1.5)
    assert caught.value.field == "similarity_threshold"


def test_content_hash_covers_text_metadata_and_settings() -> None:
    base = Document(id="d", text="Hello\r\nworld  \n", title="T")
    same = Document(id="d", text="Hello\nworld", title="T")
    assert content_hash(base) == content_hash(same)
    assert content_hash(base) != content_hash(base.model_copy(update={"text": "Hello world!"}))
    assert content_hash(base) != content_hash(base.model_copy(update={"metadata": {"k": 1}}))
    assert content_hash(base, settings={"chunk_size": 1}) != content_hash(base, settings={"chunk_size": 2})


def test_chunk_ids_are_deterministic_and_distinct() -> None:
    assert chunk_id("t", "d", 1, 0) == chunk_id("t", "d", 1, 0)
    ids = {chunk_id(t, d, v, i) for t in "ab" for d in "xy" for v in (1, 2) for i in range(3)}
    assert len(ids) == 24

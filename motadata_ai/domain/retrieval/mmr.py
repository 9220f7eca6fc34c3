"""Maximal marginal relevance: pick relevant items that are not near-duplicates of those picked.

``MMR(d) = λ · relevance(d) − (1 − λ) · max_{s ∈ selected} cos(d, s)``; λ = 1 is plain ranking,
λ = 0 maximal diversity.
"""

from __future__ import annotations

from collections.abc import Sequence

from motadata_ai.domain.retrieval.scoring import cosine
from motadata_ai.domain.values.errors import ValidationError


def maximal_marginal_relevance(
    relevances: Sequence[float],
    vectors: Sequence[Sequence[float]],
    *,
    top_k: int,
    lambda_mult: float = 0.7,
) -> list[int]:
    """Indices of the chosen items, in pick order (``relevances`` and ``vectors`` align)."""
    if not 0.0 <= lambda_mult <= 1.0:
        raise ValidationError(f"mmr lambda must be in [0, 1], got {lambda_mult}", field="mmr_lambda")
    if len(relevances) != len(vectors):
        raise ValidationError("one vector per relevance is needed", field="vectors")
    remaining = list(range(len(relevances)))
    chosen: list[int] = []
    similarity_cache: dict[tuple[int, int], float] = {}
    while remaining and len(chosen) < top_k:
        best_index, best_value = remaining[0], float("-inf")
        for index in remaining:
            redundancy = 0.0
            if chosen:
                values = []
                for other in chosen:
                    key = (min(index, other), max(index, other))
                    if key not in similarity_cache:
                        similarity_cache[key] = cosine(vectors[index], vectors[other])
                    values.append(similarity_cache[key])
                redundancy = max(values)
            value = lambda_mult * relevances[index] - (1.0 - lambda_mult) * redundancy
            if value > best_value:
                best_index, best_value = index, value
        chosen.append(best_index)
        remaining.remove(best_index)
    return chosen

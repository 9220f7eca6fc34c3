"""Reciprocal rank fusion of ranked lists, normalised to [0, 1].

``fused(d) = Σ_i w_i / (k + rank_i(d))`` over the lists that contain ``d`` (ranks from 1),
divided by ``Σ_i w_i / (k + 1)``: a chunk ranked first by every retriever scores 1.0, one
ranked first by only one of two equally weighted retrievers scores 0.5.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from motadata_ai.domain.values.errors import ValidationError

K = TypeVar("K", bound=Hashable)

DEFAULT_RRF_K = 60


@dataclass
class FusedItem(Generic[K]):
    """One fused key, its normalised score and its 1-based rank in each input list (None: absent)."""

    key: K
    score: float
    ranks: list[int | None] = field(default_factory=list)


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[K]],
    *,
    k: float = DEFAULT_RRF_K,
    weights: Sequence[float] | None = None,
) -> list[FusedItem[K]]:
    """Fuse ranked key lists (best first) into one list, best first; ties keep first-seen order."""
    if k < 0:
        raise ValidationError(f"rrf k must be >= 0, got {k}", field="rrf_k")
    if weights is None:
        weights = [1.0] * len(rankings)
    if len(weights) != len(rankings):
        raise ValidationError("one weight per ranking is needed", field="weights")
    if any(w < 0 for w in weights):
        raise ValidationError("fusion weights must be >= 0", field="weights")
    best = sum(w / (k + 1) for w in weights) or 1.0
    items: dict[K, FusedItem[K]] = {}
    for list_index, ranking in enumerate(rankings):
        for rank, key in enumerate(ranking, start=1):
            item = items.get(key)
            if item is None:
                item = items[key] = FusedItem(key=key, score=0.0, ranks=[None] * len(rankings))
            if item.ranks[list_index] is not None:
                continue  # a key listed twice counts at its best rank
            item.ranks[list_index] = rank
            item.score += weights[list_index] / (k + rank)
    fused = list(items.values())
    for item in fused:
        item.score /= best
    fused.sort(key=lambda item: -item.score)
    return fused

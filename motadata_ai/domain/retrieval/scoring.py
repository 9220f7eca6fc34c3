"""Vector similarity and the similarity threshold.

Scores of the dense retriever are cosine similarities in [-1, 1]. ``similarity_threshold``
applies to the *relevance* ``(1 + cosine) / 2`` in [0, 1] (the convention of Chroma and
LlamaIndex for cosine distance), so the default 0.7 keeps chunks with cosine >= 0.4. In hybrid
mode the same test applies to every candidate's cosine *before* fusion (keyword candidates get
their cosine from their stored embedding), so keyword matches that are semantically unrelated
are dropped too, and the fused score stays a pure rank statistic.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence

from motadata_ai.domain.values.errors import ValidationError


def cosine(a: Sequence[float], b: Sequence[float], *, norm_a: float | None = None) -> float:
    """Cosine similarity of two vectors (0 when either is all zeros); ``norm_a``: the norm of ``a``
    when the caller has it already (one query against many candidates).

    Summed in C (``map`` of ``operator.mul``, ``math.hypot``): a search computes it for every
    keyword-only candidate, and a generator over 384 pairs took about 1 ms a vector.
    """
    dot = sum(map(operator.mul, a, b))
    norm = (math.hypot(*a) if norm_a is None else norm_a) * math.hypot(*b)
    return dot / norm if norm else 0.0


def relevance(cosine_similarity: float) -> float:
    """Map cosine in [-1, 1] to relevance in [0, 1]: ``(1 + cos) / 2``."""
    return max(0.0, min(1.0, (1.0 + cosine_similarity) / 2.0))


def min_cosine(similarity_threshold: float) -> float:
    """The smallest cosine a chunk may have under ``similarity_threshold``: ``2 t - 1``."""
    return 2.0 * similarity_threshold - 1.0


def validate_threshold(value: float) -> float:
    """``value`` when it is in [0, 1], else :class:`ValidationError` naming the field."""
    if not 0.0 <= value <= 1.0:
        raise ValidationError(
            f"similarity_threshold must be in [0, 1], got {value}", field="similarity_threshold"
        )
    return value


def passes_threshold(cosine_similarity: float | None, similarity_threshold: float) -> bool:
    """Whether a chunk with this cosine survives (unknown cosine: kept)."""
    if cosine_similarity is None or similarity_threshold <= 0.0:
        return True
    return relevance(cosine_similarity) >= similarity_threshold

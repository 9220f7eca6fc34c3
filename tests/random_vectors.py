"""Records of one tenant with random Gaussian vectors: data no HNSW graph finds easy."""

from __future__ import annotations

import numpy as np

from motadata_ai.domain.values.vectors import VectorRecord


def random_vector_records(tenant_id: str, n: int, *, dims: int, seed: int) -> list[VectorRecord]:
    """``n`` records ``r0`` … of ``tenant_id``, 50 chunks a document, vectors drawn with ``seed``."""
    vectors = np.random.default_rng(seed).standard_normal((n, dims))
    return [
        VectorRecord(
            id=f"r{i}", tenant_id=tenant_id, document_id=f"d{i // 50}", chunk_index=i % 50,
            text=f"chunk {i}", embedding=tuple(float(x) for x in vectors[i]),
        )
        for i in range(n)
    ]  # fmt: skip

"""RAGConfig: every tunable of the RAG use-case, each default written once, each number bounded.

The use-case (:class:`~motadata_ai.domain.retrieval.system.RAGSystem`) takes one frozen
:class:`RAGConfig` next to its ports; ``create_rag_system(...)`` builds one from the settings
and its keyword options. A value out of bounds is refused with the SDK's
:class:`~motadata_ai.domain.values.errors.ValidationError` naming the field.
"""

from __future__ import annotations

from typing import Self

from pydantic import ConfigDict, Field, model_validator

from motadata_ai.domain.retrieval.context import DEFAULT_INSTRUCTIONS
from motadata_ai.domain.retrieval.fusion import DEFAULT_RRF_K
from motadata_ai.domain.values.base import ValueModel
from motadata_ai.domain.values.errors import ValidationError
from motadata_ai.domain.values.parsing import ParseOptions

MAX_TOP_K = 100
"""The most chunks one search returns (``top_k``)."""


class RAGConfig(ValueModel):
    """The RAG use-case's settings (see the module doc); ``None`` models mean the gateway's defaults."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # ingestion
    chunk_size: int = Field(1000, ge=1, le=100_000, description="Tokens per chunk at most")
    chunk_overlap: int = Field(200, ge=0, le=100_000, description="Tokens two neighbouring chunks share")
    embed_batch_size: int = Field(64, ge=1, le=10_000, description="Texts per embedding call")
    max_document_bytes: int = Field(
        20 * 1024 * 1024, ge=1, le=2**40, description="Larger documents are refused (DocumentTooLarge)"
    )
    parsing: ParseOptions = Field(default_factory=ParseOptions, description="File parsing options")
    embedding_model: str | None = Field(None, min_length=1, description="None: the gateway's default")

    # search
    top_k: int = Field(5, ge=1, le=MAX_TOP_K, description="Chunks a search returns")
    similarity_threshold: float = Field(0.7, ge=0.0, le=1.0, description="Minimum cosine of a dense hit")
    enable_query_rewriting: bool = True
    max_query_chars: int = Field(4000, ge=1, le=1_000_000, description="Longer questions are refused")
    rrf_k: float = Field(DEFAULT_RRF_K, gt=0.0, le=10_000.0, description="Reciprocal rank fusion's k")
    dense_weight: float = Field(1.0, ge=0.0, le=100.0, description="Weight of the dense ranking in RRF")
    keyword_weight: float = Field(1.0, ge=0.0, le=100.0, description="Weight of the keyword ranking in RRF")
    candidate_pool: int | None = Field(
        None, ge=1, le=10_000, description="Hits fetched per retriever; None: max(4 * top_k, 20)"
    )
    enable_reranking: bool = False
    rerank_candidates: int = Field(20, ge=1, le=1_000, description="Leading candidates the re-ranker sees")
    use_mmr: bool = False
    mmr_lambda: float = Field(0.7, ge=0.0, le=1.0, description="MMR: 1 relevance only, 0 diversity only")

    # answer
    llm_model: str | None = Field(None, min_length=1, description="None: the gateway's default")
    max_context_tokens: int = Field(3000, ge=1, le=1_000_000, description="Token budget of the passages")
    instructions: str = Field(DEFAULT_INSTRUCTIONS, description="The system prompt's instructions")
    enable_memory: bool = True
    memory_turns: int = Field(3, ge=0, le=100, description="Earlier turns fed to the rewrite and the prompt")

    @model_validator(mode="after")
    def _overlap_below_size(self) -> Self:
        if self.chunk_overlap >= self.chunk_size:
            raise ValidationError(
                f"chunk_overlap must be in [0, chunk_size), got {self.chunk_overlap} with chunk_size "
                f"{self.chunk_size}",
                field="chunk_overlap",
            )
        return self

    @property
    def fusion_weights(self) -> tuple[float, float]:
        """``(dense_weight, keyword_weight)`` as reciprocal rank fusion takes them."""
        return (self.dense_weight, self.keyword_weight)

    def candidates_for(self, top_k: int, mode: str = "hybrid") -> int:
        """How many hits each retriever fetches for a search of ``top_k`` in ``mode``.

        A dense or keyword search that nothing re-orders (no re-ranker, no MMR) fetches just
        ``top_k``: its hits come best first (ties broken by id) and the threshold only cuts a
        dense search's tail, so a larger pool could never reach the result, it would only be read,
        decoded and dropped. Only fusion (hybrid mode) ranks hits below a retriever's ``top_k``
        into the result.
        """
        if mode in ("dense", "keyword") and not (self.enable_reranking or self.use_mmr):
            return top_k
        pool = self.candidate_pool or max(4 * top_k, 20)
        return max(pool, self.rerank_candidates) if self.enable_reranking else pool

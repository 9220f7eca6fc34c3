"""Retrieval (RAG): chunking, hashing, search fusion, re-ranking, rewriting, context, the use-case."""

from motadata_ai.domain.retrieval.chunking import Chunk, Chunker, split_markdown_sections
from motadata_ai.domain.retrieval.context import BuiltContext, build_context, format_passage, parse_citations
from motadata_ai.domain.retrieval.fusion import reciprocal_rank_fusion
from motadata_ai.domain.retrieval.hashing import chunk_id, content_hash
from motadata_ai.domain.retrieval.mmr import maximal_marginal_relevance
from motadata_ai.domain.retrieval.reranking import (
    CrossEncoderReranker,
    LLMReranker,
    Reranker,
    ScoreFusionReranker,
)
from motadata_ai.domain.retrieval.rewriting import KeywordQueryRewriter, LLMQueryRewriter, RewrittenQuery
from motadata_ai.domain.retrieval.system import (
    NO_CONTEXT_ANSWER,
    SEARCH_MODES,
    KnowledgeBaseEmpty,
    RAGSystem,
)
from motadata_ai.domain.retrieval.tokens import TokenCounter, approximate_token_count

__all__ = [
    "NO_CONTEXT_ANSWER",
    "SEARCH_MODES",
    "BuiltContext",
    "Chunk",
    "Chunker",
    "CrossEncoderReranker",
    "KeywordQueryRewriter",
    "KnowledgeBaseEmpty",
    "LLMQueryRewriter",
    "LLMReranker",
    "RAGSystem",
    "Reranker",
    "RewrittenQuery",
    "ScoreFusionReranker",
    "TokenCounter",
    "approximate_token_count",
    "build_context",
    "chunk_id",
    "content_hash",
    "format_passage",
    "maximal_marginal_relevance",
    "parse_citations",
    "reciprocal_rank_fusion",
    "split_markdown_sections",
]

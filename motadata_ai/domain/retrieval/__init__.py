"""Retrieval (RAG): chunking, hashing, search fusion, re-ranking, rewriting, context, the use-case.

The use-case :class:`RAGSystem` (``system``) is configured by a frozen :class:`RAGConfig`
(``config``) and delegates to ``ingestion`` (with ``loading``), ``search`` and ``answer``; each
returns the :class:`ModelUsage` its own model calls spent with its result.
"""

from motadata_ai.domain.retrieval.answer import NO_CONTEXT_ANSWER, Answer, Answerer
from motadata_ai.domain.retrieval.chunking import Chunk, Chunker, split_markdown_sections
from motadata_ai.domain.retrieval.config import RAGConfig
from motadata_ai.domain.retrieval.context import BuiltContext, build_context, format_passage, parse_citations
from motadata_ai.domain.retrieval.fusion import reciprocal_rank_fusion
from motadata_ai.domain.retrieval.hashing import chunk_id, content_hash
from motadata_ai.domain.retrieval.ingestion import Ingestion
from motadata_ai.domain.retrieval.mmr import maximal_marginal_relevance
from motadata_ai.domain.retrieval.reranking import (
    CrossEncoderReranker,
    LLMReranker,
    Reranker,
    ScoreFusionReranker,
)
from motadata_ai.domain.retrieval.rewriting import KeywordQueryRewriter, LLMQueryRewriter, RewrittenQuery
from motadata_ai.domain.retrieval.search import SEARCH_MODES, Search, SearchResult
from motadata_ai.domain.retrieval.system import KnowledgeBaseEmpty, RAGSystem
from motadata_ai.domain.retrieval.tokens import TokenCounter, approximate_token_count
from motadata_ai.domain.retrieval.usage import ModelUsage

__all__ = [
    "NO_CONTEXT_ANSWER",
    "SEARCH_MODES",
    "Answer",
    "Answerer",
    "BuiltContext",
    "Chunk",
    "Chunker",
    "CrossEncoderReranker",
    "Ingestion",
    "KeywordQueryRewriter",
    "KnowledgeBaseEmpty",
    "LLMQueryRewriter",
    "LLMReranker",
    "ModelUsage",
    "RAGConfig",
    "RAGSystem",
    "Reranker",
    "RewrittenQuery",
    "ScoreFusionReranker",
    "Search",
    "SearchResult",
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

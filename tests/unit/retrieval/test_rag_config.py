"""RAGConfig, its construction through create_rag_system, and usage returned with each result."""

from __future__ import annotations

from pathlib import Path

import pydantic
import pytest

from motadata_ai.adapters.memory.documents import InMemoryDocumentStore
from motadata_ai.adapters.memory.embedding import HashEmbeddings
from motadata_ai.adapters.memory.llm import FunctionLLM
from motadata_ai.adapters.memory.vector_store import InMemoryVectorStore
from motadata_ai.domain.gateway.config import GatewayConfig
from motadata_ai.domain.gateway.service import Gateway
from motadata_ai.domain.retrieval import ModelUsage, RAGConfig
from motadata_ai.domain.retrieval.reranking import LLMReranker, ScoreFusionReranker, rerank_counted
from motadata_ai.domain.retrieval.rewriting import LLMQueryRewriter
from motadata_ai.domain.retrieval.search import apply_threshold, fuse, merge_hits
from motadata_ai.domain.values.documents import Source
from motadata_ai.domain.values.errors import ValidationError
from motadata_ai.domain.values.llm import EXTRACTIVE_CAPABILITIES, ChatRequest, ChatResponse, Message, Usage
from motadata_ai.domain.values.tenancy import TenantContext
from motadata_ai.domain.values.vectors import SearchHit, VectorRecord

T = TenantContext(tenant_id="t1")


def test_defaults_are_written_once_and_the_config_is_frozen() -> None:
    config = RAGConfig()
    assert (config.chunk_size, config.chunk_overlap, config.top_k, config.similarity_threshold) == (
        1000,
        200,
        5,
        0.7,
    )
    assert config.candidates_for(5) == 20 and config.candidates_for(10) == 40
    assert RAGConfig(enable_reranking=True, rerank_candidates=30).candidates_for(5) == 30
    # a dense or keyword search nothing re-orders fetches just top_k; fusion, re-ranking or MMR need the pool
    assert config.candidates_for(10, "dense") == 10 and config.candidates_for(10, "keyword") == 10
    assert config.candidates_for(10, "hybrid") == 40
    assert RAGConfig(use_mmr=True).candidates_for(10, "keyword") == 40
    assert RAGConfig(use_mmr=True).candidates_for(10, "dense") == 40
    assert RAGConfig(enable_reranking=True).candidates_for(5, "dense") == 20
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        config.top_k = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"top_k": 0}, "top_k"),
        ({"top_k": 101}, "top_k"),
        ({"similarity_threshold": 1.5}, "similarity_threshold"),
        ({"mmr_lambda": -0.1}, "mmr_lambda"),
        ({"memory_turns": -1}, "memory_turns"),
        ({"embed_batch_size": 0}, "embed_batch_size"),
        ({"chunk_size": 100, "chunk_overlap": 100}, "chunk_overlap"),
        ({"no_such_option": 1}, "no_such_option"),
    ],
)
def test_values_out_of_bounds_are_refused_naming_the_field(options: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        RAGConfig(**options)  # type: ignore[arg-type]
    assert caught.value.field == field


def gateway() -> Gateway:
    return Gateway(
        llm=FunctionLLM(lambda request: "ok", capabilities=EXTRACTIVE_CAPABILITIES),
        embeddings=HashEmbeddings(dimensions=64),
        config=GatewayConfig(default_model="local/extractive", default_embedding_model="hash"),
    )


def test_create_rag_system_folds_keyword_options_into_the_config(tmp_path: Path) -> None:
    from motadata_ai.api import create_rag_system
    from motadata_ai.settings import Settings

    settings = Settings(data_dir=tmp_path / "data", chunk_size=400, chunk_overlap=40)
    documents = InMemoryDocumentStore()
    rag = create_rag_system(
        tenant_id="acme",
        gateway=gateway(),
        vector_store=InMemoryVectorStore(dimensions=64),
        documents=documents,
        settings=settings,
        top_k=3,
        use_mmr=True,
        reranker=ScoreFusionReranker(alpha=0.3),
    )
    assert (rag.config.chunk_size, rag.config.chunk_overlap) == (400, 40)  # from the settings
    assert (rag.config.top_k, rag.config.use_mmr) == (3, True)  # from the keyword options
    assert rag.reranker.name == "score-fusion:alpha=0.3"  # a port, not a config field
    with pytest.raises(ValidationError) as caught:
        create_rag_system(
            tenant_id="acme",
            gateway=gateway(),
            vector_store=InMemoryVectorStore(dimensions=64),
            documents=documents,
            settings=settings,
            top_k=0,
        )
    assert caught.value.field == "top_k"


def reply(text: str, input_tokens: int) -> ChatResponse:
    return ChatResponse(
        id="r",
        model="m",
        message=Message(role="assistant", content=text),
        usage=Usage(input_tokens=input_tokens, output_tokens=2),
        cost_usd=input_tokens * 0.001,
    )


async def test_each_rewrite_and_rerank_returns_its_own_usage_not_a_running_total() -> None:
    sizes = iter([7, 11])

    async def rewrite(request: ChatRequest, tenant: TenantContext) -> ChatResponse:
        return reply("vpn drops", next(sizes))

    rewriter = LLMQueryRewriter(generate=rewrite, model="gpt-x")
    first = await rewriter.rewrite("why does the vpn drop?", tenant=T)
    second = await rewriter.rewrite("why does the vpn drop?", tenant=T)
    assert first.usage == ModelUsage(7, 2, 0.007)
    assert second.usage == ModelUsage(11, 2, 0.011)
    assert rewriter.usage.input_tokens == 18  # the running total is still kept

    async def grade(request: ChatRequest, tenant: TenantContext) -> ChatResponse:
        return reply('{"scores": [2, 9]}', 30)

    candidates = [
        Source(chunk_id=c, document_id=c, title=c, source="", chunk_index=0, version=1, text=c)
        for c in ("a", "b")
    ]
    ranked, spent = await rerank_counted(LLMReranker(generate=grade, model="m"), "q", candidates, tenant=T)
    assert [s.chunk_id for s in ranked] == ["b", "a"] and spent == ModelUsage(30, 2, 0.03)
    _, nothing = await rerank_counted(ScoreFusionReranker(), "q", candidates, tenant=T)
    assert nothing == ModelUsage()


def hit(chunk: str, score: float, embedding: tuple[float, ...]) -> SearchHit:
    record = VectorRecord(
        id=chunk, tenant_id="t1", document_id=chunk, version=1, chunk_index=0, text=chunk, embedding=embedding
    )
    return SearchHit(record=record, score=score)


def test_search_steps_merge_threshold_and_fuse() -> None:
    dense = [hit("a", 0.9, (1.0, 0.0)), hit("b", 0.6, (0.6, 0.8))]
    keyword = [hit("c", 3.0, (0.0, 1.0)), hit("a", 2.0, (1.0, 0.0))]
    merged = merge_hits(dense, keyword, (1.0, 0.0))
    assert list(merged) == ["a", "b", "c"]
    assert (merged["a"].dense_rank, merged["a"].keyword_rank) == (1, 2)
    assert merged["c"].dense_score == pytest.approx(0.0)  # its cosine to the query vector
    # relevance (1 + cosine) / 2 of c is 0.5: below 0.7, kept in hybrid mode as a top-k keyword hit
    kept = apply_threshold(merged, mode="hybrid", top_k=1, threshold=0.7)
    assert set(kept) == {"a", "b", "c"}
    assert set(apply_threshold(merged, mode="dense", top_k=1, threshold=0.7)) == {"a", "b"}
    fused = fuse(kept, dense, keyword, mode="hybrid", config=RAGConfig())
    assert [c.record.id for c in fused] == ["a", "c", "b"]  # a is ranked by both retrievers
    assert fused[1].score == pytest.approx(0.5)  # first of one of the two rankings
    assert [c.record.id for c in fuse(kept, dense, keyword, mode="dense", config=RAGConfig())] == [
        "a",
        "b",
        "c",
    ]

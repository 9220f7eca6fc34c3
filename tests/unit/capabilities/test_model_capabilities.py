"""The use-cases follow what the LLM port advertises (``capabilities``), never the model's name."""

from __future__ import annotations

import pytest

from motadata_ai.adapters.local.chat import LocalChat
from motadata_ai.adapters.memory.documents import InMemoryDocumentStore
from motadata_ai.adapters.memory.embedding import HashEmbeddings
from motadata_ai.adapters.memory.llm import FunctionLLM
from motadata_ai.adapters.memory.vector_store import InMemoryVectorStore
from motadata_ai.adapters.routing import ModelRoutedChat
from motadata_ai.domain.gateway.config import GatewayConfig
from motadata_ai.domain.gateway.service import Gateway
from motadata_ai.domain.retrieval import RAGSystem
from motadata_ai.domain.retrieval.reranking import LLMReranker, ScoreFusionReranker
from motadata_ai.domain.retrieval.rewriting import KeywordQueryRewriter, LLMQueryRewriter
from motadata_ai.domain.routing.unified import UnifiedQuery
from motadata_ai.domain.values.llm import EXTRACTIVE_CAPABILITIES, ModelCapabilities
from motadata_ai.ports.gateway import GatewayPort

GENERATIVE = ModelCapabilities(generative=True, extractive=False)


def gateway(model: str, capabilities: ModelCapabilities) -> Gateway:
    llm = FunctionLLM(lambda request: "rag", capabilities=capabilities)
    return Gateway(
        llm=llm,
        embeddings=HashEmbeddings(dimensions=32),
        config=GatewayConfig(
            default_model=model,
            default_embedding_model="hash",
            enable_caching=False,
            requests_per_minute=None,
        ),
    )


def rag(gw: Gateway) -> RAGSystem:
    return RAGSystem(
        gateway=gw,
        vector_store=InMemoryVectorStore(dimensions=32),
        documents=InMemoryDocumentStore(),
        tenant="t1",
    )


@pytest.mark.parametrize(
    ("model", "capabilities", "llm_driven"),
    [
        ("local/x", GENERATIVE, True),  # named like a local model, advertises generation
        ("openai/gpt-4o", EXTRACTIVE_CAPABILITIES, False),  # named like a remote one, extractive
        ("openai/gpt-4o", GENERATIVE, True),
        ("local/extractive", EXTRACTIVE_CAPABILITIES, False),
    ],
)
def test_rag_rewrites_and_reranks_by_the_advertised_capability(
    model: str, capabilities: ModelCapabilities, llm_driven: bool
) -> None:
    system = rag(gateway(model, capabilities))
    assert isinstance(system.rewriter, LLMQueryRewriter if llm_driven else KeywordQueryRewriter)
    assert isinstance(system.reranker, LLMReranker if llm_driven else ScoreFusionReranker)


@pytest.mark.parametrize(
    ("model", "capabilities", "classifies"),
    [
        ("local/x", GENERATIVE, True),
        ("openai/gpt-4o", EXTRACTIVE_CAPABILITIES, False),
    ],
)
async def test_unified_query_classifies_with_a_generative_model_only(
    model: str, capabilities: ModelCapabilities, classifies: bool
) -> None:
    gw = gateway(model, capabilities)

    class Answerer:
        async def query(self, question: str, **kwargs: object) -> object:
            raise AssertionError("not asked")

    class Runner:
        async def execute_task(self, task: str, **kwargs: object) -> object:
            raise AssertionError("not asked")

        async def chat(self, message: str, **kwargs: object) -> object:
            raise AssertionError("not asked")

    unified = UnifiedQuery(rag_factory=lambda t: Answerer(), agent_factory=lambda t: Runner(), gateway=gw)  # type: ignore[arg-type,return-value]
    assert unified.use_classifier is classifies
    decision, input_tokens, _, _ = await unified.route("How do I reset my password?", tenant_id="t1")
    llm = gw._llm
    assert isinstance(llm, FunctionLLM)
    assert len(llm.calls) == (1 if classifies else 0)
    assert decision.route == "rag"
    assert (input_tokens > 0) is classifies


def test_the_gateway_exposes_the_routed_ports_capabilities() -> None:
    remote = FunctionLLM(lambda request: "remote")
    routed = ModelRoutedChat({"local": LocalChat}, default=lambda: remote)
    gw = Gateway(
        llm=routed,
        embeddings=HashEmbeddings(dimensions=32),
        config=GatewayConfig(default_model="local/extractive", default_embedding_model="hash"),
    )
    port: GatewayPort = gw  # the gateway is the one port its users depend on
    assert port.capabilities() == EXTRACTIVE_CAPABILITIES
    assert port.capabilities("local/extractive").extractive
    assert port.capabilities("openai/gpt-4o").generative
    assert not port.capabilities("openai/gpt-4o").extractive

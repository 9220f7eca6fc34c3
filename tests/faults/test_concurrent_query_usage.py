"""Two concurrent ``rag.query`` calls each report the tokens and cost of their own model calls.

A generative model (so the query is rewritten and the candidates re-ranked by the model, as well
as answered) is scripted with deterministic token counts and a small delay, so the two queries'
calls interleave. Each question's usage when it runs alone is the reference: run together, each
query must report exactly that, and together they must account for every token the model and
the embedder were paid for — no query reports the other's tokens.

With embedding coalescing on (here with a 0.2 s window), the two query embeddings become one provider call
whose tokens are shared out by text length: the queries' totals still add up to exactly what was
paid, and each answer's own model calls are still its own.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from motadata_ai.adapters.memory.documents import InMemoryDocumentStore
from motadata_ai.adapters.memory.embedding import HashEmbeddings
from motadata_ai.adapters.memory.vector_store import InMemoryVectorStore
from motadata_ai.domain.gateway.config import GatewayConfig
from motadata_ai.domain.gateway.service import Gateway
from motadata_ai.domain.retrieval import RAGConfig, RAGSystem
from motadata_ai.domain.retrieval.reranking import RERANK_PROMPT
from motadata_ai.domain.retrieval.rewriting import REWRITE_PROMPT
from motadata_ai.domain.values.documents import Document, RAGResponse
from motadata_ai.domain.values.llm import ChatRequest
from motadata_ai.domain.values.usage import ModelPrice
from motadata_ai.testing.models import FunctionLLM

pytestmark = pytest.mark.faults

MODEL = "scripted-gpt"
DOCUMENTS = (
    Document(
        id="password",
        title="Password reset",
        text="Open the self-service portal and choose reset "
        "password. Confirm the reset with your MFA code. Passwords expire every 90 days.",
    ),
    Document(
        id="vpn",
        title="VPN",
        text="Install the GlobalConnect VPN client, then sign in with your "
        "network password. The VPN drops after 12 hours; reconnect from the tray icon.",
    ),
    Document(
        id="printer",
        title="Printing",
        text="Print to the FollowMe queue and tap your badge at any printer to release the job.",
    ),
)
QUESTIONS = ("How do I reset my password?", "Why does my VPN connection keep dropping every day?")


def respond(request: ChatRequest) -> str:
    """Rewrite: the question's last line; re-rank: grade every passage; answer: cite passage 1."""
    system = request.messages[0].content or ""
    user = request.messages[-1].content or ""
    if system == REWRITE_PROMPT:
        return user.splitlines()[-1].removeprefix("Question: ")
    if system == RERANK_PROMPT:
        passages = [line for line in user.splitlines() if line.startswith("[")]
        return json.dumps({"scores": [10 - i for i in range(len(passages))]})
    first = next(line for line in system.splitlines() if line.startswith("[1] "))
    return f"{first.split(': ', 1)[1][:80]} [1]"


def make(*, coalesce: bool = False) -> tuple[RAGSystem, FunctionLLM, HashEmbeddings]:
    llm = FunctionLLM(respond, delay=0.01)  # the two queries' calls interleave
    embeddings = HashEmbeddings(dimensions=64)
    gateway = Gateway(
        llm=llm,
        embeddings=embeddings,
        config=GatewayConfig(
            default_model=MODEL,
            default_embedding_model="hash",
            enable_caching=False,
            requests_per_minute=None,
            request_deduplication=False,
            max_retries=0,
            embedding_batch_max_inputs=256 if coalesce else 1,  # 1: every embedding call its own
            embedding_batch_window=0.2 if coalesce else 0.0,  # the two query embeddings meet in one batch
            model_prices={MODEL: ModelPrice(input_per_token=1e-6, output_per_token=2e-6)},
        ),
    )
    rag = RAGSystem(
        gateway=gateway,
        vector_store=InMemoryVectorStore(dimensions=64),
        documents=InMemoryDocumentStore(),
        tenant="acme",
        config=RAGConfig(similarity_threshold=0.0, enable_reranking=True, enable_memory=False),
    )
    return rag, llm, embeddings


def usage(response: RAGResponse) -> tuple[int, int, float]:
    return response.input_tokens, response.output_tokens, round(response.cost_usd, 12)


async def test_concurrent_queries_each_report_only_their_own_usage() -> None:
    rag, llm, _ = make()
    await rag.ingest(list(DOCUMENTS))
    alone = [usage(await rag.query(question)) for question in QUESTIONS]
    assert alone[0] != alone[1]  # the two questions spend different amounts
    assert all(u[0] > 0 and u[1] > 0 and u[2] > 0 for u in alone)
    calls_alone = len(llm.calls)
    assert calls_alone == 2 * 3  # rewrite, re-rank and answer per question: the model ran each time

    together = await asyncio.gather(*(rag.query(question) for question in QUESTIONS))

    assert len(llm.calls) == 2 * calls_alone
    assert [usage(r) for r in together] == alone


async def test_coalesced_query_embeddings_share_out_exactly_what_was_paid() -> None:
    rag, _, _ = make(coalesce=True)
    await rag.ingest(list(DOCUMENTS))
    alone = [usage(await rag.query(question)) for question in QUESTIONS]

    together = await asyncio.gather(*(rag.query(question) for question in QUESTIONS))

    assert [r.output_tokens for r in together] == [u[1] for u in alone]
    assert sum(r.input_tokens for r in together) == sum(u[0] for u in alone)
    assert round(sum(r.cost_usd for r in together), 12) == round(sum(u[2] for u in alone), 12)

"""No untyped error escapes: bad input to value types and text entry points raises the SDK's errors."""

from __future__ import annotations

from typing import Any

import pydantic
import pytest

from motadata_ai.adapters.local.minilm import MiniLMUnavailable
from motadata_ai.adapters.memory.documents import InMemoryDocumentStore
from motadata_ai.adapters.memory.embedding import HashEmbeddings
from motadata_ai.adapters.memory.llm import FunctionLLM
from motadata_ai.adapters.memory.memory_store import InMemoryMemoryStore
from motadata_ai.adapters.memory.vector_store import InMemoryVectorStore
from motadata_ai.domain.agents import Agent
from motadata_ai.domain.agents.tools import InvalidToolArguments
from motadata_ai.domain.gateway.config import GatewayConfig
from motadata_ai.domain.gateway.service import Gateway
from motadata_ai.domain.memory.manager import MemoryManager
from motadata_ai.domain.retrieval import RAGConfig, RAGSystem
from motadata_ai.domain.values.bus import Envelope
from motadata_ai.domain.values.documents import Document
from motadata_ai.domain.values.errors import (
    ConfigurationError,
    InvalidTenant,
    MotadataError,
    ValidationError,
)
from motadata_ai.domain.values.llm import ChatRequest, Message
from motadata_ai.domain.values.memory import MemoryRecord
from motadata_ai.domain.values.tenancy import TenantContext

BAD = "bad \ud800 text"


def refused(error: pytest.ExceptionInfo[ValidationError], field: str) -> None:
    assert not isinstance(error.value, pydantic.ValidationError)
    assert error.value.field == field, error.value.fields


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: Document(id="d", text=None), "text"),
        (lambda: Document(id="", text="x"), "id"),
        (lambda: Document(text="x"), "id"),
        (lambda: Document(id="d", text=BAD), "text"),
        (lambda: Document(id="d", text="x", metadata={"k": ["ok", BAD]}), "metadata.k.1"),
        (lambda: Document.model_validate({"id": "d", "text": 3}), "text"),
        (lambda: Message(role="user", content=BAD), "content"),
        (lambda: Message(role="robot", content="hi"), "role"),
        (lambda: ChatRequest(model="m", messages=[{"role": "user", "content": BAD}]), "messages.0.content"),
        (lambda: MemoryRecord(tenant_id="acme", user_id="u", kind="long_term", content=BAD), "content"),
        (lambda: Envelope.model_validate_json('{"tenant_id": "acme", "type": "x", "payload": 1}'), "payload"),
    ],
)
def test_value_types_raise_the_sdk_validation_error_naming_the_field(build: Any, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        build()
    refused(caught, field)
    assert caught.value.errors and caught.value.errors[0]["loc"] == field
    assert BAD not in str(caught.value), "the error never echoes the input"


def test_an_sdk_error_raised_by_a_field_validator_comes_out_as_itself() -> None:
    with pytest.raises(InvalidTenant) as caught:
        TenantContext(tenant_id="not a tenant!")
    assert caught.value.field == "tenant_id"


def test_every_error_sits_in_the_error_tree() -> None:
    assert issubclass(MiniLMUnavailable, ConfigurationError)
    error = InvalidToolArguments("arguments are not JSON")
    assert isinstance(error, ValidationError) and isinstance(error, MotadataError)
    assert error.feedback == "arguments are not JSON" and error.field == "arguments"


def gateway() -> Gateway:
    return Gateway(
        llm=FunctionLLM(lambda request: "ok [1]"),
        embeddings=HashEmbeddings(dimensions=64),
        config=GatewayConfig(
            default_model="test-model", default_embedding_model="hash", enable_caching=False, max_retries=0
        ),
    )


async def test_text_entry_points_refuse_lone_surrogates_with_the_field() -> None:
    gw = gateway()
    with pytest.raises(ValidationError) as caught:
        await gw.embed(["fine", BAD], tenant_id="acme")
    refused(caught, "texts.1")

    rag = RAGSystem(
        gateway=gw,
        vector_store=InMemoryVectorStore(dimensions=64),
        documents=InMemoryDocumentStore(),
        tenant="acme",
        config=RAGConfig(similarity_threshold=0.0),
    )
    await rag.ingest(Document(id="d", text="Restart the spooler."))
    for call in (rag.query(BAD), rag.retrieve(BAD)):
        with pytest.raises(ValidationError) as caught:
            await call
        refused(caught, "question")

    memory = MemoryManager(store=InMemoryMemoryStore(), embedder=gw)
    with pytest.raises(ValidationError) as caught:
        await memory.remember("acme", "u1", BAD)
    refused(caught, "content")
    with pytest.raises(ValidationError) as caught:
        await memory.recall("acme", "u1", BAD)
    refused(caught, "query")

    agent = Agent(agent_id="a", name="A", gateway=gw, tenant="acme")
    with pytest.raises(ValidationError) as caught:
        await agent.execute_task(BAD)
    refused(caught, "task")


async def test_a_non_finite_filter_is_refused_before_any_model_call() -> None:
    llm = FunctionLLM(lambda request: "ok [1]")
    embeddings = HashEmbeddings(dimensions=64)
    gw = Gateway(
        llm=llm,
        embeddings=embeddings,
        config=GatewayConfig(default_model="m", default_embedding_model="hash", enable_caching=False),
    )
    rag = RAGSystem(
        gateway=gw,
        vector_store=InMemoryVectorStore(dimensions=64),
        documents=InMemoryDocumentStore(),
        tenant="acme",
    )
    await rag.ingest(Document(id="d", text="Restart the spooler.", metadata={"priority": 1.0}))
    embedded = gw.stats.calls
    for bad in (float("nan"), float("inf")):
        with pytest.raises(ValidationError) as caught:
            await rag.query("spooler", filters={"priority": bad})
        refused(caught, "filters")
    assert llm.calls == [] and gw.stats.calls == embedded

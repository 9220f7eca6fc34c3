"""The LLMPort contract on the local extractive provider, reached through LiteLLM like any model."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from motadata_ai.adapters.litellm import LiteLLMChat
from motadata_ai.adapters.local import LOCAL_CHAT_MODEL, NOT_FOUND
from motadata_ai.domain.values.llm import ChatRequest, Message, ToolSpec
from motadata_ai.domain.values.passages import Passage, format_passages
from motadata_ai.plugins import PluginManager
from motadata_ai.ports.llm import LLMPort, UnknownModel
from motadata_ai.testing.contracts.llm import LLMBasicContract, collect

CONTEXT = format_passages(
    [
        Passage(
            index=1,
            title="Web tier",
            text="The web server listens on port 8080. TLS ends at the load balancer.",
        ),
        Passage(index=2, title="Printers", text="Printers on floor 3 use HP-300 toner."),
    ]
)
SEARCH = ToolSpec(name="knowledge_search", description="Search the knowledge base.", role="knowledge_search")


@pytest.fixture(scope="module")
def local_providers() -> Iterator[PluginManager]:
    """The built-in plugin's providers installed into LiteLLM for this module, removed afterwards."""
    manager = PluginManager(allow=["builtin"]).load()
    manager.install_providers()
    yield manager
    manager.uninstall_providers()


class TestLocalExtractive(LLMBasicContract):
    model = LOCAL_CHAT_MODEL
    prompt = "Context:\n" + CONTEXT + "\nQuestion: Which port does the web server listen on?"

    @pytest.fixture(autouse=True)
    def _providers(self, local_providers: PluginManager) -> None:
        self.providers = local_providers

    async def make_llm(self) -> LLMPort:
        return LiteLLMChat()

    async def test_answers_with_citation_and_label(self) -> None:
        response = await (await self.make_llm()).complete(self.request())
        assert response.text == "The web server listens on port 8080. [1]"
        assert response.model == "local/extractive"
        assert response.provider == "local"
        assert response.cost_usd == 0.0

    async def test_says_when_the_context_lacks_the_answer(self) -> None:
        llm = await self.make_llm()
        response = await llm.complete(self.request("Context:\n" + CONTEXT + "\nQuestion: Who is the CFO?"))
        assert response.text == NOT_FOUND

    async def test_calls_knowledge_search_then_answers_from_its_result(self) -> None:
        llm = await self.make_llm()
        question = Message(role="user", content="Which port does the web server listen on?")
        first = await llm.complete(ChatRequest(model=self.model, messages=(question,), tools=(SEARCH,)))
        assert first.finish_reason == "tool_calls"
        (call,) = first.message.tool_calls
        assert call.name == "knowledge_search"
        assert json.loads(call.arguments) == {"query": "Which port does the web server listen on?"}
        result = Message(role="tool", tool_call_id=call.id, name=call.name, content=CONTEXT)
        second = await llm.complete(
            ChatRequest(model=self.model, messages=(question, first.message, result), tools=(SEARCH,))
        )
        assert second.text == "The web server listens on port 8080. [1]"

    async def test_calls_the_search_tool_by_its_role_under_another_name(self) -> None:
        llm = await self.make_llm()
        question = Message(role="user", content="Which port does the web server listen on?")
        renamed = SEARCH.model_copy(update={"name": "kb_lookup"})
        first = await llm.complete(ChatRequest(model=self.model, messages=(question,), tools=(renamed,)))
        assert [call.name for call in first.message.tool_calls] == ["kb_lookup"]

    async def test_streamed_tool_call(self) -> None:
        llm = await self.make_llm()
        question = Message(role="user", content="Which port does the web server listen on?")
        chunks = await collect(
            llm.stream(ChatRequest(model=self.model, messages=(question,), tools=(SEARCH,)))
        )
        calls = [c for chunk in chunks for c in chunk.tool_calls]
        assert [c.name for c in calls] == ["knowledge_search"]
        assert chunks[-1].finish_reason == "tool_calls"

    async def test_context_window_from_the_registered_model_info(self) -> None:
        llm = await self.make_llm()
        assert llm.context_window(self.model) == 32768

    async def test_unknown_local_model(self) -> None:
        llm = await self.make_llm()
        with pytest.raises(UnknownModel) as caught:
            await llm.complete(self.request().model_copy(update={"model": "local/gpt-5"}))
        assert "local/extractive" in str(caught.value)


class TestLocalExtractiveDirect(TestLocalExtractive):
    """The same contract on :class:`LocalChat`, the in-process adapter the container routes
    ``local/...`` models to (no LiteLLM)."""

    async def make_llm(self) -> LLMPort:
        from motadata_ai.adapters.local.chat import LocalChat

        return LocalChat()

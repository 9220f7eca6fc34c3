"""LocalChat: the LLM port on the local extractive generator, in process, without LiteLLM.

``model="local/extractive"`` answers from the context passages of the request (with ``[n]``
citations) or calls the tool of role ``knowledge_search`` (``ToolSpec.role``) when one is offered
and no result is there yet. Token counts are the ones the LiteLLM custom provider reports
(:mod:`.providers`): four a message plus its words for the prompt, the answer's words for the
completion.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from motadata_ai.adapters.local._served import LOCAL_PROVIDER, check_served
from motadata_ai.adapters.local.extractive import (
    EXTRACTIVE_MODEL,
    TOOL_ROLE_KEY,
    ExtractiveGenerator,
    ExtractiveReply,
)
from motadata_ai.adapters.openai_wire import message_to_openai
from motadata_ai.domain.values.health import ComponentHealth
from motadata_ai.domain.values.llm import (
    EXTRACTIVE_CAPABILITIES,
    ChatRequest,
    ChatResponse,
    Message,
    ModelCapabilities,
    StreamChunk,
    ToolCall,
    Usage,
)
from motadata_ai.ports.llm import LLMPort

__all__ = ["LOCAL_CHAT_CONTEXT_WINDOW", "LocalChat", "completion_tokens", "prompt_tokens"]

LOCAL_CHAT_CONTEXT_WINDOW = 32768


def _words(text: str) -> int:
    return len(text.split())


def prompt_tokens(messages: Sequence[Mapping[str, Any]]) -> int:
    """What a prompt costs on the local model: four tokens a message plus its words."""
    total = 0
    for message in messages:
        content = message.get("content")
        total += 4 + (_words(content) if isinstance(content, str) else 0)
    return total


def completion_tokens(reply: ExtractiveReply) -> int:
    """What a reply costs: its words (a tool call: its arguments' words plus one)."""
    if reply.tool_call is not None:
        return _words(reply.tool_call[1]) + 1
    return max(1, _words(reply.text or ""))


class LocalChat(LLMPort):
    """``local/extractive`` as an :class:`LLMPort`: deterministic, free, offline.

    ``generator``: the engine (default :class:`ExtractiveGenerator` with its defaults). The model
    is named ``local/extractive`` (or ``extractive``); any other name is :class:`UnknownModel`.
    """

    supports_streaming = True
    supports_tools = True

    def __init__(self, generator: ExtractiveGenerator | None = None) -> None:
        self.generator = generator or ExtractiveGenerator()

    def __repr__(self) -> str:
        return "LocalChat(model='local/extractive')"

    def models(self) -> list[str]:
        """The model names this adapter serves."""
        return [f"{LOCAL_PROVIDER}/{EXTRACTIVE_MODEL}"]

    def _check(self, model: str) -> None:
        check_served(model, served=EXTRACTIVE_MODEL, kind="chat")

    def _reply(self, request: ChatRequest) -> tuple[ExtractiveReply, list[dict[str, Any]]]:
        self._check(request.model)
        messages = [message_to_openai(m) for m in request.messages]
        tools = [
            {"type": "function", "function": {"name": t.name}, TOOL_ROLE_KEY: t.role} for t in request.tools
        ]
        return self.generator.respond(messages, tools), messages

    async def complete(self, request: ChatRequest, *, timeout: float | None = None) -> ChatResponse:
        """Answer (or ask for the knowledge-search tool) from the request's messages."""
        started = time.perf_counter()
        reply, messages = self._reply(request)
        calls: tuple[ToolCall, ...] = ()
        if reply.tool_call is not None:
            name, arguments = reply.tool_call
            calls = (ToolCall(id=f"call_{uuid.uuid4().hex[:12]}", name=name, arguments=arguments),)
        return ChatResponse(
            id=f"chatcmpl-{uuid.uuid4().hex}",
            model=f"{LOCAL_PROVIDER}/{EXTRACTIVE_MODEL}",
            provider=LOCAL_PROVIDER,
            message=Message(
                role="assistant", content=None if calls else (reply.text or ""), tool_calls=calls
            ),
            finish_reason="tool_calls" if calls else "stop",
            usage=Usage(input_tokens=prompt_tokens(messages), output_tokens=completion_tokens(reply)),
            cost_usd=0.0,
            latency_ms=(time.perf_counter() - started) * 1000.0,
        )

    async def stream(
        self, request: ChatRequest, *, timeout: float | None = None
    ) -> AsyncIterator[StreamChunk]:
        """The answer word by word; the last chunk carries the tool call, finish reason and usage."""
        reply, messages = self._reply(request)
        usage = Usage(input_tokens=prompt_tokens(messages), output_tokens=completion_tokens(reply))
        if reply.tool_call is not None:
            name, arguments = reply.tool_call
            call = ToolCall(id=f"call_{uuid.uuid4().hex[:12]}", name=name, arguments=arguments)
            yield StreamChunk(tool_calls=(call,), finish_reason="tool_calls", usage=usage)
            return
        words = (reply.text or "").split(" ")
        for position, word in enumerate(words):
            yield StreamChunk(delta=word if position == 0 else " " + word)
        yield StreamChunk(finish_reason="stop", usage=usage)

    def capabilities(self, model: str) -> ModelCapabilities:
        """Extractive, not generative: it quotes the prompt's passages (and calls the search
        tool when one is offered); it streams."""
        return EXTRACTIVE_CAPABILITIES

    def context_window(self, model: str) -> int | None:
        """32,768 tokens for ``local/extractive``."""
        return LOCAL_CHAT_CONTEXT_WINDOW

    def count_tokens(self, model: str, text: str) -> int:
        """Tokens as the local model counts them: words."""
        return _words(text)

    def cost_usd(self, model: str, input_tokens: int, output_tokens: int) -> float:
        """Always 0: the local model is free."""
        return 0.0

    async def health(self) -> ComponentHealth:
        """``ok``: the extractive engine runs in process and needs no weights."""
        return ComponentHealth(
            status="ok", details={"probe": "in-process", "model": f"{LOCAL_PROVIDER}/{EXTRACTIVE_MODEL}"}
        )

    def warm_up(self) -> None:
        """Run one tiny answer, so the first real one finds every lazy part built (blocking)."""
        self.generator.respond([{"role": "user", "content": "Question: is the engine warm?"}], [])

"""Value types of chat completion and embeddings, shared by the LLM and embedding ports."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field

from motadata_ai.domain.values.base import ValueModel

Role = Literal["system", "user", "assistant", "tool"]

ToolRole = Literal["knowledge_search"]
"""What a tool is for, declared by the tool (:attr:`ToolSpec.role`), so a model that picks tools by
purpose rather than by name (the local extractive model calls the ``knowledge_search`` one)
finds it under any name."""

KNOWLEDGE_SEARCH_ROLE: ToolRole = "knowledge_search"
"""The role of a tool that searches the tenant's knowledge base with ``{"query": <text>}``."""


class ToolCall(ValueModel):
    """A call the model asks for: tool name and JSON-encoded arguments."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    arguments: str = "{}"


class Message(ValueModel):
    """One chat message in the OpenAI shape."""

    model_config = ConfigDict(frozen=True)

    role: Role
    content: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    name: str | None = None


class ToolSpec(ValueModel):
    """A tool offered to the model: name, description, JSON schema of its arguments and its role."""

    model_config = ConfigDict(frozen=True)

    name: str
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})
    role: ToolRole | None = Field(None, description="What the tool is for (see ToolRole); None: unstated")


class ChatRequest(ValueModel):
    """Everything that decides a completion's output (and so its cache key)."""

    model_config = ConfigDict(frozen=True)

    model: str
    messages: tuple[Message, ...]
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: str | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    stop: tuple[str, ...] = ()
    seed: int | None = None
    response_format: dict[str, Any] | None = None
    extra: dict[str, Any] = Field(default_factory=dict)


class Usage(ValueModel):
    """Token counts of one call."""

    model_config = ConfigDict(frozen=True)

    input_tokens: int = 0
    output_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        """Input plus output tokens."""
        return self.input_tokens + self.output_tokens


class ChatResponse(ValueModel):
    """A finished completion."""

    model_config = ConfigDict(frozen=True)

    id: str
    model: str
    provider: str = ""
    message: Message
    finish_reason: str | None = None
    usage: Usage = Field(default_factory=Usage)
    cost_usd: float = 0.0
    cached: bool = False
    latency_ms: float = 0.0

    @property
    def text(self) -> str:
        """The assistant's text ('' when it only called tools)."""
        return self.message.content or ""


class StreamChunk(ValueModel):
    """One piece of a streamed completion; the last carries ``finish_reason`` and usage."""

    model_config = ConfigDict(frozen=True)

    delta: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    finish_reason: str | None = None
    usage: Usage | None = None


class EmbeddingRequest(ValueModel):
    """Texts to embed with one model."""

    model_config = ConfigDict(frozen=True)

    model: str
    inputs: tuple[str, ...]


class EmbeddingResponse(ValueModel):
    """One vector per input, in input order."""

    model_config = ConfigDict(frozen=True)

    model: str
    vectors: tuple[tuple[float, ...], ...]
    usage: Usage = Field(default_factory=Usage)
    cost_usd: float = 0.0
    cached: bool = False


class ModelCapabilities(ValueModel):
    """What a chat model can do, as its LLM port advertises it (``LLMPort.capabilities``).

    The use-cases choose their strategy from this, never from the model's name: a
    ``generative`` model writes free text (it gets LLM query rewriting, re-ranking and request
    classification), an ``extractive`` one only quotes the prompt's passages (it gets the
    deterministic rewriter and re-ranker); ``tool_calling`` and ``streaming`` say whether tool
    calls and streamed answers are served.
    """

    model_config = ConfigDict(frozen=True)

    generative: bool = True
    extractive: bool = False
    tool_calling: bool = True
    streaming: bool = True


EXTRACTIVE_CAPABILITIES = ModelCapabilities(generative=False, extractive=True)
"""What an extractive model (the embedded ``local/extractive``) advertises."""

"""Value types of chat completion and embeddings, shared by the LLM and embedding ports."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from motadata_ai.domain.values.base import ValueModel

if TYPE_CHECKING:
    from motadata_ai.domain.values.messages import MessageParam

Role = Literal["system", "user", "assistant", "tool"]

ToolRole = Literal["knowledge_search"]
"""What a tool is for, declared by the tool (:attr:`ToolSpec.role`), so a model that picks tools by
purpose rather than by name (the local extractive model calls the ``knowledge_search`` one)
finds it under any name."""

KNOWLEDGE_SEARCH_ROLE: ToolRole = "knowledge_search"
"""The role of a tool that searches the tenant's knowledge base with ``{"query": <text>}``."""
_OPENAI_KEYS_WITHOUT_MEANING_HERE = frozenset({"refusal", "audio", "annotations", "function_call"})
"""Keys of OpenAI's message objects that carry nothing this SDK sends (dropped, not refused)."""

SchemaT = TypeVar("SchemaT", bound=BaseModel)


class ToolCall(ValueModel):
    """A call the model asks for: tool name and JSON-encoded arguments."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    arguments: str = "{}"


class Message(ValueModel):
    """One chat message in the OpenAI shape.

    OpenAI-style dicts are accepted where a message is expected (``ChatRequest(messages=[{"role":
    "user", "content": "Hi"}])``): ``content`` as a list of text parts, ``tool_calls`` as
    ``{"id", "type": "function", "function": {"name", "arguments"}}``. A key a message does not
    have, a role that does not exist or a part that is not text is refused with the SDK's
    ``ValidationError`` naming it.
    """

    model_config = ConfigDict(frozen=True)

    role: Role
    content: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    name: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_openai(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        unknown = sorted(set(data) - set(cls.model_fields) - _OPENAI_KEYS_WITHOUT_MEANING_HERE)
        if unknown:
            raise ValueError(f"unknown message keys {unknown} (keys: {', '.join(cls.model_fields)})")
        message = {key: value for key, value in data.items() if key in cls.model_fields}
        if isinstance(message.get("content"), list | tuple):
            message["content"] = _text_of_parts(message["content"])
        if isinstance(message.get("tool_calls"), list | tuple):
            message["tool_calls"] = [_tool_call_of(call) for call in message["tool_calls"]]
        return message


def _text_of_parts(parts: Any) -> str:
    texts = []
    for part in parts:
        is_text = isinstance(part, Mapping) and part.get("type") == "text"
        if not is_text or not isinstance(part.get("text"), str):
            kind = part.get("type") if isinstance(part, Mapping) else type(part).__name__
            raise ValueError(
                f"content parts must be text parts ({{'type': 'text', 'text': ...}}), not {kind!r}"
            )
        texts.append(part["text"])
    return "\n".join(texts)


def _tool_call_of(call: Any) -> Any:
    """OpenAI's ``{"id", "type": "function", "function": {"name", "arguments"}}`` as a ToolCall's fields."""
    if not isinstance(call, Mapping) or "function" not in call:
        return call
    function = call["function"]
    if not isinstance(function, Mapping):
        raise ValueError("a tool call's 'function' must be an object with 'name' and 'arguments'")
    arguments = function.get("arguments", "{}")
    if not isinstance(arguments, str):
        arguments = json.dumps(arguments)
    return {"id": call.get("id"), "name": function.get("name"), "arguments": arguments}


class ToolSpec(ValueModel):
    """A tool offered to the model: name, description, JSON schema of its arguments and its role."""

    model_config = ConfigDict(frozen=True)

    name: str
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})
    role: ToolRole | None = Field(None, description="What the tool is for (see ToolRole); None: unstated")


class ChatRequest(ValueModel):
    """Everything that decides a completion's output (and so its cache key).

    ``messages`` takes :class:`Message` objects or OpenAI-style dicts
    (:data:`~motadata_ai.domain.values.messages.MessageParam`, typed per role for type checkers).
    """

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

    if TYPE_CHECKING:
        # What a type checker sees: messages as Message objects or OpenAI-style dicts (typed by
        # role, so a wrong role or key is reported); pydantic validates the same at run time.
        def __init__(
            self,
            *,
            model: str,
            messages: Sequence[Message | MessageParam],
            tools: Sequence[ToolSpec] = (),
            tool_choice: str | None = None,
            temperature: float | None = None,
            top_p: float | None = None,
            max_tokens: int | None = None,
            stop: Sequence[str] = (),
            seed: int | None = None,
            response_format: dict[str, Any] | None = None,
            extra: dict[str, Any] = {},  # noqa: B006 - a signature for type checkers, never run
        ) -> None: ...


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
    """A finished completion.

    ``parsed`` is the answer as an instance of the pydantic model given as ``response_schema``
    (validated by the output guardrails); ``None`` for any other call (a JSON schema given as a
    dict included: :meth:`parse` or ``json.loads(response.text)`` read those).
    """

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
    parsed: Any = Field(None, exclude=True, repr=False)

    @property
    def text(self) -> str:
        """The assistant's text ('' when it only called tools)."""
        return self.message.content or ""

    def parse(self, schema: type[SchemaT]) -> SchemaT:
        """The text as an instance of the pydantic model ``schema`` (the one given as
        ``response_schema``; the SDK's ``ValidationError`` when the text is not one)."""
        from motadata_ai.domain.values.base import translate_validation_error

        try:
            return schema.model_validate_json(self.text)
        except ValueError as error:
            import pydantic

            if isinstance(error, pydantic.ValidationError):
                raise translate_validation_error(error, schema.__name__) from error
            raise


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

"""The OpenAI wire format of ``/v1``: request and response models, and the one conversion each way.

Requests become the gateway's :class:`~motadata_ai.domain.values.llm.ChatRequest`; answers are
written with :func:`~motadata_ai.adapters.openai_wire.message_to_openai`, the same conversion the
LiteLLM adapter uses towards providers.
"""

from __future__ import annotations

import time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from motadata_ai.adapters.openai_wire import message_to_openai
from motadata_ai.domain.values.errors import ValidationError
from motadata_ai.domain.values.llm import (
    ChatRequest,
    ChatResponse,
    Message,
    StreamChunk,
    ToolCall,
    ToolSpec,
    Usage,
)

__all__ = [
    "ChatCompletion",
    "ChatCompletionRequest",
    "EmbeddingsRequest",
    "EmbeddingsResponse",
    "ModelList",
    "chunk_payload",
    "completion_payload",
    "to_chat_request",
]

# Fields of the OpenAI request the gateway passes on to the provider as they are.
_PASSED_ON = (
    "presence_penalty",
    "frequency_penalty",
    "logit_bias",
    "logprobs",
    "top_logprobs",
    "parallel_tool_calls",
)


class FunctionCall(BaseModel):
    """The function a tool call names, with JSON-encoded arguments."""

    name: str
    arguments: str = "{}"


class ToolCallIn(BaseModel):
    """A tool call of an earlier assistant message."""

    id: str
    type: Literal["function"] = "function"
    function: FunctionCall


class ContentPart(BaseModel):
    """One part of a message's content; only ``text`` parts are served."""

    model_config = ConfigDict(extra="allow")

    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    """One message of the conversation (``system``/``developer``, ``user``, ``assistant``, ``tool``)."""

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[ContentPart] | None = None
    name: str | None = None
    tool_calls: list[ToolCallIn] | None = None
    tool_call_id: str | None = None


class FunctionSpec(BaseModel):
    """A function the model may call: name, description and JSON schema of its parameters."""

    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})


class Tool(BaseModel):
    """A tool offered to the model."""

    type: Literal["function"] = "function"
    function: FunctionSpec


class StreamOptions(BaseModel):
    """``include_usage``: send a last chunk with the token usage."""

    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    """``POST /v1/chat/completions``, as the OpenAI API takes it (``n`` must be 1)."""

    model_config = ConfigDict(extra="ignore")

    model: str | None = Field(None, description="Model name; the gateway's default model when omitted")
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    tools: list[Tool] | None = None
    tool_choice: str | dict[str, Any] | None = None
    response_format: dict[str, Any] | None = None
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, ge=0, le=1)
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    stop: str | list[str] | None = None
    seed: int | None = None
    n: int = Field(1, ge=1, le=1, description="Only one choice is served")
    user: str | None = Field(None, description="The end user (ignored when the API key names one)")
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    logit_bias: dict[str, float] | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = None
    parallel_tool_calls: bool | None = None


def _content(message: ChatMessage, index: int) -> str | None:
    if message.content is None or isinstance(message.content, str):
        return message.content
    texts = []
    for part in message.content:
        if part.type != "text" or part.text is None:
            raise ValidationError(
                f"messages.{index}.content: only text parts are served, got {part.type!r}",
                field=f"messages.{index}.content",
            )
        texts.append(part.text)
    return "".join(texts)


def _message(message: ChatMessage, index: int) -> Message:
    role = "system" if message.role == "developer" else message.role
    calls = tuple(
        ToolCall(id=c.id, name=c.function.name, arguments=c.function.arguments)
        for c in message.tool_calls or ()
    )
    return Message(
        role=role,
        content=_content(message, index),
        tool_calls=calls,
        tool_call_id=message.tool_call_id,
        name=message.name,
    )


def to_chat_request(body: ChatCompletionRequest, *, default_model: str) -> ChatRequest:
    """The gateway request for an OpenAI body."""
    extra: dict[str, Any] = {
        name: getattr(body, name) for name in _PASSED_ON if getattr(body, name) is not None
    }
    tool_choice: str | None = None
    if isinstance(body.tool_choice, dict):
        extra["tool_choice"] = body.tool_choice
    else:
        tool_choice = body.tool_choice
    stop = (body.stop,) if isinstance(body.stop, str) else tuple(body.stop or ())
    return ChatRequest(
        model=body.model or default_model,
        messages=tuple(_message(m, i) for i, m in enumerate(body.messages)),
        tools=tuple(
            ToolSpec(
                name=t.function.name, description=t.function.description, parameters=t.function.parameters
            )
            for t in body.tools or ()
        ),
        tool_choice=tool_choice,
        temperature=body.temperature,
        top_p=body.top_p,
        max_tokens=body.max_completion_tokens or body.max_tokens,
        stop=stop,
        seed=body.seed,
        response_format=body.response_format,
        extra=extra,
    )


class UsageOut(BaseModel):
    """Token counts of the call."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class AssistantMessage(BaseModel):
    """The answer."""

    model_config = ConfigDict(extra="allow")

    role: Literal["assistant"] = "assistant"
    content: str | None = None
    tool_calls: list[ToolCallIn] | None = None


class Choice(BaseModel):
    """The one choice of a completion."""

    index: int = 0
    message: AssistantMessage
    finish_reason: str | None = None
    logprobs: dict[str, Any] | None = None


class ChatCompletion(BaseModel):
    """A ``chat.completion`` object."""

    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: UsageOut
    system_fingerprint: str | None = None


def _usage(usage: Usage) -> dict[str, int]:
    return {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.total_tokens,
    }


def completion_payload(response: ChatResponse) -> dict[str, Any]:
    """The ``chat.completion`` JSON of a gateway answer."""
    message = message_to_openai(response.message)
    message.pop("tool_call_id", None)
    message.pop("name", None)
    return {
        "id": response.id if response.id.startswith("chatcmpl") else f"chatcmpl-{response.id}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": response.model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": response.finish_reason or "stop",
                "logprobs": None,
            }
        ],
        "usage": _usage(response.usage),
        "system_fingerprint": None,
    }


def chunk_payload(
    completion_id: str,
    model: str,
    created: int,
    *,
    delta: dict[str, Any] | None = None,
    finish_reason: str | None = None,
    usage: Usage | None = None,
) -> dict[str, Any]:
    """One ``chat.completion.chunk`` (``usage`` alone: the usage chunk, with no choices)."""
    payload: dict[str, Any] = {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "system_fingerprint": None,
        "choices": [],
    }
    if usage is not None and delta is None:
        payload["usage"] = _usage(usage)
        return payload
    payload["choices"] = [
        {"index": 0, "delta": delta or {}, "logprobs": None, "finish_reason": finish_reason}
    ]
    return payload


def chunk_delta(chunk: StreamChunk, first_tool_index: int) -> dict[str, Any]:
    """The ``delta`` of a stream chunk (text and whole tool calls, indexed from ``first_tool_index``)."""
    delta: dict[str, Any] = {}
    if chunk.delta:
        delta["content"] = chunk.delta
    if chunk.tool_calls:
        delta["tool_calls"] = [
            {
                "index": first_tool_index + number,
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments},
            }
            for number, call in enumerate(chunk.tool_calls)
        ]
    return delta


class EmbeddingsRequest(BaseModel):
    """``POST /v1/embeddings``: one text or a list (token arrays are not served)."""

    model_config = ConfigDict(extra="ignore")

    model: str | None = Field(None, description="Embedding model; the gateway's default when omitted")
    input: str | list[str] = Field(description="A text or a list of texts")
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(None, ge=1)
    user: str | None = None


class EmbeddingItem(BaseModel):
    """One vector."""

    object: Literal["embedding"] = "embedding"
    index: int
    embedding: list[float] | str


class EmbeddingUsage(BaseModel):
    """Tokens embedded."""

    prompt_tokens: int
    total_tokens: int


class EmbeddingsResponse(BaseModel):
    """A ``list`` of embeddings, in input order."""

    object: Literal["list"] = "list"
    data: list[EmbeddingItem]
    model: str
    usage: EmbeddingUsage


class ModelCard(BaseModel):
    """One model the caller may use."""

    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str


class ModelList(BaseModel):
    """``GET /v1/models``."""

    object: Literal["list"] = "list"
    data: list[ModelCard]

"""OpenAI-style message dicts, typed: what ``ChatRequest(messages=[...])`` accepts besides
:class:`~motadata_ai.domain.values.llm.Message`, so a type checker reports a wrong role or key.

The shapes follow the OpenAI Python client's ``ChatCompletionMessageParam`` (one ``TypedDict``
per role); at run time :class:`~motadata_ai.domain.values.llm.Message` validates the same dicts
and refuses what these types refuse with the SDK's ``ValidationError``.
"""

from __future__ import annotations

from typing import Literal, NotRequired, TypeAlias, TypedDict

__all__ = [
    "AssistantMessageParam",
    "FunctionCallParam",
    "MessageParam",
    "SystemMessageParam",
    "TextPartParam",
    "ToolCallParam",
    "ToolMessageParam",
    "UserMessageParam",
]


class TextPartParam(TypedDict):
    """One text part of a message's content."""

    type: Literal["text"]
    text: str


class FunctionCallParam(TypedDict):
    """The function a tool call names, with its JSON-encoded arguments."""

    name: str
    arguments: str


class ToolCallParam(TypedDict):
    """A tool call of an assistant message."""

    id: str
    type: Literal["function"]
    function: FunctionCallParam


class SystemMessageParam(TypedDict):
    """``{"role": "system", "content": ...}``."""

    role: Literal["system"]
    content: str | list[TextPartParam]
    name: NotRequired[str]


class UserMessageParam(TypedDict):
    """``{"role": "user", "content": ...}``."""

    role: Literal["user"]
    content: str | list[TextPartParam]
    name: NotRequired[str]


class AssistantMessageParam(TypedDict):
    """``{"role": "assistant", "content": ..., "tool_calls": [...]}`` (an earlier answer)."""

    role: Literal["assistant"]
    content: NotRequired[str | list[TextPartParam] | None]
    tool_calls: NotRequired[list[ToolCallParam]]
    name: NotRequired[str]
    refusal: NotRequired[str | None]


class ToolMessageParam(TypedDict):
    """``{"role": "tool", "tool_call_id": ..., "content": ...}``: a tool's result."""

    role: Literal["tool"]
    content: str | list[TextPartParam]
    tool_call_id: str


MessageParam: TypeAlias = SystemMessageParam | UserMessageParam | AssistantMessageParam | ToolMessageParam
"""An OpenAI-style message dict of any role."""

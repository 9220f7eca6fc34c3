"""Port messages as OpenAI-protocol dicts: the wire shape LiteLLM and the local answerer both read."""

from __future__ import annotations

from typing import Any

from motadata_ai.domain.values.llm import Message

__all__ = ["message_to_openai"]


def message_to_openai(message: Message) -> dict[str, Any]:
    """A port message as the OpenAI wire dict."""
    out: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.tool_calls:
        out["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in message.tool_calls
        ]
    if message.tool_call_id is not None:
        out["tool_call_id"] = message.tool_call_id
    if message.name is not None:
        out["name"] = message.name
    return out

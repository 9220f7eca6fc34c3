"""Model doubles for tests (no network): a scripted model and a model that exercises every tool.

* :class:`FunctionLLM` (like pydantic-ai's ``FunctionModel``) answers with a Python function;
  :func:`scripted` replays a list of replies; :func:`tool_call` builds a reply that calls tools.
* :class:`ToolExercisingLLM` (like pydantic-ai's ``TestModel``) calls every offered tool once with
  arguments generated from its JSON schema, then answers with a JSON summary of the results.

Example::

    llm = FunctionLLM(scripted([tool_call("lookup", {"ticket": "INC-1"}), "The ticket is open."]))
    gateway = Gateway(llm=llm, embeddings=HashEmbeddings(), default_model="test", ...)
"""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from motadata_ai.adapters.memory.llm import FunctionLLM, Responder, scripted
from motadata_ai.domain.values.llm import (
    ChatRequest,
    ChatResponse,
    Message,
    StreamChunk,
    ToolCall,
    ToolSpec,
    Usage,
)
from motadata_ai.ports.llm import LLMPort

__all__ = ["FunctionLLM", "Responder", "ToolExercisingLLM", "example_arguments", "scripted", "tool_call"]

_call_ids = itertools.count(1)


def tool_call(
    name_or_calls: str | Sequence[tuple[str, Mapping[str, Any] | str]],
    arguments: Mapping[str, Any] | str | None = None,
    *,
    content: str | None = None,
) -> Message:
    """An assistant message calling one tool (``tool_call("f", {"x": 1})``) or several
    (``tool_call([("f", {...}), ("g", {...})])``). String arguments are sent verbatim."""
    pairs = [(name_or_calls, arguments or {})] if isinstance(name_or_calls, str) else list(name_or_calls)
    calls = tuple(
        ToolCall(
            id=f"call_{next(_call_ids)}",
            name=name,
            arguments=args if isinstance(args, str) else json.dumps(dict(args)),
        )
        for name, args in pairs
    )
    return Message(role="assistant", content=content, tool_calls=calls)


def _resolve(schema: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any]:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        node: Any = root
        for part in ref[2:].split("/"):
            node = node.get(part, {}) if isinstance(node, Mapping) else {}
        return node if isinstance(node, Mapping) else {}
    return schema


def _example(schema: Mapping[str, Any], root: Mapping[str, Any], depth: int = 0) -> Any:
    schema = _resolve(schema, root)
    if depth > 8:
        return None
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    if "default" in schema:
        return schema["default"]
    for key in ("anyOf", "oneOf", "allOf"):
        options = [o for o in schema.get(key, []) if _resolve(o, root).get("type") != "null"]
        if options:
            return _example(options[0], root, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "string":
        return "a" * max(1, int(schema.get("minLength", 1)))
    if kind == "integer":
        return int(schema.get("minimum", schema.get("exclusiveMinimum", -1) + 1))
    if kind == "number":
        return float(schema.get("minimum", 0.0))
    if kind == "boolean":
        return False
    if kind == "array":
        items = schema.get("items", {})
        return [_example(items, root, depth + 1) for _ in range(int(schema.get("minItems", 0)))]
    if kind == "object" or "properties" in schema:
        return example_arguments(schema, root, depth + 1)
    if kind == "null":
        return None
    return "a"


def example_arguments(
    schema: Mapping[str, Any], root: Mapping[str, Any] | None = None, depth: int = 0
) -> dict[str, Any]:
    """Arguments valid for a JSON object schema: every required property with an example value."""
    root = root or schema
    properties = schema.get("properties", {})
    required = schema.get("required", [])
    return {name: _example(properties[name], root, depth) for name in required if name in properties}


class ToolExercisingLLM(LLMPort):
    """Calls every offered tool (or those named in ``call_tools``) once, then answers.

    The answer is ``answer`` when given, else a JSON object of each tool's result. ``calls``
    records every request.
    """

    def __init__(self, *, call_tools: Sequence[str] | None = None, answer: str | None = None) -> None:
        self.call_tools = None if call_tools is None else set(call_tools)
        self.answer = answer
        self.calls: list[ChatRequest] = []
        self._ids = itertools.count(1)

    def _chosen(self, tools: Sequence[ToolSpec]) -> list[ToolSpec]:
        return [t for t in tools if self.call_tools is None or t.name in self.call_tools]

    async def complete(self, request: ChatRequest, *, timeout: float | None = None) -> ChatResponse:
        """Call the tools on the first turn, answer once tool results are present."""
        self.calls.append(request)
        results = [m for m in request.messages if m.role == "tool"]
        chosen = self._chosen(request.tools)
        if chosen and not results:
            message = Message(
                role="assistant",
                tool_calls=tuple(
                    ToolCall(
                        id=f"test_{next(self._ids)}",
                        name=t.name,
                        arguments=json.dumps(example_arguments(t.parameters)),
                    )
                    for t in chosen
                ),
            )
        else:
            text = self.answer
            if text is None:
                text = (
                    json.dumps({m.name or "tool": m.content for m in results})
                    if results
                    else "success (no tool calls)"
                )
            message = Message(role="assistant", content=text)
        prompt = " ".join(m.content or "" for m in request.messages)
        return ChatResponse(
            id=f"test-{next(self._ids)}",
            model=request.model,
            provider="test",
            message=message,
            finish_reason="tool_calls" if message.tool_calls else "stop",
            usage=Usage(
                input_tokens=self.count_tokens(request.model, prompt),
                output_tokens=self.count_tokens(request.model, message.content or ""),
            ),
        )

    async def stream(
        self, request: ChatRequest, *, timeout: float | None = None
    ) -> AsyncIterator[StreamChunk]:
        """One chunk with the whole response."""
        response = await self.complete(request, timeout=timeout)
        yield StreamChunk(
            delta=response.text,
            tool_calls=response.message.tool_calls,
            finish_reason=response.finish_reason,
            usage=response.usage,
        )

"""Tools from plain functions: JSON schema from type hints and docstrings (Google, NumPy or Sphinx
style, read by :mod:`~motadata_ai.domain.agents.docstrings`), arguments validated with pydantic,
results rendered as text for the model.

A parameter annotated with :class:`ToolContext` is not part of the schema: the agent passes the
run's context there (tenant, user, task id, the shared budget), like pydantic-ai's ``RunContext``.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, get_type_hints, overload

import pydantic
import pydantic_core
from pydantic import BaseModel, ConfigDict

from motadata_ai.domain.agents.budget import Budget
from motadata_ai.domain.agents.docstrings import parse_docstring as parse_docstring  # re-exported
from motadata_ai.domain.values.agents import ToolDefinitionError
from motadata_ai.domain.values.errors import ValidationError
from motadata_ai.domain.values.llm import ToolRole, ToolSpec

_TOOL_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")  # matched whole (fullmatch)


@dataclass
class ToolContext:
    """What a tool may know about the run that called it."""

    tenant_id: str
    agent_id: str
    task_id: str
    user_id: str | None = None
    conversation_id: str | None = None
    budget: Budget | None = None
    delegated_input_tokens: int = 0
    delegated_output_tokens: int = 0
    delegated_cost_usd: float = 0.0
    deps: Any = None

    def record_delegated_usage(self, *, input_tokens: int, output_tokens: int, cost_usd: float) -> None:
        """Count a sub-task's usage into this task's totals (the budget is charged by the sub-task)."""
        self.delegated_input_tokens += input_tokens
        self.delegated_output_tokens += output_tokens
        self.delegated_cost_usd += cost_usd


class InvalidToolArguments(ValidationError):
    """The model's arguments failed to parse or validate; ``feedback`` is what the model is told."""

    feedback: str

    def __init__(self, feedback: str, **fields: Any) -> None:
        super().__init__(feedback, **{"field": "arguments", **fields, "feedback": feedback})


def render_result(value: Any) -> str:
    """The text the model sees for a tool's return value (strings as is, the rest as JSON)."""
    if isinstance(value, str):
        return value
    if isinstance(value, BaseModel):
        return value.model_dump_json()
    try:
        return pydantic_core.to_json(value).decode()
    except pydantic_core.PydanticSerializationError:
        return str(value)


def _strip_titles(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: _strip_titles(v) for k, v in schema.items() if k != "title" or not isinstance(v, str)}
    if isinstance(schema, list):
        return [_strip_titles(v) for v in schema]
    return schema


def _format_errors(error: pydantic.ValidationError) -> str:
    parts = []
    for err in error.errors(include_url=False):
        location = ".".join(str(p) for p in err["loc"]) or "<arguments>"
        parts.append(f"- {location}: {err['msg']}")
    return "\n".join(parts)


@dataclass
class Tool:
    """A function the model may call, with its schema and its policies."""

    name: str
    description: str
    function: Callable[..., Any]
    parameters: dict[str, Any]
    args_model: type[BaseModel]
    context_parameter: str | None = None
    requires_approval: bool = False
    timeout: float | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    role: ToolRole | None = None

    @classmethod
    def from_function(
        cls,
        function: ToolLike,
        *,
        name: str | None = None,
        description: str | None = None,
        requires_approval: bool = False,
        timeout: float | None = None,
        role: ToolRole | None = None,
    ) -> Tool:
        """Build a tool from ``function``'s signature, type hints and docstring; ``role`` declares
        what it is for (:data:`~motadata_ai.domain.values.llm.ToolRole`)."""
        if isinstance(function, Tool):
            return function
        if not callable(function):
            raise ToolDefinitionError(f"{function!r} is not callable", tool=repr(function))
        tool_name: str = name or str(getattr(function, "__name__", ""))
        if not _TOOL_NAME.fullmatch(tool_name):
            raise ToolDefinitionError(
                f"tool name {tool_name!r} must be 1-64 characters of [A-Za-z0-9_-]", tool=tool_name
            )
        if timeout is not None and timeout <= 0:
            raise ToolDefinitionError(f"tool {tool_name!r}: timeout must be positive", tool=tool_name)
        try:
            signature = inspect.signature(function)
            hints = get_type_hints(function)
        except (TypeError, ValueError, NameError) as e:
            raise ToolDefinitionError(
                f"tool {tool_name!r}: cannot read its signature: {e}", tool=tool_name
            ) from e
        summary, param_docs = parse_docstring(inspect.getdoc(function))
        fields: dict[str, Any] = {}
        context_parameter: str | None = None
        for parameter in signature.parameters.values():
            if parameter.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
                raise ToolDefinitionError(
                    f"tool {tool_name!r}: *args/**kwargs cannot be described to a model", tool=tool_name
                )
            annotation = hints.get(parameter.name, Any)
            if annotation is ToolContext:
                context_parameter = parameter.name
                continue
            default = ... if parameter.default is inspect.Parameter.empty else parameter.default
            fields[parameter.name] = (
                annotation,
                pydantic.Field(default, description=param_docs.get(parameter.name) or None),
            )
        try:
            args_model = pydantic.create_model(
                f"{tool_name}_arguments", __config__=ConfigDict(extra="forbid"), **fields
            )
            schema = _strip_titles(args_model.model_json_schema())
        except (pydantic.PydanticSchemaGenerationError, pydantic.PydanticUserError, TypeError) as e:
            raise ToolDefinitionError(
                f"tool {tool_name!r}: its parameter types cannot be described as JSON schema: {e}",
                tool=tool_name,
            ) from e
        schema.setdefault("properties", {})
        return cls(
            name=tool_name,
            description=description if description is not None else summary,
            function=function,
            parameters=schema,
            args_model=args_model,
            context_parameter=context_parameter,
            requires_approval=requires_approval,
            timeout=timeout,
            role=role,
        )

    def spec(self) -> ToolSpec:
        """The tool as offered to the model."""
        return ToolSpec(
            name=self.name, description=self.description, parameters=self.parameters, role=self.role
        )

    def validate(self, arguments: str) -> dict[str, Any]:
        """Parse and validate the model's JSON arguments, or raise :class:`InvalidToolArguments`."""
        try:
            raw = json.loads(arguments) if arguments and arguments.strip() else {}
        except ValueError as e:
            raise InvalidToolArguments(
                f"The arguments for tool {self.name!r} are not valid JSON ({e}). "
                "Send a JSON object that matches the tool's schema."
            ) from e
        if not isinstance(raw, dict):
            raise InvalidToolArguments(
                f"The arguments for tool {self.name!r} must be a JSON object, not {type(raw).__name__}."
            )
        try:
            validated = self.args_model.model_validate(raw)
        except pydantic.ValidationError as e:
            raise InvalidToolArguments(
                f"The arguments for tool {self.name!r} are invalid:\n{_format_errors(e)}\n"
                "Fix the arguments and call the tool again."
            ) from e
        return {name: getattr(validated, name) for name in type(validated).model_fields}

    async def call(self, arguments: dict[str, Any], context: ToolContext) -> Any:
        """Run the function (sync functions in a worker thread) with validated arguments."""
        kwargs = dict(arguments)
        if self.context_parameter:
            kwargs[self.context_parameter] = context
        if inspect.iscoroutinefunction(self.function) or inspect.iscoroutinefunction(
            getattr(self.function, "__call__", None)  # noqa: B004 - async callables
        ):
            return await self.function(**kwargs)
        result = await asyncio.to_thread(functools.partial(self.function, **kwargs))
        if inspect.isawaitable(result):
            return await result
        return result


@overload
def tool(function: Callable[..., Any], /) -> Tool: ...


@overload
def tool(
    *,
    name: str | None = None,
    description: str | None = None,
    requires_approval: bool = False,
    timeout: float | None = None,
) -> Callable[[Callable[..., Any]], Tool]: ...


def tool(
    function: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    requires_approval: bool = False,
    timeout: float | None = None,
) -> Tool | Callable[[Callable[..., Any]], Tool]:
    """Decorator: ``@tool`` or ``@tool(requires_approval=True, timeout=5)`` makes a :class:`Tool`."""

    def make(fn: Callable[..., Any]) -> Tool:
        return Tool.from_function(
            fn, name=name, description=description, requires_approval=requires_approval, timeout=timeout
        )

    return make(function) if function is not None else make


ToolLike = Tool | Callable[..., Any] | Callable[..., Awaitable[Any]]


def tool_list(tools: object) -> list[ToolLike]:
    """``tools`` as a list (:class:`ToolDefinitionError` when it is not a collection of tools)."""
    if isinstance(tools, str | bytes | Mapping) or not isinstance(tools, Iterable):
        raise ToolDefinitionError(f"tools must be a list of tools or functions, got {type(tools).__name__}")
    return list(tools)


def build_toolset(tools: Iterable[ToolLike]) -> dict[str, Tool]:
    """Tools by name; functions are converted; a duplicate name is a :class:`ToolDefinitionError`."""
    toolset: dict[str, Tool] = {}
    for item in tool_list(tools):
        converted = Tool.from_function(item)
        if converted.name in toolset:
            raise ToolDefinitionError(f"two tools are named {converted.name!r}", tool=converted.name)
        toolset[converted.name] = converted
    return toolset

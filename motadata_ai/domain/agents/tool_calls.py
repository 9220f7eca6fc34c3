"""Running the tool calls a model asks for: looked up, validated, approved, timed out, guarded.

Each call ends in a :class:`ToolCallRecord` and (unless it awaits approval) the tool reply the
model sees: unknown tools and invalid arguments come back as feedback, a failing or slow tool as
an error, never as a crash of the run; a result passes the redactor and the guardrails first.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from motadata_ai.domain.agents.tools import InvalidToolArguments, Tool, ToolContext, render_result
from motadata_ai.domain.guardrails.context import FLAG, WITHHELD_TOOL_RESULT, fenced
from motadata_ai.domain.privacy.audit import AuditTrail, audit_action
from motadata_ai.domain.values.agents import ToolCallRecord
from motadata_ai.domain.values.llm import Message, ToolCall
from motadata_ai.domain.values.tenancy import TenantContext

if TYPE_CHECKING:
    from motadata_ai.domain.agents.agent import Agent

CallOutcome = tuple[ToolCallRecord, Message | None]
"""A call's record and the reply the model sees (``None`` while it awaits approval)."""


def tool_reply(call: ToolCall, content: str) -> Message:
    """The ``tool`` message answering ``call``."""
    return Message(role="tool", tool_call_id=call.id, name=call.name, content=content)


class ToolCalls:
    """Runs tool calls with the tools, timeouts, telemetry, redactor and gateway of one agent.

    It reads them from the agent at each call, so tools added later are used.
    """

    def __init__(self, agent: Agent, *, audit_trail: AuditTrail | None = None) -> None:
        self.agent = agent
        self.tenant: TenantContext = agent.tenant
        """The agent's tenant (the audit records tool calls under it)."""
        self.audit_trail = audit_trail
        """Where each tool call records its ``agent.tool_call`` event (``None``: not audited)."""

    async def run_all(self, calls: Sequence[ToolCall], context: ToolContext) -> list[CallOutcome]:
        """Run ``calls`` concurrently; the outcomes in the calls' order."""
        if len(calls) == 1:
            return [await self.run(calls[0], context)]
        return list(await asyncio.gather(*(self.run(call, context) for call in calls)))

    async def run(self, call: ToolCall, context: ToolContext, *, approved: bool = False) -> CallOutcome:
        """Look up, validate and run one call (or hold it for approval when its tool needs one)."""
        tools = self.agent.tools
        tool = tools.get(call.name)
        if tool is None:
            available = ", ".join(sorted(tools)) or "none"
            feedback = (
                f"Unknown tool {call.name!r}. Available tools: {available}. "
                "Call one of them by its exact name."
            )
            record = ToolCallRecord(
                id=call.id, name=call.name, arguments=call.arguments, status="unknown_tool", error=feedback
            )
            return record, tool_reply(call, feedback)
        try:
            arguments = tool.validate(call.arguments)
        except InvalidToolArguments as e:
            record = ToolCallRecord(
                id=call.id,
                name=call.name,
                arguments=call.arguments,
                status="invalid_arguments",
                error=e.feedback,
            )
            return record, tool_reply(call, e.feedback)
        if tool.requires_approval and not approved:
            return ToolCallRecord(
                id=call.id, name=call.name, arguments=call.arguments, status="awaiting_approval"
            ), None
        return await self._execute(tool, call, arguments, context)

    @audit_action("agent.tool_call", resource=lambda _, a, _k: a[0].name, user=lambda _, a, _k: a[3].user_id)
    async def _execute(
        self, tool: Tool, call: ToolCall, arguments: dict[str, Any], context: ToolContext
    ) -> tuple[ToolCallRecord, Message]:
        agent = self.agent
        timeout = tool.timeout or agent.tool_timeout
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": tool.name,
            "gen_ai.tool.call.id": call.id,
            "gen_ai.tool.type": "function",
            "gen_ai.agent.name": agent.name,
            "motadata.tenant.id": agent.tenant.tenant_id,
        }
        if tool.description:
            attributes["gen_ai.tool.description"] = tool.description[:200]
        with agent.telemetry.span(f"execute_tool {tool.name}", attributes=attributes) as span:
            started = time.perf_counter()
            status = "ok"
            result: str | None = None
            error: str | None = None
            try:
                value = await asyncio.wait_for(tool.call(arguments, context), timeout)
                result = render_result(value)
            except TimeoutError:
                status = "timeout"
                error = f"Tool {tool.name!r} did not finish within {timeout} s and was abandoned."
            except Exception as e:  # a failing tool is reported to the model, never crashes the run
                status = "error"
                error = f"Tool {tool.name!r} failed: {type(e).__name__}: {e}"
                span.record_exception(e)
            duration = (time.perf_counter() - started) * 1000
            span.set_attribute("motadata.tool.status", status)
        if result is not None and agent.redact is not None:
            result = agent.redact(result)
        content = await self._guard_tool_output(result if result is not None else error or "")
        record = ToolCallRecord(
            id=call.id,
            name=call.name,
            arguments=call.arguments,
            status=status,
            result=result,
            error=error,
            duration_ms=duration,
        )
        return record, tool_reply(call, content)

    async def _guard_tool_output(self, text: str) -> str:
        """A tool's result (or error) as the model may see it: the guardrails' verdict applied.

        Dropped: :data:`WITHHELD_TOOL_RESULT`; flagged: fenced as data under the guardrails' flag.
        """
        if not text:
            return text
        agent = self.agent
        checked = await agent.gateway.guard_context(
            [text], tenant_id=agent.tenant, origin="tool_result", model=agent.model
        )
        guarded = checked.texts[0]
        if guarded.dropped:
            return WITHHELD_TOOL_RESULT
        if guarded.flagged:
            return f"{FLAG}\n" + fenced("tool_result", [guarded.text])
        return guarded.text

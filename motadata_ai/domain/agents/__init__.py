"""Agents: the task loop over the gateway, tools, limits, sessions, delegation and workflows."""

from motadata_ai.domain.agents.agent import DEFAULT_INSTRUCTIONS, Agent, ChatGateway, RunState
from motadata_ai.domain.agents.budget import Budget
from motadata_ai.domain.agents.delegation import (
    AgentServer,
    RemoteAgent,
    TaskRequest,
    Worker,
    delegate_tool,
    serve_agent,
)
from motadata_ai.domain.agents.knowledge import (
    KNOWLEDGE_SEARCH,
    Retriever,
    format_sources,
    knowledge_search_tool,
)
from motadata_ai.domain.agents.tools import Tool, ToolContext, build_toolset, parse_docstring, tool
from motadata_ai.domain.agents.workflow import (
    Coordinator,
    WorkerOutcome,
    WorkflowResult,
    merge_last,
    merge_sections,
)

__all__ = [
    "DEFAULT_INSTRUCTIONS",
    "KNOWLEDGE_SEARCH",
    "Agent",
    "AgentServer",
    "Budget",
    "ChatGateway",
    "Coordinator",
    "RemoteAgent",
    "Retriever",
    "RunState",
    "TaskRequest",
    "Tool",
    "ToolContext",
    "Worker",
    "WorkerOutcome",
    "WorkflowResult",
    "build_toolset",
    "delegate_tool",
    "format_sources",
    "knowledge_search_tool",
    "merge_last",
    "merge_sections",
    "parse_docstring",
    "serve_agent",
    "tool",
]

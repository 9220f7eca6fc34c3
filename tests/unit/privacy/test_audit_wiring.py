"""Use-cases take their audit trail through the constructor: an agent (its tasks and tool calls)
and a RAG system built directly, outside an app, audit to the trail they were given."""

from __future__ import annotations

from motadata_ai.adapters.memory.documents import InMemoryDocumentStore
from motadata_ai.adapters.memory.ledger import InMemoryAuditLog
from motadata_ai.adapters.memory.llm import FunctionLLM, scripted
from motadata_ai.adapters.memory.vector_store import InMemoryVectorStore
from motadata_ai.domain.agents import Agent, tool
from motadata_ai.domain.privacy.audit import AuditTrail
from motadata_ai.domain.retrieval.system import RAGSystem
from motadata_ai.domain.values.documents import Document
from motadata_ai.testing.models import tool_call

from ..agents.conftest import make_gateway


@tool
def lookup_ticket(ticket_id: str) -> dict[str, str]:
    """Look a ticket up by id."""
    return {"id": ticket_id, "state": "open"}


async def test_an_agent_built_with_a_trail_audits_its_task_and_its_tool_calls() -> None:
    log = InMemoryAuditLog()
    trail = AuditTrail(log)
    llm = FunctionLLM(scripted([tool_call("lookup_ticket", {"ticket_id": "INC-7"}), "INC-7 is open."]))
    agent = Agent(
        agent_id="helper",
        name="Helper",
        gateway=make_gateway(llm),
        tenant="acme",
        tools=[lookup_ticket],
        audit_trail=trail,
    )
    assert agent.tool_calls.audit_trail is trail
    await agent.execute_task("What is the state of INC-7?", user_id="bob")
    await trail.flush()
    events = await log.events(tenant="acme")
    assert sorted((e.action, e.user_id, e.result) for e in events) == [
        ("agent.execute_task", "bob", "success"),
        ("agent.tool_call", "bob", "success"),
    ]


async def test_a_rag_system_built_with_a_trail_audits_ingest_and_query() -> None:
    log = InMemoryAuditLog()
    trail = AuditTrail(log)
    rag = RAGSystem(
        gateway=make_gateway(FunctionLLM(lambda request: "Use the VPN guide [1].")),
        vector_store=InMemoryVectorStore(dimensions=64),
        documents=InMemoryDocumentStore(),
        tenant="acme",
        audit_trail=trail,
    )
    await rag.ingest([Document(id="vpn", text="The VPN guide is on the wiki.")], user_id="bob")
    await rag.query("Where is the VPN guide?", user_id="bob")
    await trail.flush()
    assert sorted(e.action for e in await log.events(tenant="acme")) == ["rag.ingest", "rag.query"]

"""The unified query: one entry point that answers from knowledge (RAG), acts (agent), or both.

``mode="auto"`` routes with a classifier call through the gateway when a generative model is
configured (any model outside the ``local/`` providers), else with the documented heuristic of
:mod:`motadata_ai.domain.routing.heuristic`; a classifier answer that cannot be read falls back to
the heuristic. ``mode="both"`` runs the two paths concurrently and merges them: the answer of the
more confident path first (the other's follows when it differs), the higher confidence, the RAG
sources, and the sum of tokens and cost. When one path of ``both`` fails the other's answer is
returned with the failure in ``errors``; when both fail the RAG error is raised.

Confidence: RAG: the best score among the sources the answer cites (0 when it found nothing);
agent: 0.8 when the task completed after at least one successful tool call, 0.6 when it completed
without tools, 0.3 while it waits for an approval.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict

from motadata_ai.domain.memory._telemetry import NoTelemetry
from motadata_ai.domain.routing.heuristic import RouteDecision, route_by_heuristic
from motadata_ai.domain.values.agents import AgentTask
from motadata_ai.domain.values.base import check_text
from motadata_ai.domain.values.documents import RAGResponse, Source
from motadata_ai.domain.values.errors import ConfigurationError, MotadataError, ValidationError
from motadata_ai.domain.values.llm import ChatRequest, Message
from motadata_ai.domain.values.tenancy import validate_tenant_id
from motadata_ai.ports.gateway import GatewayPort
from motadata_ai.ports.telemetry import TENANT_ATTRIBUTE, TelemetryPort

QueryMode = Literal["auto", "agent", "rag", "both"]
QUERY_MODES: tuple[str, ...] = ("auto", "agent", "rag", "both")
MAX_QUERY_CHARS = 8000

CLASSIFIER_PROMPT = (
    "You route requests of an IT service management assistant. Reply with exactly one word: "
    "'agent' when the request asks to perform an action or change something (create, update, "
    "restart, assign, escalate, close a ticket, ...), or 'rag' when it asks for information or "
    "an explanation that a knowledge base answers."
)


class RagAnswerer(Protocol):
    """What the unified query needs from a RAG system (``RAGSystem`` fits)."""

    async def query(
        self, question: str, *, conversation_id: str | None = None, user_id: str | None = None
    ) -> RAGResponse:
        """Answer from the tenant's knowledge."""
        ...


class TaskRunner(Protocol):
    """What the unified query needs from an agent (``Agent`` fits)."""

    async def execute_task(self, task: str, *, user_id: str | None = None) -> AgentTask:
        """Run a task."""
        ...

    async def chat(self, message: str, *, conversation_id: str, user_id: str | None = None) -> AgentTask:
        """One conversation turn."""
        ...


class UnifiedResponse(BaseModel):
    """The answer to a unified query with everything that produced it.

    ``input_tokens``, ``output_tokens`` and ``cost_usd`` sum the usage records of every call of
    the query (routing, agent and RAG), which share ``request_id``.
    """

    model_config = ConfigDict(frozen=True)

    query: str
    answer: str
    mode: Literal["agent", "rag", "both"]
    requested_mode: QueryMode
    route_reason: str
    confidence: float
    sources: tuple[Source, ...] = ()
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    tenant_id: str
    user_id: str | None = None
    conversation_id: str | None = None
    trace_id: str = ""
    agent: AgentTask | None = None
    rag: RAGResponse | None = None
    errors: tuple[str, ...] = ()
    duration_ms: float = 0.0
    request_id: str | None = None

    @property
    def total_tokens(self) -> int:
        """Input plus output tokens of every model call."""
        return self.input_tokens + self.output_tokens


def rag_confidence(response: RAGResponse) -> float:
    """The best score among cited sources (all sources when none is marked), clamped to 0..1."""
    sources = response.cited_sources or response.sources
    if not sources:
        return 0.0
    best = max((s.dense_score if s.dense_score is not None else s.score) for s in sources)
    return float(min(1.0, max(0.0, best)))


def agent_confidence(task: AgentTask) -> float:
    """0.8 completed with a successful tool call, 0.6 completed, 0.3 awaiting approval, else 0."""
    if task.status == "completed":
        return 0.8 if any(c.status == "ok" for c in task.tool_calls) else 0.6
    return 0.3 if task.status == "awaiting_approval" else 0.0


def agent_answer(task: AgentTask) -> str:
    """The task's answer, or what it waits for."""
    if task.status == "awaiting_approval":
        pending = ", ".join(f"{c.name}({c.arguments})" for c in task.pending_tool_calls)
        return f"Waiting for approval of {pending} (task {task.id})."
    return task.answer or ""


async def _resolve(factory: Callable[[str], Any], tenant_id: str) -> Any:
    made = factory(tenant_id)
    return await made if inspect.isawaitable(made) else made


class UnifiedQuery:
    """Routes queries of any tenant to that tenant's RAG system and agent (made by the factories)."""

    def __init__(
        self,
        *,
        rag_factory: Callable[[str], RagAnswerer | Awaitable[RagAnswerer]] | None,
        agent_factory: Callable[[str], TaskRunner | Awaitable[TaskRunner]] | None,
        gateway: GatewayPort | None = None,
        use_classifier: bool | None = None,
        classifier_model: str | None = None,
        telemetry: TelemetryPort | None = None,
    ) -> None:
        if rag_factory is None and agent_factory is None:
            raise ConfigurationError("the unified query needs a RAG factory, an agent factory or both")
        self.rag_factory = rag_factory
        self.agent_factory = agent_factory
        self.gateway = gateway
        model = classifier_model or (gateway.default_model if gateway is not None else None)
        if use_classifier is None:
            use_classifier = (
                model is not None and gateway is not None and gateway.capabilities(model).generative
            )
        if use_classifier and (gateway is None or model is None):
            raise ConfigurationError("the classifier needs a gateway and a model", field="classifier_model")
        self.use_classifier = use_classifier
        self.classifier_model = model
        self.telemetry = telemetry or NoTelemetry()

    async def route(self, query: str, *, tenant_id: str) -> tuple[RouteDecision, int, int, float]:
        """The route for ``query`` and the classifier's tokens (in, out) and cost."""
        if self.agent_factory is None:
            return RouteDecision(route="rag", confidence=1.0, reason="no agent is configured"), 0, 0, 0.0
        if self.rag_factory is None:
            return (
                RouteDecision(route="agent", confidence=1.0, reason="no RAG system is configured"),
                0,
                0,
                0.0,
            )
        if not self.use_classifier or self.gateway is None or self.classifier_model is None:
            return route_by_heuristic(query), 0, 0, 0.0
        request = ChatRequest(
            model=self.classifier_model,
            messages=(Message(role="system", content=CLASSIFIER_PROMPT), Message(role="user", content=query)),
            temperature=0.0,
            max_tokens=3,
        )
        try:
            response = await self.gateway.generate(request, tenant_id=tenant_id, purpose="classification")
        except MotadataError as e:
            decision = route_by_heuristic(query)
            return (
                decision.model_copy(update={"reason": f"{decision.reason} (classifier failed: {e})"}),
                0,
                0,
                0.0,
            )
        usage = response.usage
        word = (response.text.strip().lower().split() or [""])[0].strip(".'\"!:")
        if word in ("agent", "rag"):
            decision = RouteDecision(
                route=word, confidence=0.9, reason=f"classified by {self.classifier_model}"
            )
        else:
            fallback = route_by_heuristic(query)
            decision = fallback.model_copy(
                update={"reason": f"{fallback.reason} (classifier answer {response.text[:40]!r} unreadable)"}
            )
        return decision, usage.input_tokens, usage.output_tokens, response.cost_usd

    async def _run_agent(
        self, tenant_id: str, query: str, user_id: str | None, conversation_id: str | None
    ) -> AgentTask:
        if self.agent_factory is None:
            raise ConfigurationError("mode 'agent' needs an agent factory", field="agent_factory")
        agent: TaskRunner = await _resolve(self.agent_factory, tenant_id)
        if conversation_id:
            try:
                return await agent.chat(query, conversation_id=conversation_id, user_id=user_id)
            except ConfigurationError:
                pass  # an agent without a memory store answers without a session
        return await agent.execute_task(query, user_id=user_id)

    async def _run_rag(
        self, tenant_id: str, query: str, user_id: str | None, conversation_id: str | None
    ) -> RAGResponse:
        if self.rag_factory is None:
            raise ConfigurationError("mode 'rag' needs a RAG factory", field="rag_factory")
        rag: RagAnswerer = await _resolve(self.rag_factory, tenant_id)
        return await rag.query(query, conversation_id=conversation_id, user_id=user_id)

    async def query(
        self,
        query: str,
        *,
        tenant_id: str,
        user_id: str | None = None,
        conversation_id: str | None = None,
        mode: QueryMode = "auto",
    ) -> UnifiedResponse:
        """Answer ``query`` for the tenant by ``mode`` (auto, agent, rag or both)."""
        tenant_id = validate_tenant_id(tenant_id)
        if not isinstance(query, str) or not query.strip():
            raise ValidationError("query must be a non-empty string", field="query")
        if len(query) > MAX_QUERY_CHARS:
            raise ValidationError(f"query is longer than {MAX_QUERY_CHARS} characters", field="query")
        check_text(query, "query")
        if mode not in QUERY_MODES:
            raise ValidationError(f"mode must be one of {', '.join(QUERY_MODES)}; got {mode!r}", field="mode")
        if self.gateway is None:
            return await self._query(query, tenant_id, user_id, conversation_id, mode)
        # one unified query is one request: the classifier, RAG and agent calls are made on its behalf
        async with self.gateway.request(
            tenant_id, operation="unified_query", user_id=user_id, conversation_id=conversation_id
        ) as origin:
            result = await self._query(query, tenant_id, user_id, conversation_id, mode)
        if origin.usage is None:
            return result
        # its cost is the sum of its calls' records (a failed path of ``both`` included), plus what a
        # part that ran outside this request (a remote agent) reported
        totals = origin.usage.totals()
        for part in (result.agent, result.rag):
            if part is not None and part.request_id != origin.request_id:
                totals["input_tokens"] += part.input_tokens
                totals["output_tokens"] += part.output_tokens
                totals["cost_usd"] += part.cost_usd
        return result.model_copy(update={**totals, "request_id": origin.request_id})

    async def _query(
        self, query: str, tenant_id: str, user_id: str | None, conversation_id: str | None, mode: QueryMode
    ) -> UnifiedResponse:
        started = time.perf_counter()
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "unified_query",
            TENANT_ATTRIBUTE: tenant_id,
            "motadata.query.requested_mode": mode,
        }
        if conversation_id:
            attributes["gen_ai.conversation.id"] = conversation_id
        with self.telemetry.span("unified_query", attributes=attributes) as span:
            extra_in = extra_out = 0
            extra_cost = 0.0
            if mode == "auto":
                decision, extra_in, extra_out, extra_cost = await self.route(query, tenant_id=tenant_id)
                resolved: Literal["agent", "rag", "both"] = decision.route
                reason = decision.reason
            else:
                resolved, reason = mode, f"mode {mode!r} requested"
            span.set_attribute("motadata.query.mode", resolved)
            common: dict[str, Any] = {
                "query": query,
                "requested_mode": mode,
                "route_reason": reason,
                "tenant_id": tenant_id,
                "user_id": user_id,
                "conversation_id": conversation_id,
            }
            if resolved == "agent":
                task = await self._run_agent(tenant_id, query, user_id, conversation_id)
                result = UnifiedResponse(
                    answer=agent_answer(task),
                    mode="agent",
                    confidence=agent_confidence(task),
                    input_tokens=task.input_tokens + extra_in,
                    output_tokens=task.output_tokens + extra_out,
                    cost_usd=task.cost_usd + extra_cost,
                    trace_id=task.trace_id or span.trace_id,
                    agent=task,
                    **common,
                )
            elif resolved == "rag":
                rag = await self._run_rag(tenant_id, query, user_id, conversation_id)
                result = UnifiedResponse(
                    answer=rag.answer,
                    mode="rag",
                    confidence=rag_confidence(rag),
                    sources=rag.sources,
                    input_tokens=rag.input_tokens + extra_in,
                    output_tokens=rag.output_tokens + extra_out,
                    cost_usd=rag.cost_usd + extra_cost,
                    trace_id=span.trace_id or rag.trace_id,
                    rag=rag,
                    **common,
                )
            else:
                result = await self._both(query, tenant_id, user_id, conversation_id, common, span.trace_id)
            span.set_attribute("gen_ai.usage.input_tokens", result.input_tokens)
            span.set_attribute("gen_ai.usage.output_tokens", result.output_tokens)
        return result.model_copy(
            update={
                "duration_ms": (time.perf_counter() - started) * 1000,
                "trace_id": result.trace_id,
            }
        )

    async def _both(
        self,
        query: str,
        tenant_id: str,
        user_id: str | None,
        conversation_id: str | None,
        common: dict[str, Any],
        trace_id: str,
    ) -> UnifiedResponse:
        agent_result, rag_result = await asyncio.gather(
            self._run_agent(tenant_id, query, user_id, conversation_id),
            self._run_rag(tenant_id, query, user_id, conversation_id),
            return_exceptions=True,
        )
        for outcome in (agent_result, rag_result):
            if isinstance(outcome, BaseException) and not isinstance(outcome, Exception):
                raise outcome
        errors: list[str] = []
        task = agent_result if isinstance(agent_result, AgentTask) else None
        rag = rag_result if isinstance(rag_result, RAGResponse) else None
        if task is None:
            errors.append(f"agent: {type(agent_result).__name__}: {agent_result}")
        if rag is None:
            errors.append(f"rag: {type(rag_result).__name__}: {rag_result}")
            if task is None:
                assert isinstance(rag_result, Exception)
                raise rag_result
        parts: list[tuple[float, str]] = []
        if task is not None:
            parts.append((agent_confidence(task), agent_answer(task)))
        if rag is not None:
            parts.append((rag_confidence(rag), rag.answer))
        parts.sort(key=lambda p: p[0], reverse=True)
        answers: list[str] = []
        for _, text in parts:
            if text and text.strip() not in {a.strip() for a in answers}:
                answers.append(text)
        return UnifiedResponse(
            answer="\n\n".join(answers),
            mode="both",
            confidence=max(p[0] for p in parts),
            sources=rag.sources if rag else (),
            input_tokens=(task.input_tokens if task else 0) + (rag.input_tokens if rag else 0),
            output_tokens=(task.output_tokens if task else 0) + (rag.output_tokens if rag else 0),
            cost_usd=(task.cost_usd if task else 0.0) + (rag.cost_usd if rag else 0.0),
            trace_id=trace_id,
            agent=task,
            rag=rag,
            errors=tuple(errors),
            **common,
        )

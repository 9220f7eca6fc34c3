"""Agent-to-agent delegation: serve an agent's tasks on the bus, send tasks to a remote agent, and
turn any agent (local or remote) into a tool another agent can call.

Wire format (inside the bus envelope): a task is ``type="agent.task"`` with payload
``{"task", "user_id", "context", "budget": {"max_tokens", "max_cost_usd"}}`` on the subject
``agent.{tenant}.{user}.{agent_id}.task`` (the user token after the tenant, so that erasing the
user purges the tasks the bus still retains for them); the reply is ``type="agent.result"`` with the
:class:`AgentTask` as payload. The budget sent is what is left of the sender's shared budget; the
sender charges the reply's usage to its own ledger, so the whole tree of tasks stays within one
budget. A server remembers the results of the last envelope ids it handled, so a redelivered
task is answered from memory rather than run twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any, Protocol

import pydantic

from motadata_ai.domain.agents.agent import Agent
from motadata_ai.domain.agents.budget import Budget
from motadata_ai.domain.agents.tools import Tool, ToolContext
from motadata_ai.domain.bus.subjects import agent_pattern, agent_subject
from motadata_ai.domain.values.agents import AgentError, AgentTask, BudgetLimit, DelegationFailed
from motadata_ai.domain.values.bus import Envelope
from motadata_ai.domain.values.calls import current_origin
from motadata_ai.domain.values.errors import ConfigurationError, MotadataError, ValidationError
from motadata_ai.domain.values.tenancy import TenantContext
from motadata_ai.ports.bus import BusError, BusPort, BusTimeout, Subscription

logger = logging.getLogger("motadata_ai.agents")

TASK_MESSAGE = "agent.task"
RESULT_MESSAGE = "agent.result"


class Worker(Protocol):
    """Anything that runs a task like an agent: a local :class:`Agent` or a :class:`RemoteAgent`."""

    agent_id: str
    name: str

    async def execute_task(
        self,
        task: str,
        *,
        user_id: str | None = None,
        context: Mapping[str, Any] | None = None,
        budget: Budget | None = None,
    ) -> AgentTask:
        """Run the task and return its result."""
        ...


class TaskRequest(pydantic.BaseModel):
    """The payload of an ``agent.task`` message."""

    task: str = pydantic.Field(min_length=1)
    user_id: str | None = None
    context: dict[str, Any] | None = None
    budget: BudgetLimit = pydantic.Field(default_factory=BudgetLimit)


class AgentServer:
    """Runs tasks that arrive on ``agent.{tenant}.{user}.{agent_id}.task`` (any user) and replies
    with the result."""

    def __init__(self, agent: Agent, bus: BusPort, *, remember_results: int = 1000) -> None:
        self.agent = agent
        self.bus = bus
        self._results: OrderedDict[str, Envelope] = OrderedDict()
        self._running: dict[str, asyncio.Future[Envelope]] = {}
        self._remember = remember_results
        self._subscription: Subscription | None = None
        self.handled = 0

    @property
    def subject(self) -> str:
        """The subjects this agent's tasks arrive on, for every user (a subscription pattern)."""
        return agent_pattern(self.agent.tenant, self.agent.agent_id, "task")

    def task_subject(self, user_id: str | None = None) -> str:
        """Where a task for this agent on behalf of ``user_id`` is sent."""
        return agent_subject(self.agent.tenant, self.agent.agent_id, "task", user_id=user_id)

    async def start(self, *, concurrency: int = 16) -> AgentServer:
        """Subscribe (durably, so tasks sent while it was down are handled when it comes back)."""
        self._subscription = await self.bus.subscribe(
            self.subject, self.handle, durable=f"agent-{self.agent.agent_id}"[:64], concurrency=concurrency
        )
        return self

    async def stop(self) -> None:
        """Stop receiving tasks."""
        if self._subscription is not None:
            await self._subscription.stop()
            self._subscription = None

    async def handle(self, envelope: Envelope) -> Envelope | None:
        """Run one task envelope (once per envelope id) and return the reply envelope."""
        if envelope.type != TASK_MESSAGE:
            logger.warning(
                "agent %s ignored a %r message on its task subject", self.agent.agent_id, envelope.type
            )
            return None
        if envelope.id in self._results:
            return self._results[envelope.id]
        running = self._running.get(envelope.id)
        if running is not None:
            return await asyncio.shield(running)
        future: asyncio.Future[Envelope] = asyncio.get_running_loop().create_future()
        self._running[envelope.id] = future
        try:
            reply = await self._run(envelope)
            future.set_result(reply)
        except BaseException as e:
            future.set_exception(e)
            future.exception()  # retrieved: a redelivery will run it again
            raise
        finally:
            self._running.pop(envelope.id, None)
        self._results[envelope.id] = reply
        while len(self._results) > self._remember:
            self._results.popitem(last=False)
        self.handled += 1
        return reply

    async def _run(self, envelope: Envelope) -> Envelope:
        tenant = self.agent.tenant.tenant_id
        try:
            request = TaskRequest.model_validate(envelope.payload)
        except pydantic.ValidationError as e:
            result = AgentTask(
                id=envelope.id,
                agent_id=self.agent.agent_id,
                agent_name=self.agent.name,
                tenant_id=tenant,
                task=str(envelope.payload.get("task", ""))[:500],
                status="failed",
                error=f"invalid task message: {e.errors(include_url=False)[:3]}",
            )
        else:
            try:
                result = await self.agent.execute_task(
                    request.task,
                    user_id=request.user_id,
                    context=request.context,
                    budget=Budget(request.budget),
                )
            except AgentError as e:
                result = (
                    e.task
                    or AgentTask(
                        id=envelope.id,
                        agent_id=self.agent.agent_id,
                        tenant_id=tenant,
                        task=request.task,
                        status="failed",
                    )
                ).model_copy(update={"status": "failed", "error": f"{type(e).__name__}: {e}"})
            except MotadataError as e:
                result = AgentTask(
                    id=envelope.id,
                    agent_id=self.agent.agent_id,
                    agent_name=self.agent.name,
                    tenant_id=tenant,
                    task=request.task,
                    status="failed",
                    error=f"{type(e).__name__}: {e}",
                )
        return Envelope(
            tenant_id=tenant,
            type=RESULT_MESSAGE,
            payload=result.model_dump(mode="json"),
            correlation_id=envelope.id,
        )


class RemoteAgent:
    """An agent reached over the bus; ``execute_task`` sends the task and awaits the reply."""

    def __init__(
        self,
        *,
        bus: BusPort,
        tenant: TenantContext | str,
        agent_id: str,
        name: str | None = None,
        timeout: float = 60.0,
    ) -> None:
        if timeout <= 0:
            raise ValidationError("timeout must be positive", field="timeout")
        self.bus = bus
        self.tenant = TenantContext.of(tenant)
        self.agent_id = agent_id
        self.name = name or agent_id
        self.timeout = timeout
        self.subject = agent_pattern(self.tenant, agent_id, "task")
        """The subjects of this agent's tasks, for every user (a pattern)."""

    async def execute_task(
        self,
        task: str,
        *,
        user_id: str | None = None,
        context: Mapping[str, Any] | None = None,
        budget: Budget | None = None,
        timeout: float | None = None,
    ) -> AgentTask:
        """Run ``task`` on the remote agent; its usage is charged to ``budget``.

        Raises :class:`DelegationFailed` when no reply comes within ``timeout`` or the remote
        task failed (``task`` then holds the remote partial result).
        """
        if not isinstance(task, str) or not task.strip():
            raise ValidationError("task must be a non-empty string", field="task")
        ledger = budget or Budget()
        if which := ledger.exhausted:
            raise DelegationFailed(
                f"no {which} budget left to delegate to {self.agent_id!r}",
                agent_id=self.agent_id,
                reason="budget",
            )
        payload = TaskRequest(
            task=task, user_id=user_id, context=dict(context) if context else None, budget=ledger.remaining()
        ).model_dump(mode="json")
        request = Envelope(tenant_id=self.tenant.tenant_id, type=TASK_MESSAGE, payload=payload)
        wait = timeout or self.timeout
        try:
            subject = agent_subject(self.tenant, self.agent_id, "task", user_id=user_id)
            reply = await self.bus.request(subject, request, timeout=wait)
        except BusTimeout as e:
            raise DelegationFailed(
                f"agent {self.agent_id!r} did not reply within {wait} s",
                agent_id=self.agent_id,
                timeout=wait,
                reason="timeout",
            ) from e
        except BusError as e:
            raise DelegationFailed(
                f"could not reach agent {self.agent_id!r}: {e}", agent_id=self.agent_id, reason="bus"
            ) from e
        try:
            result = AgentTask.model_validate(reply.payload)
        except ValidationError as e:
            raise DelegationFailed(
                f"agent {self.agent_id!r} replied with a malformed result",
                agent_id=self.agent_id,
                reason="malformed_reply",
            ) from e
        if result.tenant_id != self.tenant.tenant_id:
            raise DelegationFailed(
                f"agent {self.agent_id!r} replied for another tenant",
                agent_id=self.agent_id,
                reason="tenant_mismatch",
            )
        ledger.charge(tokens=result.total_tokens, cost_usd=result.cost_usd)
        if result.status == "failed":
            raise DelegationFailed(
                f"agent {self.agent_id!r} failed the task: {result.error}",
                task=result,
                agent_id=self.agent_id,
                reason="failed",
            )
        return result


def _counted_already(task: AgentTask) -> bool:
    """Whether ``task`` ran inside the running request (an in-process worker joins it): its
    calls are then in that request's usage already."""
    origin = current_origin()
    return origin is not None and task.request_id == origin.request_id


def delegate_tool(
    worker: Worker,
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = None,
) -> Tool:
    """A tool that hands a sub-task to ``worker`` (local or remote), sharing the caller's budget."""

    async def delegate(ctx: ToolContext, task: str) -> str:
        """Args:
        task: The sub-task, stated completely (the other agent sees nothing else).
        """
        try:
            result = await worker.execute_task(task, user_id=ctx.user_id, budget=ctx.budget)
        except AgentError as e:
            if e.task is not None and not _counted_already(e.task):
                ctx.record_delegated_usage(
                    input_tokens=e.task.input_tokens,
                    output_tokens=e.task.output_tokens,
                    cost_usd=e.task.cost_usd,
                )
            raise
        # The worker charged the shared ledger (a remote one through RemoteAgent); count its usage
        # into the caller's task totals, unless its calls were made inside the caller's request.
        if not _counted_already(result):
            ctx.record_delegated_usage(
                input_tokens=result.input_tokens, output_tokens=result.output_tokens, cost_usd=result.cost_usd
            )
        if result.status == "awaiting_approval":
            return f"Agent {worker.name!r} is waiting for a human approval (task {result.id})."
        return result.answer or ""

    tool_name = name or f"ask_{worker.agent_id}".replace(".", "_")[:64]
    return Tool.from_function(
        delegate,
        name=tool_name,
        description=description or f"Delegate a sub-task to the agent {worker.name!r} and get its answer.",
        timeout=timeout,
    )


async def serve_agent(agent: Agent, bus: BusPort | None = None, *, concurrency: int = 16) -> AgentServer:
    """Start answering ``agent``'s tasks on the bus (``agent.bus`` unless one is given)."""
    bus = bus or agent.bus
    if bus is None:
        raise ConfigurationError(f"agent {agent.agent_id!r} has no bus to serve on", field="bus")
    return await AgentServer(agent, bus).start(concurrency=concurrency)

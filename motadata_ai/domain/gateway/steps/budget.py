"""Budget step: refuse a call once the tenant's daily or monthly spend reached its budget.

The spend comes from the usage ledger (other instances' spend included), cached for
``budget_refresh_seconds`` and advanced locally by what each call that reached the provider cost
(a blocked answer too: it was paid for). Checked before any provider call.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime

from motadata_ai.domain.gateway.call import Call
from motadata_ai.domain.gateway.config import GatewayConfig
from motadata_ai.domain.gateway.errors import BudgetExceeded, GuardrailViolation
from motadata_ai.domain.gateway.health import GatewayStats
from motadata_ai.domain.gateway.steps.base import Clocks, NextComplete, NextEmbed, NextStream, Step
from motadata_ai.domain.values import llm
from motadata_ai.domain.values.errors import ServiceError
from motadata_ai.ports.ledger import UsageLedgerPort

__all__ = ["BudgetStep"]

log = logging.getLogger("motadata_ai.gateway")


class BudgetStep(Step):
    """Daily and monthly spend limits per tenant (see the module docstring)."""

    def __init__(
        self,
        *,
        ledger: UsageLedgerPort | None,
        flush: Callable[[], Awaitable[None]],
        clocks: Clocks,
        stats: GatewayStats,
    ) -> None:
        self._ledger, self._flush, self._clocks, self._stats = ledger, flush, clocks, stats
        self._spend: dict[tuple[str, str], tuple[float, float, float]] = {}  # -> (since, spent, read_at)

    async def complete(self, call: Call, request: llm.ChatRequest, next: NextComplete) -> llm.ChatResponse:
        """Check the budget, complete, and add what the answer cost."""
        await self.check(call.tenant_id, call.policy)
        try:
            response = await next(call, request)
        except GuardrailViolation as error:
            self._blocked(call, error)
            raise
        self._charged(call, response.cost_usd)
        return response

    async def stream(
        self, call: Call, request: llm.ChatRequest, next: NextStream
    ) -> AsyncIterator[llm.StreamChunk]:
        """Check the budget, stream, and add what the answer cost (a blocked one too: the
        provider's assembled answer is paid for however the stream ends)."""
        await self.check(call.tenant_id, call.policy)
        try:
            async for chunk in next(call, request):
                yield chunk
        finally:
            if call.state.response is not None:
                self._charged(call, call.state.response.cost_usd)

    async def embed(
        self, call: Call, request: llm.EmbeddingRequest, next: NextEmbed
    ) -> llm.EmbeddingResponse:
        """Check the budget, embed, and add what it cost."""
        await self.check(call.tenant_id, call.policy)
        response = await next(call, request)
        self._charged(call, response.cost_usd)
        return response

    async def check(self, tenant_id: str, policy: GatewayConfig) -> None:
        """Raise :class:`BudgetExceeded` when a period's spend has reached its budget."""
        for period, budget, since in self._periods(policy):
            spent = await self._spent(tenant_id, period, since, policy)
            if spent >= budget:
                raise BudgetExceeded(
                    f"tenant {tenant_id} has spent ${spent:.4f} of its {period} budget of ${budget:.4f}",
                    tenant_id=tenant_id,
                    period=period,
                    spent_usd=spent,
                    budget_usd=budget,
                )

    def _blocked(self, call: Call, error: GuardrailViolation) -> None:
        blocked = error.fields.get("response")
        if isinstance(blocked, llm.ChatResponse):
            self._charged(call, blocked.cost_usd)

    def _charged(self, call: Call, cost: float) -> None:
        if cost <= 0 or call.state.source != "provider":
            return
        tenant_id = call.tenant_id
        for (tenant, period), (stamp, spent, read_at) in list(self._spend.items()):
            if tenant == tenant_id:
                self._spend[(tenant, period)] = (stamp, spent + cost, read_at)

    def _periods(self, policy: GatewayConfig) -> list[tuple[str, float, datetime]]:
        if policy.daily_budget_usd is None and policy.monthly_budget_usd is None:
            return []
        now = self._clocks.wall()
        periods = []
        if policy.daily_budget_usd is not None:
            periods.append(
                ("daily", policy.daily_budget_usd, now.replace(hour=0, minute=0, second=0, microsecond=0))
            )
        if policy.monthly_budget_usd is not None:
            start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
            periods.append(("monthly", policy.monthly_budget_usd, start))
        return periods

    async def _spent(self, tenant_id: str, period: str, since: datetime, policy: GatewayConfig) -> float:
        entry = self._spend.get((tenant_id, period))
        stamp = since.timestamp()
        now = self._clocks.monotonic()
        if entry is not None and entry[0] == stamp and now - entry[2] < policy.budget_refresh_seconds:
            return entry[1]
        spent = entry[1] if entry is not None and entry[0] == stamp else 0.0
        if self._ledger is not None:
            try:
                await self._flush()
                spent = await self._ledger.spend(tenant=tenant_id, since=since)
            except ServiceError as error:
                self._stats.ledger_errors += 1
                log.warning("ledger spend query failed (using the last known total): %s", error)
        self._spend[(tenant_id, period)] = (stamp, spent, now)
        return spent

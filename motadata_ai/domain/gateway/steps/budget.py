"""Budget step: refuse a call once one of its budgets is spent, and alert as thresholds are crossed.

A call counts against every budget of the tenant's policy that applies to it (the tenant, its
user, its model: :func:`~motadata_ai.domain.gateway.budgets.budgets_of`). Each budget's spend in
its period comes from the usage ledger (other instances' spend included), cached for
``budget_refresh_seconds`` and advanced locally by what each call that reached the provider cost
(a blocked answer too: it was paid for). A hard budget that is spent refuses the call before any
provider call (:class:`BudgetExceeded`, amounts at the precision the budget was set with).

After a call's cost is added, a threshold the spend has reached for the first time in this
period (as far as this process knows) is handed to :class:`BudgetAlerts`, which claims it in the
ledger and sends it off the call's path: no ledger round trip is made while no threshold is
reached.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from motadata_ai.domain.gateway.budget_alerts import BudgetAlerts
from motadata_ai.domain.gateway.budgets import BudgetRule, budgets_of, period_start, usd
from motadata_ai.domain.gateway.call import Call
from motadata_ai.domain.gateway.config import GatewayConfig
from motadata_ai.domain.gateway.errors import BudgetExceeded, GuardrailViolation
from motadata_ai.domain.gateway.health import GatewayStats
from motadata_ai.domain.gateway.steps.base import Clocks, NextComplete, NextEmbed, NextStream, Step
from motadata_ai.domain.values import llm
from motadata_ai.domain.values.errors import ServiceError
from motadata_ai.domain.values.usage import BudgetAlert
from motadata_ai.ports.ledger import UsageLedgerPort

__all__ = ["BudgetStep"]

log = logging.getLogger("motadata_ai.gateway")


_Named = tuple[tuple[BudgetRule, str], ...]


@dataclass(slots=True)
class _Tally:
    """One budget's spend in its current period, as this process knows it."""

    since: float
    spent: float
    read_at: float
    alerted: set[float] = field(default_factory=set)


class BudgetStep(Step):
    """Spend limits and their alerts (see the module docstring)."""

    def __init__(
        self,
        *,
        ledger: UsageLedgerPort | None,
        flush: Callable[[], Awaitable[None]],
        clocks: Clocks,
        stats: GatewayStats,
        alerts: BudgetAlerts | None = None,
    ) -> None:
        self._ledger, self._flush, self._clocks, self._stats = ledger, flush, clocks, stats
        self.alerts = alerts or BudgetAlerts(ledger=ledger)
        self._tallies: dict[tuple[str, str, str], _Tally] = {}  # (tenant, budget, period) -> tally
        # (policy, user, model) -> the budgets that apply, named (checked on every call)
        self._matched: dict[tuple[int, str | None, str], tuple[GatewayConfig, _Named]] = {}

    async def complete(self, call: Call, request: llm.ChatRequest, next: NextComplete) -> llm.ChatResponse:
        """Check the budgets, complete, and add what the answer cost."""
        await self.check(call.tenant_id, call.policy, user_id=call.user_id, model=call.model)
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
        """Check the budgets, stream, and add what the answer cost (a blocked one too: the
        provider's assembled answer is paid for however the stream ends)."""
        await self.check(call.tenant_id, call.policy, user_id=call.user_id, model=call.model)
        try:
            async for chunk in next(call, request):
                yield chunk
        finally:
            if call.state.response is not None:
                self._charged(call, call.state.response.cost_usd)

    async def embed(
        self, call: Call, request: llm.EmbeddingRequest, next: NextEmbed
    ) -> llm.EmbeddingResponse:
        """Check the budgets, embed, and add what it cost."""
        await self.check(call.tenant_id, call.policy, user_id=call.user_id, model=call.model)
        response = await next(call, request)
        self._charged(call, response.cost_usd)
        return response

    async def check(
        self, tenant_id: str, policy: GatewayConfig, *, user_id: str | None = None, model: str = ""
    ) -> None:
        """Raise :class:`BudgetExceeded` when a hard budget of the call is spent for its period."""
        matched = self._budgets(policy, user_id, model)
        if not matched:
            return
        now = self._clocks.wall()
        starts = {period: period_start(period, now) for period in ("daily", "monthly")}
        for rule, key in matched:
            spent = await self._spent(tenant_id, rule, key, user_id, policy, starts[rule.period])
            if rule.hard_stop and spent >= rule.limit_usd:
                who = f"tenant {tenant_id}" if key == "tenant" else f"{key} of tenant {tenant_id}"
                raise BudgetExceeded(
                    f"{who} has spent {usd(spent, like=rule.limit_usd)} of its {rule.period} budget of "
                    f"{usd(rule.limit_usd, like=rule.limit_usd)}",
                    tenant_id=tenant_id,
                    period=rule.period,
                    spent_usd=spent,
                    budget_usd=rule.limit_usd,
                    budget=key,
                )

    def _blocked(self, call: Call, error: GuardrailViolation) -> None:
        blocked = error.fields.get("response")
        if isinstance(blocked, llm.ChatResponse):
            self._charged(call, blocked.cost_usd)

    def _charged(self, call: Call, cost: float) -> None:
        if cost <= 0 or call.state.source != "provider":
            return
        tenant_id, user_id = call.tenant_id, call.user_id
        for rule, key in self._budgets(call.policy, user_id, call.model):
            tally = self._tallies.get((tenant_id, key, rule.period))
            if tally is not None:
                tally.spent += cost
                self._alert_if_crossed(tenant_id, rule, key, user_id, tally)

    def _budgets(self, policy: GatewayConfig, user_id: str | None, model: str) -> _Named:
        """The budgets of ``policy`` a call of ``user_id`` to ``model`` counts against, named."""
        if policy.daily_budget_usd is None and policy.monthly_budget_usd is None and not policy.budgets:
            return ()
        cache_key = (id(policy), user_id, model)
        cached = self._matched.get(cache_key)
        if cached is not None and cached[0] is policy:
            return cached[1]
        matched = tuple((r, r.key(user_id)) for r in budgets_of(policy) if r.applies(user_id, model))
        if len(self._matched) > 10_000:
            self._matched.clear()
        self._matched[cache_key] = (policy, matched)
        return matched

    def _alert_if_crossed(
        self, tenant_id: str, rule: BudgetRule, key: str, user_id: str | None, tally: _Tally
    ) -> None:
        for threshold in rule.thresholds:
            if tally.spent < threshold * rule.limit_usd or threshold in tally.alerted:
                continue
            tally.alerted.add(threshold)
            user, model = rule.spend_filter(user_id)
            self.alerts.crossed(
                BudgetAlert(
                    tenant_id=tenant_id,
                    budget=key,
                    period=rule.period,
                    period_start=period_start(rule.period, self._clocks.wall()),
                    threshold=threshold,
                    limit_usd=rule.limit_usd,
                    spent_usd=tally.spent,
                    user_id=user,
                    model=model,
                    created_at=self._clocks.wall(),
                )
            )

    async def _spent(
        self,
        tenant_id: str,
        rule: BudgetRule,
        key: str,
        user_id: str | None,
        policy: GatewayConfig,
        since: datetime,
    ) -> float:
        stamp = since.timestamp()
        now = self._clocks.monotonic()
        tally = self._tallies.get((tenant_id, key, rule.period))
        if tally is not None and tally.since == stamp and now - tally.read_at < policy.budget_refresh_seconds:
            return tally.spent
        if tally is None or tally.since != stamp:  # a new period: nothing spent or alerted yet
            if len(self._tallies) > 100_000:
                self._tallies.clear()
            tally = self._tallies[(tenant_id, key, rule.period)] = _Tally(stamp, 0.0, now)
        if self._ledger is not None:
            user, model = rule.spend_filter(user_id)
            try:
                await self._flush()
                read = await self._ledger.spend(tenant=tenant_id, since=since, user_id=user, model=model)
                # a period's spend only grows: a read that started before a concurrent call was
                # charged must not take that charge back (it would hide a threshold crossed)
                tally.spent = max(tally.spent, read)
            except ServiceError as error:
                self._stats.ledger_errors += 1
                log.warning("ledger spend query failed (using the last known total): %s", error)
        tally.read_at = now
        self._alert_if_crossed(tenant_id, rule, key, user_id, tally)
        return tally.spent

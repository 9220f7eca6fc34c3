"""Budget alerts: a threshold crossed raises one alert per budget, period and threshold.

"Once" holds across instances and concurrent calls: before anything is sent, the alert is
*claimed* in the usage ledger (:meth:`UsageLedgerPort.claim_budget_alert`, an atomic insert that
only one caller wins; without a ledger, a claim in this process). The winner then sends it
everywhere it goes:

* an event on the bus, subject ``events.{tenant}.budget.alert`` (type ``budget.alert``, the
  alert in the payload, the alert's id as the envelope id);
* every registered callback (:meth:`BudgetAlerts.on_alert`);
* an audit event, action ``budget.alert`` (resource: the budget; metadata: period, threshold,
  limit and spend);
* the counter ``motadata.budget.alerts`` (tenant, period, threshold).

Alerts are claimed and sent on background tasks, off the call's path; ``flush`` waits for them.
A failure of one destination is logged and does not stop the others.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from motadata_ai.domain.bus.subjects import event_subject
from motadata_ai.domain.values.bus import Envelope
from motadata_ai.domain.values.usage import AuditEvent, BudgetAlert
from motadata_ai.ports.bus import BusPort
from motadata_ai.ports.ledger import UsageLedgerPort
from motadata_ai.ports.telemetry import TENANT_ATTRIBUTE, TelemetryPort

__all__ = ["ALERT_METRIC", "AlertCallback", "BudgetAlerts"]

log = logging.getLogger("motadata_ai.gateway")

AlertCallback = Callable[[BudgetAlert], "Awaitable[None] | None"]
"""Called with each alert this process won (a coroutine function or a plain one)."""

ALERT_METRIC = "motadata.budget.alerts"


class BudgetAlerts:
    """Claims and sends budget alerts (see the module docstring)."""

    def __init__(
        self,
        *,
        ledger: UsageLedgerPort | None = None,
        bus: BusPort | None = None,
        audit: Callable[[AuditEvent], Awaitable[Any]] | None = None,
        telemetry: TelemetryPort | None = None,
    ) -> None:
        self.ledger, self.bus, self.audit, self.telemetry = ledger, bus, audit, telemetry
        self._callbacks: list[AlertCallback] = []
        self._local_claims: set[str] = set()
        self._tasks: set[asyncio.Task[bool]] = set()
        self.sent = 0

    def on_alert(self, callback: AlertCallback) -> Callable[[], None]:
        """Call ``callback`` with every alert; returns a function that unregisters it."""
        self._callbacks.append(callback)
        return lambda: self._callbacks.remove(callback) if callback in self._callbacks else None

    def crossed(self, alert: BudgetAlert) -> None:
        """A threshold was seen crossed: claim and send the alert in the background."""
        task = asyncio.ensure_future(self.raise_alert(alert))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def flush(self) -> None:
        """Wait until every alert seen so far is claimed and sent."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def raise_alert(self, alert: BudgetAlert) -> bool:
        """Claim ``alert`` and, when this caller won the claim, send it; return whether it won."""
        if not await self._claim(alert):
            return False
        self.sent += 1
        await self._publish(alert)
        for callback in list(self._callbacks):
            try:
                result = callback(alert)
                if result is not None:
                    await result
            except Exception as error:
                log.warning("budget alert callback failed: %s", error)
        await self._audit(alert)
        if self.telemetry is not None:
            self.telemetry.add_counter(
                ALERT_METRIC,
                attributes={
                    TENANT_ATTRIBUTE: alert.tenant_id,
                    "period": alert.period,
                    "threshold": alert.threshold,
                },
            )
        return True

    async def _claim(self, alert: BudgetAlert) -> bool:
        if self.ledger is None:
            if alert.id in self._local_claims:
                return False
            if len(self._local_claims) > 100_000:
                self._local_claims.clear()
            self._local_claims.add(alert.id)
            return True
        try:
            return await self.ledger.claim_budget_alert(alert)
        except Exception as error:  # the ledger is down: the next crossing seen claims again
            log.warning("could not claim budget alert %s: %s", alert.id, error)
            return False

    async def _publish(self, alert: BudgetAlert) -> None:
        if self.bus is None:
            return
        envelope = Envelope(
            id=hashlib.sha256(alert.id.encode()).hexdigest()[:32],
            tenant_id=alert.tenant_id,
            type="budget.alert",
            payload=alert.model_dump(mode="json"),
        )
        try:
            await self.bus.publish(event_subject(alert.tenant_id, "budget", "alert"), envelope)
        except Exception as error:
            log.warning("could not publish budget alert %s: %s", alert.id, error)

    async def _audit(self, alert: BudgetAlert) -> None:
        if self.audit is None:
            return
        event = AuditEvent(
            tenant_id=alert.tenant_id,
            user_id=alert.user_id,
            action="budget.alert",
            resource=alert.budget,
            result="success",
            metadata={
                "period": alert.period,
                "period_start": alert.period_start.isoformat(),
                "threshold": alert.threshold,
                "limit_usd": alert.limit_usd,
                "spent_usd": alert.spent_usd,
                "model": alert.model,
            },
        )
        try:
            await self.audit(event)
        except Exception as error:
            log.warning("could not audit budget alert %s: %s", alert.id, error)

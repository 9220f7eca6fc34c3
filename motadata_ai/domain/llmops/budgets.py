"""The budgets use-case (``ai.budgets``): set and read a tenant's budgets, list its alerts,
register alert callbacks.

Budgets are part of the tenant's gateway policy (:class:`TenantPolicy`): setting them here
changes the policy of this process's gateway at run time, checked first (a negative or NaN
amount or threshold is :class:`ConfigurationError`). Alerts are stored in the usage ledger,
once per budget, period and threshold (see :mod:`motadata_ai.domain.gateway.budget_alerts`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import pydantic
from pydantic import BaseModel, ConfigDict

from motadata_ai.domain.gateway.budget_alerts import AlertCallback
from motadata_ai.domain.gateway.budgets import BudgetRule
from motadata_ai.domain.gateway.config import TenantPolicy
from motadata_ai.domain.gateway.service import Gateway
from motadata_ai.domain.values.errors import ConfigurationError, MotadataError
from motadata_ai.domain.values.tenancy import validate_tenant_id
from motadata_ai.domain.values.usage import BudgetAlert
from motadata_ai.ports.ledger import UsageLedgerPort

__all__ = ["Budgets", "TenantBudgets", "policy_with"]


class TenantBudgets(BaseModel):
    """A tenant's effective budgets: the daily and monthly ones with their thresholds, and the rest."""

    model_config = ConfigDict(frozen=True)

    tenant_id: str
    daily_usd: float | None
    monthly_usd: float | None
    thresholds: tuple[float, ...]
    rules: tuple[BudgetRule, ...]


def policy_with(current: TenantPolicy | None, tenant_id: str, **fields: Any) -> TenantPolicy:
    """``current`` (or an empty policy) with ``fields`` replaced, validated: a bad value is
    :class:`ConfigurationError` naming the field."""
    values = current.model_dump(exclude_none=True) if current is not None else {}
    values.update(fields)
    try:
        return TenantPolicy.model_validate(values)
    except pydantic.ValidationError as error:
        problem = error.errors()[0]
        where = ".".join(str(p) for p in problem["loc"])
        raise ConfigurationError(
            f"tenant {tenant_id}: {where}: {problem['msg']} (got {problem.get('input')!r:.80})",
            setting=f"gateway.tenants.{tenant_id}.{problem['loc'][0]}",
            value=repr(problem.get("input"))[:80],
            tenant_id=tenant_id,
        ) from None
    except MotadataError as error:  # a rule or experiment refused by its own type
        raise ConfigurationError(f"tenant {tenant_id}: {error}", tenant_id=tenant_id) from error


class Budgets:
    """``ai.budgets``: a tenant's budgets, its alerts and the alert callbacks."""

    def __init__(self, gateway: Gateway, ledger: UsageLedgerPort | None = None) -> None:
        self.gateway = gateway
        self.ledger = ledger

    def set(
        self,
        tenant_id: str,
        *,
        daily_usd: float | None = None,
        monthly_usd: float | None = None,
        thresholds: Sequence[float] | None = None,
        rules: Sequence[BudgetRule | dict[str, Any]] | None = None,
    ) -> TenantBudgets:
        """Set the tenant's budgets: ``daily_usd`` / ``monthly_usd`` (tenant-wide hard stops),
        ``thresholds`` (their alert fractions) and ``rules`` (per user or model, soft or hard).
        ``None`` keeps the gateway-wide value. Returns the effective budgets."""
        tenant_id = validate_tenant_id(tenant_id)
        current = self.gateway.config.tenants.get(tenant_id)
        policy = policy_with(
            current,
            tenant_id,
            daily_budget_usd=daily_usd,
            monthly_budget_usd=monthly_usd,
            budget_alert_thresholds=None if thresholds is None else tuple(thresholds),
            budgets=None if rules is None else tuple(rules),
        )
        self.gateway.set_tenant_policy(tenant_id, policy)
        return self.get(tenant_id)

    def get(self, tenant_id: str) -> TenantBudgets:
        """The tenant's effective budgets (its policy over the gateway-wide values)."""
        policy = self.gateway.policy(tenant_id)
        return TenantBudgets(
            tenant_id=validate_tenant_id(tenant_id),
            daily_usd=policy.daily_budget_usd,
            monthly_usd=policy.monthly_budget_usd,
            thresholds=tuple(sorted(set(policy.budget_alert_thresholds))),
            rules=policy.budgets,
        )

    async def alerts(
        self, tenant_id: str, *, since: datetime | None = None, limit: int = 100
    ) -> list[BudgetAlert]:
        """The tenant's alerts, newest first (``[]`` without a ledger)."""
        tenant_id = validate_tenant_id(tenant_id)
        if self.ledger is None:
            return []
        await self.gateway.flush()
        return await self.ledger.budget_alerts(tenant=tenant_id, since=since, limit=limit)

    def on_alert(self, callback: AlertCallback) -> Callable[[], None]:
        """Call ``callback`` with each alert this process sends; returns the unregister function."""
        return self.gateway.budget_alerts.on_alert(callback)

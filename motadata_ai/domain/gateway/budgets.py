"""Budgets of a tenant: daily or monthly spend limits, with warning thresholds.

A :class:`BudgetRule` covers the whole tenant, one user (``user="bob"``), each user on their own
(``user="*"``) or one model (``model=...``), in a ``daily`` or ``monthly`` period (UTC calendar
days and months). Its ``thresholds`` are fractions of the limit (``0.5, 0.8, 1.0`` by default):
each one crossed raises one alert per period. ``hard_stop`` (on by default) refuses calls once
the limit is spent, before any provider call (:class:`BudgetExceeded`).

The tenant-wide ``daily_budget_usd`` and ``monthly_budget_usd`` of the gateway configuration are
budgets too, with the configuration's ``budget_alert_thresholds``: :func:`budgets_of` lists every
budget a policy sets.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

from pydantic import ConfigDict, Field, field_validator

from motadata_ai.domain.values.base import ValueModel
from motadata_ai.domain.values.usage import BudgetPeriod

if TYPE_CHECKING:
    from motadata_ai.domain.gateway.config import GatewayConfig

__all__ = [
    "DEFAULT_THRESHOLDS",
    "EACH_USER",
    "BudgetRule",
    "Threshold",
    "Thresholds",
    "budgets_of",
    "period_start",
    "usd",
]

DEFAULT_THRESHOLDS = (0.5, 0.8, 1.0)
"""Alert at half, four fifths and all of a budget."""

EACH_USER = "*"
"""``BudgetRule(user="*")``: every user of the tenant has the limit on their own."""

Threshold = Annotated[float, Field(gt=0, le=10, allow_inf_nan=False)]
"""A warning threshold: a fraction of the budget (above 1: an overspend alert of a soft budget)."""

Thresholds = Annotated[tuple[Threshold, ...], Field(max_length=20)]


def _sorted_thresholds(values: tuple[float, ...]) -> tuple[float, ...]:
    return tuple(sorted(set(values)))


class BudgetRule(ValueModel):
    """One spend limit of a tenant (see the module docstring)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    period: BudgetPeriod
    limit_usd: float = Field(ge=0, le=10**9, allow_inf_nan=False, description="USD per period")
    user: str | None = Field(None, min_length=1, max_length=256, description="A user, '*' for each user")
    model: str | None = Field(None, min_length=1, max_length=256, description="Only this model's calls")
    thresholds: Thresholds = DEFAULT_THRESHOLDS
    hard_stop: bool = Field(True, description="Refuse calls once the limit is spent")

    _thresholds = field_validator("thresholds", mode="after")(_sorted_thresholds)

    def applies(self, user_id: str | None, model: str) -> bool:
        """Whether a call of ``user_id`` to ``model`` counts against this budget."""
        if self.model is not None and self.model != model:
            return False
        if self.user is None:
            return True
        return user_id is not None and (self.user == EACH_USER or self.user == user_id)

    def key(self, user_id: str | None) -> str:
        """The budget's name for a call of ``user_id``: ``tenant``, ``user:bob``, ``model:m``,
        ``user:bob|model:m`` (a ``*`` budget names the calling user)."""
        parts = []
        if self.user is not None:
            parts.append(f"user:{user_id if self.user == EACH_USER else self.user}")
        if self.model is not None:
            parts.append(f"model:{self.model}")
        return "|".join(parts) or "tenant"

    def spend_filter(self, user_id: str | None) -> tuple[str | None, str | None]:
        """``(user_id, model)`` to pass to the ledger's spend query for a call of ``user_id``."""
        user = None if self.user is None else (user_id if self.user == EACH_USER else self.user)
        return user, self.model


def budgets_of(policy: GatewayConfig) -> tuple[BudgetRule, ...]:
    """Every budget ``policy`` sets: its tenant-wide daily and monthly budgets, then ``budgets``."""
    rules: list[BudgetRule] = []
    for period, limit in (("daily", policy.daily_budget_usd), ("monthly", policy.monthly_budget_usd)):
        if limit is not None:
            rules.append(
                BudgetRule(period=period, limit_usd=limit, thresholds=policy.budget_alert_thresholds)
            )
    rules.extend(policy.budgets)
    return tuple(rules)


def period_start(period: BudgetPeriod, now: datetime) -> datetime:
    """The start of the UTC day or month ``now`` falls in."""
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return day if period == "daily" else day.replace(day=1)


def usd(amount: float, *, like: float) -> str:
    """``amount`` in dollars with as many decimals as ``like`` was written with (at least two):
    a $0.0005 budget shows as ``$0.0005``, never ``$0.0000``."""
    exponent = Decimal(repr(float(like))).normalize().as_tuple().exponent
    decimals = max(2, -exponent if isinstance(exponent, int) and exponent < 0 else 0)
    return f"${amount:,.{min(decimals, 12)}f}"

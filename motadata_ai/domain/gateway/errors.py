"""The gateway's own errors, each with structured fields declared on its class.

::

    ServiceError
    ├── RateLimited          tenant_id, model, scope, retry_after (s)
    ├── CircuitOpen          model, provider, retry_after (s), tried
    ├── BudgetExceeded       tenant_id, period, spent_usd, budget_usd, budget (domain.values.errors: the
    │                        SDK's one budget error; an agent's TaskBudgetExceeded is one too)
    └── ProviderError (ports.llm)
        └── RetriesExhausted model, tenant_id, attempts (list of dicts: model, attempt, error, status_code)
    UsageError
    └── ValidationError
        └── GuardrailViolation   tenant_id, model, stage ("input"/"output"), level, reasons
"""

from __future__ import annotations

from typing import Any

from motadata_ai.domain.values.errors import BudgetExceeded, ServiceError, ValidationError
from motadata_ai.ports.llm import ProviderError

__all__ = ["BudgetExceeded", "CircuitOpen", "GuardrailViolation", "RateLimited", "RetriesExhausted"]


class RateLimited(ServiceError):
    """The tenant (or tenant and model) is over its limit; try again after ``retry_after`` seconds.

    ``scope`` names the refused buckets (``requests``, ``tokens``, ``model_requests`` ...).
    """

    model: str | None = None
    scope: list[str] | None = None
    retry_after: float | None = None


class CircuitOpen(ServiceError):
    """Every model the call could use has an open circuit; ``retry_after`` is when one may reopen."""

    model: str | None = None
    provider: str | None = None
    retry_after: float | None = None
    tried: list[str] | None = None


class RetriesExhausted(ProviderError):
    """Every attempt on every model failed; ``attempts`` lists them in order."""

    attempts: list[dict[str, Any]] | None = None


class GuardrailViolation(ValidationError):
    """A guardrail refused the input or the output; ``reasons`` lists why (never the offending text)."""

    model: str | None = None
    stage: str | None = None
    level: str | None = None
    reasons: list[str] | None = None

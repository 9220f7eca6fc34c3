"""The gateway's own errors, each with structured fields.

::

    ServiceError
    ├── RateLimited          tenant_id, model, scope, retry_after (s)
    ├── CircuitOpen          model, provider, retry_after (s), tried
    ├── BudgetExceeded       tenant_id, period, spent_usd, budget_usd
    └── ProviderError (ports.llm)
        └── RetriesExhausted model, tenant_id, attempts (list of dicts: model, attempt, error, status_code)
    ValidationError
    └── GuardrailViolation   tenant_id, model, stage ("input"/"output"), level, reasons
"""

from __future__ import annotations

from motadata_ai.domain.values.errors import ServiceError, ValidationError
from motadata_ai.ports.llm import ProviderError

__all__ = ["BudgetExceeded", "CircuitOpen", "GuardrailViolation", "RateLimited", "RetriesExhausted"]


class RateLimited(ServiceError):
    """The tenant (or tenant and model) is over its limit; try again after ``retry_after`` seconds.

    ``scope`` names the refused buckets (``requests``, ``tokens``, ``model_requests`` ...).
    """


class CircuitOpen(ServiceError):
    """Every model the call could use has an open circuit; ``retry_after`` is when one may reopen."""


class BudgetExceeded(ServiceError):
    """The tenant's ``period`` budget (``daily``/``monthly``) is spent: ``spent_usd`` of ``budget_usd``."""


class RetriesExhausted(ProviderError):
    """Every attempt on every model failed; ``attempts`` lists them in order."""


class GuardrailViolation(ValidationError):
    """A guardrail refused the input or the output; ``reasons`` lists why (never the offending text)."""

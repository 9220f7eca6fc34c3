"""The AI gateway: the one path every LLM call and embedding takes."""

from motadata_ai.domain.gateway.chat_stream import ChatStream
from motadata_ai.domain.gateway.config import GatewayConfig, TenantPolicy
from motadata_ai.domain.gateway.errors import (
    BudgetExceeded,
    CircuitOpen,
    GuardrailViolation,
    RateLimited,
    RetriesExhausted,
)
from motadata_ai.domain.gateway.limits import LocalLimits
from motadata_ai.domain.gateway.service import Gateway, GatewayHealth, GatewayStats

__all__ = [
    "BudgetExceeded",
    "ChatStream",
    "CircuitOpen",
    "Gateway",
    "GatewayConfig",
    "GatewayHealth",
    "GatewayStats",
    "GuardrailViolation",
    "LocalLimits",
    "RateLimited",
    "RetriesExhausted",
    "TenantPolicy",
]

"""LLMOps over the usage ledger: reports grouped by model, user, operation or day, and cost
recommendations computed from the ledger, each with the figure behind it."""

from motadata_ai.domain.usage.recommendations import RecommendationPolicy
from motadata_ai.domain.usage.report import group_key, percentile, repeated_of, report_of
from motadata_ai.domain.usage.service import UsageService

__all__ = ["RecommendationPolicy", "UsageService", "group_key", "percentile", "repeated_of", "report_of"]

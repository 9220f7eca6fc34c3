"""The AI gateway: the one path every LLM call and embedding takes."""

from motadata_ai.domain.gateway.service import Gateway

__all__ = ["Gateway"]

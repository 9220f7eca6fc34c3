"""ModelUsage: the tokens and cost one step of a RAG call spent, returned with the step's result.

Each collaborator (query rewrite, query embedding, re-ranking, the answer's chat call, an ingest's
embedding batches) returns what *its own* calls spent, and the use-case adds them up: no shared
counter is read before and after a call, so concurrent calls never count each other's tokens.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from motadata_ai.domain.values.llm import ChatResponse, EmbeddingResponse


@dataclass(frozen=True)
class ModelUsage:
    """Input and output tokens and the cost in USD of one or more model calls."""

    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0

    def __add__(self, other: ModelUsage) -> ModelUsage:
        return ModelUsage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cost_usd=self.cost_usd + other.cost_usd,
        )

    @classmethod
    def of_chat(cls, response: ChatResponse) -> ModelUsage:
        """What one completion spent."""
        return cls(response.usage.input_tokens, response.usage.output_tokens, response.cost_usd)

    @classmethod
    def of_embedding(cls, response: EmbeddingResponse) -> ModelUsage:
        """What one embedding call spent (input tokens only)."""
        return cls(response.usage.input_tokens, 0, response.cost_usd)

    @classmethod
    def total(cls, usages: Iterable[ModelUsage]) -> ModelUsage:
        """The sum of ``usages``, in order."""
        result = cls()
        for usage in usages:
            result = result + usage
        return result


NO_USAGE = ModelUsage()
"""What a step that called no model spent."""

"""Text-model ports besides chat and embeddings: token counting and cross-encoder re-ranking."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from motadata_ai.domain.values.errors import ServiceError


class RerankerError(ServiceError):
    """The re-ranking model failed (``model`` names it)."""


class TokenizerPort(ABC):
    """Counts tokens the same way everywhere: chunk sizes, overlaps and context budgets.

    Synchronous on purpose: tokenising is CPU work on a string, never I/O.
    """

    name: str = "tokenizer"

    @abstractmethod
    def count(self, text: str) -> int:
        """How many tokens ``text`` takes."""

    @abstractmethod
    def truncate(self, text: str, max_tokens: int) -> str:
        """The longest prefix of ``text`` that takes at most ``max_tokens`` tokens."""


class RerankerPort(ABC):
    """Scores (query, passage) pairs jointly, like a cross-encoder; higher is more relevant."""

    model: str = "reranker"

    @abstractmethod
    async def score(self, query: str, passages: Sequence[str]) -> list[float]:
        """One relevance score per passage, in input order."""

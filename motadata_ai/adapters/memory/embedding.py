"""HashEmbeddings: a deterministic, dependency-free EmbeddingPort for tests and the memory profile.

Texts become bag-of-words vectors hashed into ``dimensions`` buckets (normalised), so texts that
share words are close. It is no semantic model; the local MiniLM provider is.
"""

from __future__ import annotations

import hashlib
import math
import re

from motadata_ai.adapters.memory._health import InProcessProbe
from motadata_ai.domain.values.llm import EmbeddingRequest, EmbeddingResponse, Usage
from motadata_ai.ports.embedding import EmbeddingPort

_WORD = re.compile(r"[^\W_]+")  # letters and digits of any script (ASCII words as before)


class HashEmbeddings(InProcessProbe, EmbeddingPort):
    """Feature-hashed bag-of-words vectors; ``calls`` counts embed requests."""

    def __init__(self, *, dimensions: int = 384) -> None:
        self._dimensions = dimensions
        self.calls: list[EmbeddingRequest] = []

    def dimensions(self, model: str) -> int | None:
        """Always the configured size."""
        return self._dimensions

    def vector(self, text: str) -> tuple[float, ...]:
        """The normalised hashed vector of one text."""
        values = [0.0] * self._dimensions
        for word in _WORD.findall(text.lower()):
            digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
            bucket = int.from_bytes(digest[:4], "little") % self._dimensions
            values[bucket] += 1.0 if digest[4] & 1 else -1.0
        norm = math.sqrt(sum(v * v for v in values)) or 1.0
        return tuple(v / norm for v in values)

    async def embed(self, request: EmbeddingRequest, *, timeout: float | None = None) -> EmbeddingResponse:
        """Embed every input."""
        self.calls.append(request)
        return EmbeddingResponse(
            model=request.model,
            vectors=tuple(self.vector(text) for text in request.inputs),
            usage=Usage(input_tokens=sum(len(_WORD.findall(t.lower())) for t in request.inputs)),
        )

"""Re-ranking of retrieved candidates: cross-encoder, LLM, or the local score-fusion fallback.

* :class:`CrossEncoderReranker` scores (query, passage) pairs with a :class:`RerankerPort`
  (a sentence-transformers cross-encoder loaded from a local path).
* :class:`LLMReranker` asks a generative model through the gateway to grade each passage 0-10.
* :class:`ScoreFusionReranker` needs no model: it re-scores the candidates by a convex
  combination of their min-max normalised cosine and keyword scores (Bruch et al., "An Analysis
  of Fusion Functions for Hybrid Retrieval", 2023), which uses the scores RRF throws away.
  It is the default re-ranker of the embedded profile, where no cross-encoder weights ship.

Every re-ranker returns the candidates re-ordered with ``score`` set to its own score. One that
calls a model also offers ``rerank_with_usage`` (:class:`UsageReportingReranker`), which returns
what that call spent with the result; :func:`rerank_counted` uses it where a re-ranker has it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol, runtime_checkable

from motadata_ai.domain.retrieval.context import collapse_whitespace
from motadata_ai.domain.retrieval.usage import NO_USAGE, ModelUsage
from motadata_ai.domain.values.documents import Source
from motadata_ai.domain.values.errors import ValidationError
from motadata_ai.domain.values.llm import ChatRequest, ChatResponse, Message
from motadata_ai.domain.values.tenancy import TenantContext
from motadata_ai.ports.llm import ProviderError
from motadata_ai.ports.text import RerankerError, RerankerPort


class Reranker(Protocol):
    """Re-orders candidates for a query (best first), setting ``score`` to the re-ranker's score."""

    name: str

    async def rerank(
        self, query: str, candidates: Sequence[Source], *, tenant: TenantContext
    ) -> list[Source]:
        """The candidates, re-ordered."""
        ...


@runtime_checkable
class UsageReportingReranker(Reranker, Protocol):
    """A re-ranker that calls a model and reports what each re-ranking spent."""

    async def rerank_with_usage(
        self, query: str, candidates: Sequence[Source], *, tenant: TenantContext
    ) -> tuple[list[Source], ModelUsage]:
        """The candidates, re-ordered, and the usage of this re-ranking's model call."""
        ...


async def rerank_counted(
    reranker: Reranker, query: str, candidates: Sequence[Source], *, tenant: TenantContext
) -> tuple[list[Source], ModelUsage]:
    """Re-rank with ``reranker``; what its own call spent (nothing for one that calls no model)."""
    if isinstance(reranker, UsageReportingReranker):
        return await reranker.rerank_with_usage(query, candidates, tenant=tenant)
    return await reranker.rerank(query, candidates, tenant=tenant), NO_USAGE


def _ordered(candidates: Sequence[Source], scores: Sequence[float]) -> list[Source]:
    order = sorted(range(len(candidates)), key=lambda i: -scores[i])
    return [candidates[i].model_copy(update={"score": float(scores[i])}) for i in order]


class CrossEncoderReranker:
    """Cross-encoder scores from a :class:`RerankerPort`; on failure the order is kept."""

    def __init__(self, model: RerankerPort, *, max_passage_chars: int = 2000) -> None:
        self._model = model
        self.name = f"cross-encoder:{model.model}"
        self.max_passage_chars = max_passage_chars

    async def rerank(
        self, query: str, candidates: Sequence[Source], *, tenant: TenantContext
    ) -> list[Source]:
        """Score every (query, passage) pair and sort by the score."""
        if not candidates:
            return []
        passages = [f"{c.title}\n{c.text}"[: self.max_passage_chars] for c in candidates]
        try:
            scores = await self._model.score(query, passages)
        except RerankerError:
            return list(candidates)
        return _ordered(candidates, scores)


RERANK_PROMPT = (
    "Grade how well each numbered passage answers the question, from 0 (unrelated) to 10 (answers "
    'it fully). Reply with JSON only: {"scores": [<one number per passage, in order>]}.'
)
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


class LLMReranker:
    """Grades passages with a generative model through the gateway (one call per query)."""

    def __init__(
        self,
        *,
        generate: Callable[[ChatRequest, TenantContext], Awaitable[ChatResponse]],
        model: str,
        max_passage_chars: int = 600,
    ) -> None:
        self._generate = generate
        self.model = model
        self.name = f"llm:{model}"
        self.max_passage_chars = max_passage_chars
        self.input_tokens = 0
        self.output_tokens = 0
        self.cost_usd = 0.0

    async def rerank(
        self, query: str, candidates: Sequence[Source], *, tenant: TenantContext
    ) -> list[Source]:
        """Ask for one grade per passage; keep the original order when the reply is unusable."""
        ranked, _ = await self.rerank_with_usage(query, candidates, tenant=tenant)
        return ranked

    async def rerank_with_usage(
        self, query: str, candidates: Sequence[Source], *, tenant: TenantContext
    ) -> tuple[list[Source], ModelUsage]:
        """:meth:`rerank` and what its model call spent (``input_tokens`` ... keep a running total)."""
        if not candidates:
            return [], NO_USAGE
        lines = [
            f"[{i}] {collapse_whitespace(c.title)}: {collapse_whitespace(c.text)[: self.max_passage_chars]}"
            for i, c in enumerate(candidates, start=1)
        ]
        request = ChatRequest(
            model=self.model,
            messages=(
                Message(role="system", content=RERANK_PROMPT),
                Message(role="user", content=f"Question: {query}\n\nPassages:\n" + "\n".join(lines)),
            ),
            temperature=0.0,
            max_tokens=16 + 6 * len(candidates),
        )
        try:
            response = await self._generate(request, tenant)
        except ProviderError:
            return list(candidates), NO_USAGE
        spent = ModelUsage.of_chat(response)
        self.input_tokens += spent.input_tokens
        self.output_tokens += spent.output_tokens
        self.cost_usd += spent.cost_usd
        grades = parse_grades(response.text, len(candidates))
        if grades is None:
            return list(candidates), spent
        # ties keep the first-stage order: add a tiny rank-based tie breaker
        scores = [g / 10.0 + (len(candidates) - i) * 1e-6 for i, g in enumerate(grades)]
        return _ordered(candidates, scores), spent


def parse_grades(text: str, expected: int) -> list[float] | None:
    """Grades from ``{"scores": [...]}`` (or a bare list of numbers); ``None`` if not ``expected`` many."""
    values: list[float] | None = None
    try:
        data = json.loads(text[text.index("{") : text.rindex("}") + 1]) if "{" in text else json.loads(text)
        raw = data.get("scores") if isinstance(data, dict) else data
        if isinstance(raw, list):
            values = [float(v) for v in raw]
    except (ValueError, TypeError):
        values = None
    if values is None:
        values = [float(v) for v in _NUMBER.findall(text)]
    if len(values) != expected:
        return None
    return [max(0.0, min(10.0, v)) for v in values]


def _min_max(values: Sequence[float | None]) -> list[float]:
    known = [v for v in values if v is not None]
    if not known:
        return [0.0] * len(values)
    low, high = min(known), max(known)
    span = high - low
    return [0.0 if v is None else ((v - low) / span if span > 0 else 1.0) for v in values]


class ScoreFusionReranker:
    """Convex combination of normalised cosine and keyword scores (see module doc).

    ``alpha`` weighs the dense side: ``score = alpha * norm(cosine) + (1 - alpha) * norm(keyword)``;
    a candidate the keyword retriever did not return counts 0 on that side.
    """

    def __init__(self, *, alpha: float = 0.5) -> None:
        if not 0.0 <= alpha <= 1.0:
            raise ValidationError(f"alpha must be in [0, 1], got {alpha}", field="alpha")
        self.alpha = alpha
        self.name = f"score-fusion:alpha={alpha}"

    async def rerank(
        self, query: str, candidates: Sequence[Source], *, tenant: TenantContext
    ) -> list[Source]:
        """Re-score and sort; ties keep the first-stage order."""
        dense = _min_max([c.dense_score for c in candidates])
        keyword = _min_max([c.keyword_score for c in candidates])
        scores = [
            self.alpha * d + (1.0 - self.alpha) * k - i * 1e-9
            for i, (d, k) in enumerate(zip(dense, keyword, strict=True))
        ]
        return _ordered(candidates, scores)

"""What one user request has cost so far: the sum of the usage records of its calls.

A :class:`RequestUsage` travels on the request's
:class:`~motadata_ai.domain.values.calls.CallOrigin`; the gateway's ledger step adds each record of
a call made on the request's behalf as it builds it. A request joined from inside another one (a
RAG query inside a unified query) gets its own accumulator whose records also count for the outer
one, so each response reports its own calls and the outer response the sum of all. Concurrent
requests never share an accumulator: nothing here is a shared counter that callers diff.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["RequestUsage", "UsageFigures"]


class UsageFigures(Protocol):
    """The figures of one usage record that a request sums."""

    @property
    def input_tokens(self) -> int:
        """Input tokens charged."""
        ...

    @property
    def output_tokens(self) -> int:
        """Output tokens charged."""
        ...

    @property
    def cost_usd(self) -> float:
        """USD charged."""
        ...

    @property
    def saved_usd(self) -> float:
        """USD a cache or de-duplication hit saved."""
        ...


class RequestUsage:
    """Calls, tokens, cost and savings of one request (and of the requests it is part of)."""

    __slots__ = ("calls", "cost_usd", "input_tokens", "output_tokens", "parent", "saved_usd")

    def __init__(self, parent: RequestUsage | None = None) -> None:
        self.parent = parent
        self.calls = 0
        self.input_tokens = 0
        self.output_tokens = 0
        self.cost_usd = 0.0
        self.saved_usd = 0.0

    def add(self, record: UsageFigures) -> None:
        """Count one call's record here and in every enclosing request."""
        usage: RequestUsage | None = self
        while usage is not None:
            usage.calls += 1
            usage.input_tokens += record.input_tokens
            usage.output_tokens += record.output_tokens
            usage.cost_usd += record.cost_usd
            usage.saved_usd += record.saved_usd
            usage = usage.parent

    def totals(self) -> dict[str, int | float]:
        """``input_tokens``, ``output_tokens`` and ``cost_usd``: what a response reports."""
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cost_usd": self.cost_usd,
        }

    def child(self) -> RequestUsage:
        """A new accumulator for a part of this request (its records count here too)."""
        return RequestUsage(self)

    def __repr__(self) -> str:
        return (
            f"RequestUsage(calls={self.calls}, input_tokens={self.input_tokens}, "
            f"output_tokens={self.output_tokens}, cost_usd={self.cost_usd!r})"
        )

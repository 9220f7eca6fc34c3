"""The OpenTelemetry semantic conventions the SDK follows where the tracer and meter are made.

* Histogram bucket boundaries: the GenAI conventions' advice for
  ``gen_ai.client.operation.duration`` (0.01 … 81.92 s, doubling) and
  ``gen_ai.client.token.usage`` (1, 4, 16 … 67,108,864, times four); other durations in seconds
  get the duration buckets too, so a call under 5 s is not lost in one bucket.
* Span kind: a GenAI model call (``gen_ai.operation.name`` ``chat``, ``embeddings``,
  ``text_completion``, ``generate_content``) reaches a provider, so it is a CLIENT span.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from motadata_ai.ports.telemetry import SpanKind

__all__ = [
    "DURATION_BOUNDARIES",
    "HISTOGRAM_BOUNDARIES",
    "MODEL_CALL_OPERATIONS",
    "TOKEN_BOUNDARIES",
    "boundaries_for",
    "span_kind_for",
]

DURATION_BOUNDARIES: tuple[float, ...] = tuple(round(0.01 * 2**i, 2) for i in range(14))
"""0.01, 0.02, 0.04 … 81.92 seconds."""

TOKEN_BOUNDARIES: tuple[float, ...] = tuple(float(4**i) for i in range(14))
"""1, 4, 16 … 67,108,864 tokens."""

HISTOGRAM_BOUNDARIES: dict[str, tuple[float, ...]] = {
    "gen_ai.client.operation.duration": DURATION_BOUNDARIES,
    "gen_ai.server.request.duration": DURATION_BOUNDARIES,
    "gen_ai.client.token.usage": TOKEN_BOUNDARIES,
}
"""The recommended boundaries of the GenAI histograms, by metric name."""

MODEL_CALL_OPERATIONS = frozenset({"chat", "embeddings", "text_completion", "generate_content"})
"""GenAI operations that call a model provider (CLIENT spans)."""


def boundaries_for(name: str, unit: str) -> list[float] | None:
    """The bucket boundaries for a histogram: the convention's, else the duration buckets for a
    unit of seconds, else the SDK's defaults (``None``)."""
    chosen = HISTOGRAM_BOUNDARIES.get(name)
    if chosen is None and unit == "s":
        chosen = DURATION_BOUNDARIES
    return list(chosen) if chosen is not None else None


def span_kind_for(kind: SpanKind, attributes: Mapping[str, Any] | None) -> SpanKind:
    """``kind``, except that a GenAI model call is always a CLIENT span."""
    if attributes and attributes.get("gen_ai.operation.name") in MODEL_CALL_OPERATIONS:
        return "client"
    return kind

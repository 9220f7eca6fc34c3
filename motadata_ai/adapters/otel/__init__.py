"""OpenTelemetry adapter for the telemetry port."""

from motadata_ai.adapters.otel.telemetry import OtelSpan, OtelTelemetry

__all__ = ["OtelSpan", "OtelTelemetry"]

"""Spans and metrics around the ML use-case: ``ml.train``, ``ml.predict``, ``ml.predict_batch``,
``ml.drift_report``, kept apart from :class:`~motadata_ai.domain.ml.system.MLSystem` itself.

Each result carries the trace id of its span. Metrics: ``motadata.ml.predictions`` (count, by
model and whether the cache answered), ``motadata.ml.predict.duration`` (s),
``motadata.ml.drift.checks`` (by whether the sample drifted). No span attribute holds a
record's values.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from motadata_ai.domain.memory._telemetry import NoTelemetry
from motadata_ai.domain.ml.system import MLSystem
from motadata_ai.domain.values.arguments import check_collection
from motadata_ai.domain.values.ml import DriftReport, Prediction, TrainingRun
from motadata_ai.ports.telemetry import TENANT_ATTRIBUTE, AttributeValue, TelemetryPort

__all__ = ["TracedMLSystem"]


class TracedMLSystem(MLSystem):
    """:class:`MLSystem` with a span (and metrics) around training, prediction and drift checks."""

    def __init__(self, *args: Any, telemetry: TelemetryPort | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.telemetry: TelemetryPort = telemetry or NoTelemetry()

    def _attributes(
        self, operation: str, model_name: str, **more: AttributeValue
    ) -> dict[str, AttributeValue]:
        return {
            TENANT_ATTRIBUTE: self.tenant.tenant_id,
            "motadata.ml.operation": operation,
            "motadata.ml.model": model_name,
            **more,
        }

    def _trace_id(self) -> str:
        """The current span's trace id: a training run stores that of its ``ml.train`` span."""
        return self.telemetry.current_trace_id()

    async def train(self, dataset: Any, *, model_name: str, **options: Any) -> TrainingRun:
        """:meth:`MLSystem.train` in an ``ml.train`` span (the run stored carries its trace id)."""
        attributes = self._attributes(
            "train", model_name, **{"motadata.ml.estimator": str(options.get("estimator", ""))}
        )
        with self.telemetry.span("ml.train", attributes=attributes) as span:
            run = await super().train(dataset, model_name=model_name, **options)
            span.set_attribute("motadata.ml.run.status", run.status)
            if run.version is not None:
                span.set_attribute("motadata.ml.version", run.version)
            return run if run.trace_id else run.model_copy(update={"trace_id": span.trace_id})

    async def predict(self, model_name: str, record: Mapping[str, Any], **options: Any) -> Prediction:
        """:meth:`MLSystem.predict` in an ``ml.predict`` span."""
        started = time.perf_counter()
        with self.telemetry.span("ml.predict", attributes=self._attributes("predict", model_name)) as span:
            prediction = await super().predict(model_name, record, **options)
            span.set_attribute("motadata.ml.version", prediction.version)
            span.set_attribute("motadata.ml.cached", prediction.cached)
            self._prediction_metrics(model_name, 1, time.perf_counter() - started, cached=prediction.cached)
            return prediction.model_copy(update={"trace_id": span.trace_id})

    async def predict_batch(
        self, model_name: str, records: Sequence[Mapping[str, Any]], **options: Any
    ) -> list[Prediction]:
        """:meth:`MLSystem.predict_batch` in an ``ml.predict_batch`` span."""
        started = time.perf_counter()
        records = check_collection("records", records)
        attributes = self._attributes("predict_batch", model_name, **{"motadata.ml.records": len(records)})
        with self.telemetry.span("ml.predict_batch", attributes=attributes) as span:
            predictions = await super().predict_batch(model_name, records, **options)
            self._prediction_metrics(
                model_name, len(predictions), time.perf_counter() - started, cached=False
            )
            return [p.model_copy(update={"trace_id": span.trace_id}) for p in predictions]

    async def drift_report(self, model_name: str, *args: Any, **options: Any) -> DriftReport:
        """:meth:`MLSystem.drift_report` in an ``ml.drift_report`` span."""
        with self.telemetry.span("ml.drift_report", attributes=self._attributes("drift", model_name)) as span:
            report = await super().drift_report(model_name, *args, **options)
            span.set_attribute("motadata.ml.drifted", report.drifted)
            self.telemetry.add_counter(
                "motadata.ml.drift.checks",
                1,
                attributes={
                    TENANT_ATTRIBUTE: self.tenant.tenant_id,
                    "motadata.ml.model": model_name,
                    "motadata.ml.drifted": report.drifted,
                },
            )
            return report

    def _prediction_metrics(self, model_name: str, count: int, elapsed_s: float, *, cached: bool) -> None:
        attributes = {TENANT_ATTRIBUTE: self.tenant.tenant_id, "motadata.ml.model": model_name}
        self.telemetry.add_counter(
            "motadata.ml.predictions", count, attributes={**attributes, "motadata.ml.cached": cached}
        )
        self.telemetry.record_histogram(
            "motadata.ml.predict.duration", elapsed_s, unit="s", attributes=attributes
        )

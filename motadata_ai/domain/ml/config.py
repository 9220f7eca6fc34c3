"""MLConfig: the tunables of a tenant's ML system, each default written once, each number bounded.

:class:`~motadata_ai.domain.ml.system.MLSystem` takes one frozen :class:`MLConfig` (``config=``,
from ``Settings.ml`` in an app) and any of its fields as keyword overrides (:class:`MLOptions`);
a value out of bounds is refused with the SDK's
:class:`~motadata_ai.domain.values.errors.ValidationError` naming the field.
"""

from __future__ import annotations

from typing import Any, TypedDict

from pydantic import ConfigDict, Field

from motadata_ai.domain.values.base import ValueModel

__all__ = ["MLConfig", "MLOptions"]


class MLConfig(ValueModel):
    """Memory, device, prediction cache, prediction log sampling, drift and alias-cache settings."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_memory_mb: float = Field(
        2048, gt=0, le=1_048_576, description="Loaded models kept in memory up to this (measured sizes)"
    )
    enable_gpu: bool = Field(False, description="Train PyTorch models on CUDA when present")
    cache_predictions: bool = Field(True, description="Answer repeated records from the cache port")
    prediction_cache_ttl: float | None = Field(
        3600.0, gt=0, le=31_536_000, description="Seconds a cached prediction lives; None: no expiry"
    )
    log_sample_rate: float = Field(0.1, ge=0, le=1, description="Share of predictions written to the log")
    drift_psi_threshold: float = Field(0.2, gt=0, le=100, description="A feature drifts above this PSI")
    drift_ks_alpha: float = Field(0.01, gt=0, lt=1, description="KS test significance level")
    drift_ks_min_statistic: float = Field(
        0.1, ge=0, le=1, description="KS distance below which a significant shift is not drift"
    )
    alias_cache_ttl: float = Field(
        2.0, ge=0, le=3600, description="Seconds an alias's resolved version is reused"
    )

    def with_options(self, options: MLOptions | dict[str, Any]) -> MLConfig:
        """This configuration with ``options`` on top (validated whole)."""
        if not options:
            return self
        return MLConfig.model_validate({**dict(self), **options})


class MLOptions(TypedDict, total=False):
    """Keyword overrides of :class:`MLConfig` fields, as ``MLSystem(...)`` takes them."""

    max_memory_mb: float
    enable_gpu: bool
    cache_predictions: bool
    prediction_cache_ttl: float | None
    log_sample_rate: float
    drift_psi_threshold: float
    drift_ks_alpha: float
    drift_ks_min_statistic: float
    alias_cache_ttl: float

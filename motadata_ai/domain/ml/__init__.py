"""The ML framework's use-case (:class:`MLSystem`) and its pure helpers (validation, metrics, drift)."""

from motadata_ai.domain.ml.dataset import normalise_record, split_indices, validate_dataset
from motadata_ai.domain.ml.drift import ks_two_sample, psi
from motadata_ai.domain.ml.metrics import classification_metrics
from motadata_ai.domain.ml.serving import ModelLRU
from motadata_ai.domain.ml.system import MLSystem

__all__ = [
    "MLSystem",
    "ModelLRU",
    "classification_metrics",
    "ks_two_sample",
    "normalise_record",
    "psi",
    "split_indices",
    "validate_dataset",
]

"""The ML framework's public names in one place: datasets and their schema, predictions, and the
readers of CSV files and data frames (``from motadata_ai.ml import Dataset, DatasetSchema``)."""

from motadata_ai.adapters.filesystem.datasets import dataset_from_csv, dataset_from_frame
from motadata_ai.domain.values.ml import Dataset, DatasetSchema, FeatureSpec, Prediction, TrainingRun

__all__ = [
    "Dataset",
    "DatasetSchema",
    "FeatureSpec",
    "Prediction",
    "TrainingRun",
    "dataset_from_csv",
    "dataset_from_frame",
]

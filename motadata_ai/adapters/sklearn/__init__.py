"""scikit-learn trainer with skops artifacts loaded through an explicit type allow-list."""

from motadata_ai.adapters.sklearn.safety import TRUSTED_TYPES, safe_loads
from motadata_ai.adapters.sklearn.trainer import ESTIMATORS, SklearnModel, SklearnTrainer, build_pipeline

__all__ = ["ESTIMATORS", "TRUSTED_TYPES", "SklearnModel", "SklearnTrainer", "build_pipeline", "safe_loads"]

"""SklearnTrainer: scikit-learn pipelines (one-hot, scaling, TF-IDF + an estimator) behind TrainerPort.

The trained artifact is the whole ``Pipeline`` (``preprocess`` ColumnTransformer, then
``estimator``), serialised with skops and loaded only through the allow-list in
:mod:`motadata_ai.adapters.sklearn.safety`; a linear or tree model also gets an ONNX twin
(:mod:`motadata_ai.adapters.sklearn.onnx_twin`) that serves it without importing scikit-learn.
Serving uses a direct transform built from the fitted steps (same numbers as the
ColumnTransformer, without its per-call overhead), so a single prediction costs well under a
millisecond of preprocessing.
"""

from __future__ import annotations

import asyncio
import math
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from motadata_ai.adapters.sklearn.safety import safe_loads
from motadata_ai.domain.values.errors import ValidationError
from motadata_ai.domain.values.ml import Dataset, DatasetSchema, FeatureSpec
from motadata_ai.ports.ml import (
    ArtifactRefused,
    FitResult,
    ProgressCallback,
    TrainedModel,
    TrainerPort,
    TrainingFailed,
    UnknownEstimator,
)


def _estimator_factories() -> dict[str, Callable[[int], Any]]:
    from sklearn.ensemble import ExtraTreesClassifier, GradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression, SGDClassifier
    from sklearn.tree import DecisionTreeClassifier

    return {
        "logistic_regression": lambda seed: LogisticRegression(max_iter=2000, random_state=seed),
        "random_forest": lambda seed: RandomForestClassifier(n_estimators=200, random_state=seed, n_jobs=1),
        "extra_trees": lambda seed: ExtraTreesClassifier(n_estimators=200, random_state=seed, n_jobs=1),
        "gradient_boosting": lambda seed: GradientBoostingClassifier(random_state=seed),
        "decision_tree": lambda seed: DecisionTreeClassifier(random_state=seed),
        "sgd": lambda seed: SGDClassifier(loss="log_loss", random_state=seed),
    }


ESTIMATORS: tuple[str, ...] = (
    "logistic_regression",
    "random_forest",
    "extra_trees",
    "gradient_boosting",
    "decision_tree",
    "sgd",
)


def build_pipeline(schema: DatasetSchema, estimator: Any, *, text_max_features: int = 5000) -> Any:
    """The preprocessing + estimator pipeline for ``schema`` (numeric: median impute + scale;
    categorical: one-hot ignoring unknown levels; each text column: its own TF-IDF)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric = [f.name for f in schema.features if f.type == "numeric"]
    categorical = [f.name for f in schema.features if f.type == "categorical"]
    text = [f.name for f in schema.features if f.type == "text"]
    transformers: list[tuple[str, Any, Any]] = []
    if numeric:
        transformers.append(
            (
                "numeric",
                Pipeline(
                    [
                        ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
                        ("scale", StandardScaler()),
                    ]
                ),
                numeric,
            )
        )
    if categorical:
        transformers.append(("categorical", OneHotEncoder(handle_unknown="ignore"), categorical))
    for column in text:
        transformers.append((f"text:{column}", TfidfVectorizer(max_features=text_max_features), column))
    return Pipeline([("preprocess", ColumnTransformer(transformers)), ("estimator", estimator)])


def _frame(records: Sequence[dict[str, Any]], features: Sequence[FeatureSpec]) -> Any:
    import pandas as pd

    columns: dict[str, Any] = {}
    for spec in features:
        values = [r.get(spec.name) for r in records]
        if spec.type == "numeric":
            columns[spec.name] = np.array([math.nan if v is None else v for v in values], dtype=float)
        else:
            columns[spec.name] = np.array(values, dtype=object)
    return pd.DataFrame(columns)


def measure_bytes(root: Any) -> int:
    """The memory held by an object graph: array buffers plus the Python objects around them."""
    import scipy.sparse as sp

    seen: set[int] = set()
    total = 0
    stack = [root]
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, np.ndarray):
            total += obj.nbytes + 112
            if obj.dtype == object:
                stack.extend(obj.ravel().tolist())
            continue
        if sp.issparse(obj):
            stack.extend(getattr(obj, name) for name in ("data", "indices", "indptr") if hasattr(obj, name))
            continue
        total += sys.getsizeof(obj)
        if isinstance(obj, str | bytes | int | float | bool | type(None)):
            continue
        if isinstance(obj, dict):
            stack.extend(obj.keys())
            stack.extend(obj.values())
        elif isinstance(obj, list | tuple | set | frozenset):
            stack.extend(obj)
        elif hasattr(obj, "__getstate__") and type(obj).__module__.startswith("sklearn.tree"):
            stack.append(obj.__getstate__())
        elif hasattr(obj, "__dict__"):
            stack.append(vars(obj))
    return total


class _DirectTransform:
    """The fitted ColumnTransformer's arithmetic applied to normalised records directly."""

    def __init__(self, pipeline: Any) -> None:
        preprocess = pipeline.named_steps["preprocess"]
        self._parts: list[tuple[str, Any, Any]] = []
        for name, transformer, columns in preprocess.transformers_:
            if name == "remainder":
                continue
            if name == "numeric":
                imputer = transformer.named_steps["impute"]
                scaler = transformer.named_steps["scale"]
                mean = scaler.mean_ if scaler.with_mean else np.zeros(len(columns))
                scale = scaler.scale_ if scaler.with_std else np.ones(len(columns))
                self._parts.append(("numeric", list(columns), (imputer.statistics_, mean, scale)))
            elif name == "categorical":
                lookups = []
                offset = 0
                for categories in transformer.categories_:
                    lookups.append({str(c): offset + i for i, c in enumerate(categories)})
                    offset += len(categories)
                self._parts.append(("categorical", list(columns), (lookups, offset)))
            elif name.startswith("text:"):
                self._parts.append(("text", columns, transformer))
            else:
                raise ArtifactRefused(f"unexpected pipeline step {name!r}", reason="unexpected_structure")

    def __call__(self, records: Sequence[dict[str, Any]]) -> Any:
        import scipy.sparse as sp

        blocks: list[Any] = []
        n = len(records)
        for kind, columns, state in self._parts:
            if kind == "numeric":
                statistics, mean, scale = state
                values = np.array(
                    [[math.nan if r[c] is None else r[c] for c in columns] for r in records], dtype=float
                ).reshape(n, len(columns))
                missing = np.isnan(values)
                if missing.any():
                    values = np.where(missing, statistics, values)
                blocks.append(sp.csr_matrix((values - mean) / scale))
            elif kind == "categorical":
                lookups, width = state
                rows, cols = [], []
                for i, record in enumerate(records):
                    for lookup, column in zip(lookups, columns, strict=True):
                        index = lookup.get(str(record[column]))
                        if index is not None:
                            rows.append(i)
                            cols.append(index)
                blocks.append(sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, width)))
            else:
                blocks.append(state.transform([str(r[columns] or "") for r in records]))
        return sp.hstack(blocks, format="csr")


class SklearnModel(TrainedModel):
    """A fitted scikit-learn pipeline with its feature signature."""

    trainer = "sklearn"

    def __init__(self, pipeline: Any, features: Sequence[FeatureSpec]) -> None:
        self.pipeline = pipeline
        self.features = tuple(features)
        self._classes = tuple(str(c) for c in pipeline.classes_)
        self._direct = _DirectTransform(pipeline)
        self._size: int | None = None

    @property
    def classes(self) -> tuple[str, ...]:
        """Class labels in probability-column order."""
        return self._classes

    def predict_proba(self, records: Sequence[dict[str, Any]]) -> list[list[float]]:
        """Probabilities through the direct transform and the fitted estimator."""
        features = self._direct(records)
        probabilities: list[list[float]] = (
            self.pipeline.named_steps["estimator"].predict_proba(features).tolist()
        )
        return probabilities

    def predict_proba_reference(self, records: Sequence[dict[str, Any]]) -> list[list[float]]:
        """Probabilities through the stored pipeline itself (the ColumnTransformer path)."""
        result: list[list[float]] = self.pipeline.predict_proba(_frame(records, self.features)).tolist()
        return result

    def size_bytes(self) -> int:
        """Measured once: arrays, trees and vocabularies of the pipeline."""
        if self._size is None:
            self._size = measure_bytes(self.pipeline) + measure_bytes(self._direct)
        return self._size


class SklearnTrainer(TrainerPort):
    """scikit-learn estimators by name over one preprocessing pipeline; skops artifacts.

    ``cache_dir``: where scikit-learn's estimator names are kept for skops' next cold import
    (see :mod:`~motadata_ai.adapters.sklearn.skops_import`; ``None``: no cache).
    """

    name = "sklearn"
    artifact_format = "skops"
    serving_format = "onnx"

    def __init__(self, *, text_max_features: int = 5000, cache_dir: Path | None = None) -> None:
        self.text_max_features = text_max_features
        self.cache_dir = cache_dir

    def estimators(self) -> tuple[str, ...]:
        """``logistic_regression``, ``random_forest``, ``extra_trees``, ``gradient_boosting``,
        ``decision_tree``, ``sgd``."""
        return ESTIMATORS

    async def fit(
        self,
        dataset: Dataset,
        *,
        estimator: str,
        hyperparameters: dict[str, Any],
        validation_split: float,
        batch_size: int,
        seed: int,
        enable_gpu: bool,
        progress: ProgressCallback | None = None,
    ) -> FitResult:
        """Fit the pipeline in a worker thread. ``hyperparameters`` go to the estimator
        (``C``, ``n_estimators`` ...) or, with a ``__`` in the key, to the pipeline."""
        if estimator not in ESTIMATORS:
            raise UnknownEstimator(
                f"scikit-learn trainer has no estimator {estimator!r}; it has {', '.join(ESTIMATORS)}",
                estimator=estimator,
                available=ESTIMATORS,
            )
        notes: tuple[str, ...] = ()
        if enable_gpu:
            notes = ("scikit-learn trains on the CPU; enable_gpu applies to the torch trainer",)
        return await asyncio.to_thread(
            self._fit_sync, dataset, estimator, dict(hyperparameters), seed, progress, notes
        )

    def _fit_sync(
        self,
        dataset: Dataset,
        estimator: str,
        hyperparameters: dict[str, Any],
        seed: int,
        progress: ProgressCallback | None,
        notes: tuple[str, ...],
    ) -> FitResult:
        schema = dataset.dataset_schema
        pipeline = build_pipeline(
            schema, _estimator_factories()[estimator](seed), text_max_features=self.text_max_features
        )
        params = {k if "__" in k else f"estimator__{k}": v for k, v in hyperparameters.items()}
        try:
            pipeline.set_params(**params)
        except (ValueError, TypeError) as exc:
            raise ValidationError(
                f"invalid hyperparameters for {estimator!r}: {exc}", field="hyperparameters"
            ) from exc
        frame = _frame(dataset.records, schema.features)
        labels = np.array([str(r[schema.target]) for r in dataset.records], dtype=object)
        if progress is not None:
            progress(0, 1)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", category=UserWarning)
                pipeline.fit(frame, labels)
        except Exception as exc:
            raise TrainingFailed(f"{estimator} failed to fit: {exc}", estimator=estimator) from exc
        if progress is not None:
            progress(1, 1)
        return FitResult(
            model=SklearnModel(pipeline, schema.features),
            device="cpu",
            notes=notes,
            parameters={
                "estimator_params": {
                    k: repr(v) for k, v in pipeline.named_steps["estimator"].get_params().items()
                }
            },
        )

    async def dumps(self, model: TrainedModel) -> bytes:
        """skops bytes of the pipeline, with the feature signature alongside in the archive's schema."""
        if not isinstance(model, SklearnModel):
            raise ValidationError("the scikit-learn trainer serialises only its own models", field="model")
        from motadata_ai.adapters.sklearn.skops_import import import_skops_io

        sio = import_skops_io(self.cache_dir)
        payload = {"pipeline": model.pipeline, "features": [[f.name, f.type] for f in model.features]}
        data: bytes = await asyncio.to_thread(sio.dumps, payload)
        return data

    async def dumps_serving(self, model: TrainedModel, records: Sequence[dict[str, Any]]) -> bytes | None:
        """The model's ONNX twin (see :mod:`~motadata_ai.adapters.sklearn.onnx_twin`): linear
        estimators over numeric and categorical features, checked against ``records``."""
        if not isinstance(model, SklearnModel):
            return None
        from motadata_ai.adapters.sklearn.onnx_twin import dumps_onnx

        return await asyncio.to_thread(dumps_onnx, model, records)

    async def loads_serving(self, data: bytes) -> TrainedModel | None:
        """The ONNX twin on onnxruntime (``None`` without onnxruntime); imports no scikit-learn."""
        from motadata_ai.adapters.sklearn.onnx_twin import load_onnx

        return await asyncio.to_thread(load_onnx, data)

    async def loads(self, data: bytes) -> TrainedModel:
        """Check the allow-list, then build the pipeline (never unpickles)."""
        return await asyncio.to_thread(self._loads_sync, data)

    def _loads_sync(self, data: bytes) -> TrainedModel:
        payload = safe_loads(data, cache_dir=self.cache_dir)
        try:
            features = [FeatureSpec(name=name, type=kind) for name, kind in payload["features"]]
            return SklearnModel(payload["pipeline"], features)
        except ArtifactRefused:
            raise
        except Exception as exc:
            raise ArtifactRefused(
                f"the artifact is no model of this trainer: {exc}", reason="unexpected_structure"
            ) from exc

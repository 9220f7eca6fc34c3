"""Value types of the ML framework: dataset schemas, runs, registered versions, predictions, drift.

Also the errors of dataset and input validation (developer mistakes, raised by the domain before
any port is called). Store and trainer failures live with their ports in ``motadata_ai.ports.ml``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from motadata_ai.domain.values.base import ValueModel
from motadata_ai.domain.values.errors import ValidationError
from motadata_ai.domain.values.tenancy import TenantId

FeatureType = Literal["numeric", "categorical", "text"]
"""How a feature is preprocessed: scaled, one-hot encoded, or TF-IDF weighted."""

MISSING_CATEGORY = "__missing__"
"""The category a missing categorical value becomes, so it is a level of its own."""

_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
_ALIAS_RE = re.compile(r"[a-z][a-z0-9_-]{0,31}")


def validate_model_name(value: str) -> str:
    """Return ``value`` when it is a valid model name (``[A-Za-z0-9_.-]``, 1–128 chars)."""
    if not isinstance(value, str) or _NAME_RE.fullmatch(value) is None:
        raise ValidationError(
            f"model name {value!r} must be 1-128 characters of [A-Za-z0-9_.-], starting alphanumeric",
            field="model_name",
        )
    return value


def validate_alias(value: str) -> str:
    """Return ``value`` when it is a valid alias (``champion``, ``challenger``, ``[a-z][a-z0-9_-]*``)."""
    if not isinstance(value, str) or _ALIAS_RE.fullmatch(value) is None:
        raise ValidationError(
            f"alias {value!r} must be 1-32 lowercase characters of [a-z0-9_-], starting with a letter",
            field="alias",
        )
    return value


# --------------------------------------------------------------------------- validation errors


class DatasetInvalid(ValidationError):
    """Training data fails validation against its schema; ``reason`` says which rule."""


class EmptyDataset(DatasetInvalid):
    """The dataset holds no rows (or too few to split into training and validation)."""


class MissingColumns(DatasetInvalid):
    """Declared features or the target are absent from the data; ``columns`` lists them."""


class ExtraColumns(DatasetInvalid):
    """The data holds columns the schema does not declare; ``columns`` lists them."""


class WrongType(DatasetInvalid):
    """A value does not fit its feature's declared type; ``column``, ``row`` and ``value`` say where."""


class SingleClassTarget(DatasetInvalid):
    """The target holds fewer than two classes, so there is nothing to learn."""


class TooManyMissing(DatasetInvalid):
    """A column's share of missing values is over ``max_missing_fraction``; ``fraction`` says how much."""


class SignatureViolation(ValidationError):
    """A record sent for prediction does not match the model's input signature."""


# --------------------------------------------------------------------------- schema and dataset


class FeatureSpec(ValueModel):
    """One input feature: its column name and how it is preprocessed."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(min_length=1, max_length=128)
    type: FeatureType


class DatasetSchema(ValueModel):
    """The declared shape of a dataset: features (in order) and the target column.

    Unlisted columns in the data are refused unless ``ignore_extra_columns`` is set (then they are
    dropped); ``max_missing_fraction`` bounds the share of missing values per feature.
    ``user_column`` names the column that attributes each row to a user (never a feature): in an
    app, the rows of users without consent to ``training`` are dropped or refused before training.
    """

    model_config = ConfigDict(frozen=True)

    features: tuple[FeatureSpec, ...] = Field(min_length=1)
    target: str = Field(min_length=1)
    max_missing_fraction: float = Field(0.5, ge=0.0, le=1.0)
    ignore_extra_columns: bool = False
    user_column: str | None = Field(None, min_length=1, max_length=128)

    @model_validator(mode="after")
    def _distinct_names(self) -> DatasetSchema:
        names = [f.name for f in self.features]
        if len(set(names)) != len(names):
            raise ValueError("feature names must be distinct")
        if self.target in names:
            raise ValueError(f"the target {self.target!r} must not also be a feature")
        if self.user_column is not None and self.user_column in (*names, self.target):
            raise ValueError(f"the user column {self.user_column!r} must be neither a feature nor the target")
        return self

    @classmethod
    def of(
        cls,
        target: str,
        *,
        ignore_extra_columns: bool = False,
        max_missing_fraction: float = 0.5,
        user_column: str | None = None,
        **features: FeatureType,
    ) -> DatasetSchema:
        """Shorthand: ``DatasetSchema.of("made_sla", category="categorical", hour="numeric")``;
        ``ignore_extra_columns``, ``max_missing_fraction`` and ``user_column`` are the schema's own
        options (a feature cannot take those names here; list it in ``features=`` instead)."""
        return cls(
            features=tuple(FeatureSpec(name=n, type=t) for n, t in features.items()),
            target=target,
            ignore_extra_columns=ignore_extra_columns,
            max_missing_fraction=max_missing_fraction,
            user_column=user_column,
        )

    @property
    def feature_names(self) -> tuple[str, ...]:
        """The feature names in declaration order."""
        return tuple(f.name for f in self.features)


Record = Mapping[str, Any]
"""One row: column name to value; ``None`` (or NaN, or an empty string) means missing."""


@dataclass(frozen=True)
class Dataset:
    """Rows with their schema; ``groups`` (optional) keeps rows of one group on one side of a split.

    Build one with :meth:`from_records`, or from CSV/pandas with ``motadata_ai.adapters.dataframe``.
    """

    dataset_schema: DatasetSchema
    records: tuple[dict[str, Any], ...]
    groups: tuple[str, ...] | None = None
    name: str | None = None

    def __post_init__(self) -> None:
        if self.groups is not None and len(self.groups) != len(self.records):
            raise ValidationError("groups must hold one entry per record", field="groups")

    @classmethod
    def from_records(
        cls,
        records: Sequence[Mapping[str, Any]],
        schema: DatasetSchema,
        *,
        groups: Sequence[str] | None = None,
        name: str | None = None,
    ) -> Dataset:
        """Build a dataset from plain dict rows (validated when trained on)."""
        return cls(
            dataset_schema=schema,
            records=tuple(dict(r) for r in records),
            groups=tuple(str(g) for g in groups) if groups is not None else None,
            name=name,
        )


def is_missing(value: Any) -> bool:
    """``None``, NaN or a blank string."""
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


# --------------------------------------------------------------------------- runs and registry


class TrainingRun(ValueModel):
    """One training: parameters, metrics, data and code identity, timing, artifacts, outcome."""

    model_config = ConfigDict(frozen=True)

    run_id: str
    tenant_id: TenantId
    model_name: str
    trainer: str
    estimator: str
    status: Literal["running", "finished", "failed"]
    parameters: dict[str, Any] = Field(default_factory=dict)
    metrics: dict[str, float] = Field(default_factory=dict)
    dataset_hash: str = ""
    dataset_rows: int = 0
    code_version: str = ""
    started_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    finished_at: datetime | None = None
    duration_s: float | None = None
    device: str | None = None
    artifact_sha256: str | None = None
    artifact_key: str | None = None
    version: int | None = None
    error: str | None = None
    notes: tuple[str, ...] = ()
    trace_id: str = ""


class NumericProfile(ValueModel):
    """The training distribution of a numeric feature: decile edges, bin shares, a sorted sample."""

    model_config = ConfigDict(frozen=True)

    edges: tuple[float, ...]
    proportions: tuple[float, ...]
    sample: tuple[float, ...]


class CategoricalProfile(ValueModel):
    """The training distribution of a categorical feature: the share of each level."""

    model_config = ConfigDict(frozen=True)

    proportions: dict[str, float]


class FeatureProfile(ValueModel):
    """Reference distribution of one feature (text features are profiled by token count)."""

    model_config = ConfigDict(frozen=True)

    name: str
    type: FeatureType
    numeric: NumericProfile | None = None
    categorical: CategoricalProfile | None = None
    missing_fraction: float = 0.0


class ServingArtifact(ValueModel):
    """A version's serving twin: the same model in a format that predicts without the training
    framework (``onnx``), stored beside the main artifact and verified against ``sha256`` the same
    way before it is loaded."""

    model_config = ConfigDict(frozen=True)

    key: str
    sha256: str
    format: str
    size: int

    @field_validator("sha256")
    @classmethod
    def _hex_digest(cls, value: str) -> str:
        if not re.fullmatch(r"[0-9a-f]{64}", value):
            raise ValueError("sha256 must be 64 lowercase hex digits")
        return value


class ModelVersion(ValueModel):
    """A registered model version: lineage, signature, artifact identity, reference profile.

    ``serving`` is the optional twin that serves its predictions without the training framework
    (``None``: the main artifact serves them).
    """

    model_config = ConfigDict(frozen=True)

    tenant_id: TenantId
    model_name: str
    version: int = 0
    run_id: str
    trainer: str
    estimator: str
    signature: tuple[FeatureSpec, ...]
    target: str
    classes: tuple[str, ...]
    artifact_key: str
    artifact_sha256: str
    artifact_format: str
    artifact_size: int
    metrics: dict[str, float] = Field(default_factory=dict)
    reference: tuple[FeatureProfile, ...] = ()
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    serving: ServingArtifact | None = None

    @field_validator("artifact_sha256")
    @classmethod
    def _hex_digest(cls, value: str) -> str:
        if not re.fullmatch(r"[0-9a-f]{64}", value):
            raise ValueError("artifact_sha256 must be 64 lowercase hex digits")
        return value


class ModelSummary(ValueModel):
    """A model name of a tenant: its versions and where its aliases point."""

    model_config = ConfigDict(frozen=True)

    model_name: str
    latest_version: int
    versions: int
    aliases: dict[str, int] = Field(default_factory=dict)


class AliasChange(ValueModel):
    """The outcome of a promotion or rollback: the alias moved from ``previous`` to ``current``."""

    model_config = ConfigDict(frozen=True)

    model_name: str
    alias: str
    previous: int | None
    current: int


class Prediction(ValueModel):
    """One prediction: the label, class probabilities (when available), and where it came from."""

    model_config = ConfigDict(frozen=True)

    model_name: str
    version: int
    label: str
    probabilities: dict[str, float] | None = None
    cached: bool = False
    trace_id: str = ""


class RunComparison(ValueModel):
    """Runs side by side on the union of their metrics, best first by ``metric``."""

    model_config = ConfigDict(frozen=True)

    metric: str
    runs: tuple[TrainingRun, ...]
    table: tuple[dict[str, Any], ...]
    best_run_id: str | None


class FeatureDrift(ValueModel):
    """Drift of one feature: PSI, the Kolmogorov–Smirnov statistic (numeric/text), and the verdict."""

    model_config = ConfigDict(frozen=True)

    feature: str
    type: FeatureType
    psi: float
    ks_statistic: float | None = None
    ks_p_value: float | None = None
    drifted: bool


class DriftReport(ValueModel):
    """Drift of a sample against a version's training reference, per feature."""

    model_config = ConfigDict(frozen=True)

    model_name: str
    version: int
    sample_size: int
    psi_threshold: float
    ks_alpha: float
    features: tuple[FeatureDrift, ...]
    drifted_features: tuple[str, ...]

    @property
    def drifted(self) -> bool:
        """``True`` when any feature drifted."""
        return bool(self.drifted_features)


class PredictionLogEntry(ValueModel):
    """A sampled prediction: inputs and output, kept for drift monitoring and audits."""

    model_config = ConfigDict(frozen=True)

    tenant_id: TenantId
    model_name: str
    version: int
    inputs: dict[str, Any]
    label: str
    user_id: str | None = None
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


class MLHealth(ValueModel):
    """Health of a tenant's ML system: stores reachable, memory used, serving counters."""

    model_config = ConfigDict(frozen=True)

    status: Literal["ok", "degraded"]
    registry: bool
    experiments: bool
    artifacts: bool
    loaded_models: tuple[str, ...]
    memory_used_mb: float
    max_memory_mb: float
    predictions: int
    cache_hits: int
    errors: int
    device: str
    details: dict[str, str] = Field(default_factory=dict)

"""Dataset validation, normalisation, hashing and splitting (pure Python).

Validated records are *normalised* before any trainer sees them, so every trainer and every
prediction path gets the same shapes: numeric features are ``float`` or ``None``; categorical
features are ``str`` (missing becomes :data:`MISSING_CATEGORY`); text features are ``str`` (missing
becomes ``""``); the target is a ``str`` label.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from motadata_ai.domain.values.ml import (
    MISSING_CATEGORY,
    Dataset,
    DatasetInvalid,
    DatasetSchema,
    EmptyDataset,
    ExtraColumns,
    FeatureSpec,
    MissingColumns,
    SignatureViolation,
    SingleClassTarget,
    TooManyMissing,
    WrongType,
    is_missing,
)

MIN_ROWS = 4
"""Fewer rows cannot be split into a training and a validation part."""


def _to_float(value: Any) -> float | None:
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        number = float(value)
        if math.isinf(number):
            return None
        return number
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
        return None if math.isinf(number) or math.isnan(number) else number
    return None


def normalise_value(spec: FeatureSpec, value: Any) -> float | str | None:
    """The normalised form of one feature value, or raise ``ValueError`` when its type is wrong."""
    if is_missing(value):
        if spec.type == "numeric":
            return None
        return MISSING_CATEGORY if spec.type == "categorical" else ""
    if spec.type == "numeric":
        number = _to_float(value)
        if number is None:
            raise ValueError(f"expected a number, got {type(value).__name__} {value!r}")
        return number
    if isinstance(value, dict | list | tuple | set | bytes):
        raise ValueError(f"expected a scalar, got {type(value).__name__}")
    return _label(value)


def _label(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def validate_dataset(dataset: Dataset) -> tuple[list[dict[str, Any]], list[str]]:
    """Check ``dataset`` against its schema; return normalised feature rows and string labels.

    Raises a :class:`DatasetInvalid` subclass naming the first rule broken: empty data, missing or
    extra columns, a wrong type, too many missing values, a missing target, a single class.
    """
    schema = dataset.dataset_schema
    records = dataset.records
    if len(records) < MIN_ROWS:
        raise EmptyDataset(
            f"the dataset holds {len(records)} rows; at least {MIN_ROWS} are needed",
            field="dataset",
            reason="empty",
            rows=len(records),
        )
    declared = {*schema.feature_names, schema.target, *([schema.user_column] if schema.user_column else [])}
    seen: set[str] = set()
    for record in records:
        seen.update(record.keys())
    missing = sorted(c for c in declared if c not in seen)
    if missing:
        raise MissingColumns(
            f"columns declared by the schema are absent from the data: {', '.join(missing)}",
            field="dataset",
            reason="missing_columns",
            columns=tuple(missing),
        )
    extra = sorted(seen - declared)
    if extra and not schema.ignore_extra_columns:
        raise ExtraColumns(
            f"the data holds columns the schema does not declare: {', '.join(extra)} "
            "(declare them or set ignore_extra_columns=True)",
            field="dataset",
            reason="extra_columns",
            columns=tuple(extra),
        )
    rows: list[dict[str, Any]] = []
    labels: list[str] = []
    missing_counts: Counter[str] = Counter()
    for index, record in enumerate(records):
        row: dict[str, Any] = {}
        for spec in schema.features:
            value = record.get(spec.name)
            if is_missing(value):
                missing_counts[spec.name] += 1
            try:
                row[spec.name] = normalise_value(spec, value)
            except ValueError as exc:
                raise WrongType(
                    f"column {spec.name!r} is declared {spec.type} but row {index} holds {value!r}: {exc}",
                    field=spec.name,
                    reason="wrong_type",
                    column=spec.name,
                    row=index,
                    value=repr(value),
                ) from None
        target = record.get(schema.target)
        if is_missing(target):
            raise DatasetInvalid(
                f"row {index} has no value for the target {schema.target!r}",
                field=schema.target,
                reason="missing_target",
                row=index,
            )
        rows.append(row)
        labels.append(_label(target))
    for spec in schema.features:
        fraction = missing_counts[spec.name] / len(records)
        if fraction > schema.max_missing_fraction:
            raise TooManyMissing(
                f"column {spec.name!r} is {fraction:.0%} missing; at most "
                f"{schema.max_missing_fraction:.0%} is allowed (max_missing_fraction)",
                field=spec.name,
                reason="too_many_missing",
                column=spec.name,
                fraction=fraction,
            )
    classes = Counter(labels)
    if len(classes) < 2:
        raise SingleClassTarget(
            f"the target {schema.target!r} holds a single class ({next(iter(classes))!r}); "
            "two or more are needed",
            field=schema.target,
            reason="single_class",
            classes=tuple(classes),
        )
    return rows, labels


def normalise_record(
    record: Mapping[str, Any], signature: Sequence[FeatureSpec], *, row: int = 0
) -> dict[str, Any]:
    """Check one prediction input against a model's signature and normalise it.

    Every feature must be present (``None`` stands for missing); unknown keys and wrong types
    raise :class:`SignatureViolation`.
    """
    if not isinstance(record, Mapping):
        raise SignatureViolation(
            f"record {row} must be a mapping of feature name to value, got {type(record).__name__}",
            field="record",
            row=row,
        )
    names = {spec.name for spec in signature}
    absent = sorted(n for n in names if n not in record)
    if absent:
        raise SignatureViolation(
            f"record {row} lacks features {', '.join(absent)} (pass None for a missing value)",
            field="record",
            row=row,
            columns=tuple(absent),
        )
    unknown = sorted(str(k) for k in record if k not in names)
    if unknown:
        raise SignatureViolation(
            f"record {row} holds keys outside the model's signature: {', '.join(unknown)}",
            field="record",
            row=row,
            columns=tuple(unknown),
        )
    out: dict[str, Any] = {}
    for spec in signature:
        value = record[spec.name]
        try:
            out[spec.name] = normalise_value(spec, value)
        except ValueError as exc:
            raise SignatureViolation(
                f"record {row}: feature {spec.name!r} is {spec.type}; {exc}",
                field=spec.name,
                row=row,
                column=spec.name,
                value=repr(value),
            ) from None
    return out


def dataset_hash(schema: DatasetSchema, rows: Sequence[Mapping[str, Any]], labels: Sequence[str]) -> str:
    """SHA-256 over the schema and the normalised rows and labels (order-sensitive)."""
    digest = hashlib.sha256()
    digest.update(schema.model_dump_json(exclude={"user_column"}).encode())  # attribution, not data
    for row, label in zip(rows, labels, strict=True):
        digest.update(json.dumps([row, label], sort_keys=True, default=str).encode())
        digest.update(b"\n")
    return digest.hexdigest()


def split_indices(
    labels: Sequence[str], *, validation_split: float, seed: int, groups: Sequence[str] | None = None
) -> tuple[list[int], list[int]]:
    """Deterministic train/validation split: by group when ``groups`` is given (a group never sits
    on both sides), else stratified by label. Both parts are non-empty."""
    if not 0.0 < validation_split < 1.0:
        raise DatasetInvalid(
            f"validation_split must lie strictly between 0 and 1, got {validation_split}",
            field="validation_split",
            reason="bad_split",
        )
    rng = random.Random(seed)
    n = len(labels)
    validation: list[int] = []
    if groups is not None:
        unique = sorted(set(groups))
        if len(unique) < 2:
            raise EmptyDataset(
                "a grouped split needs at least two groups", field="groups", reason="empty", rows=n
            )
        rng.shuffle(unique)
        take = min(len(unique) - 1, max(1, round(len(unique) * validation_split)))
        held = set(unique[:take])
        validation = [i for i in range(n) if groups[i] in held]
    else:
        by_class: dict[str, list[int]] = {}
        for i, label in enumerate(labels):
            by_class.setdefault(label, []).append(i)
        for label in sorted(by_class):
            members = by_class[label]
            rng.shuffle(members)
            take = round(len(members) * validation_split) if len(members) > 1 else 0
            validation.extend(members[:take])
        if not validation:
            validation = [rng.randrange(n)]
    held_rows = set(validation)
    training = [i for i in range(n) if i not in held_rows]
    if not training:
        raise EmptyDataset("the split left no training rows", field="dataset", reason="empty", rows=n)
    return training, sorted(validation)

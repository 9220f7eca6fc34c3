"""Dataset validation, record normalisation, hashing and splitting."""

from __future__ import annotations

import math

import pytest

from motadata_ai.domain.ml.dataset import dataset_hash, normalise_record, split_indices, validate_dataset
from motadata_ai.domain.values.ml import (
    MISSING_CATEGORY,
    Dataset,
    DatasetInvalid,
    DatasetSchema,
    EmptyDataset,
    ExtraColumns,
    MissingColumns,
    SignatureViolation,
    SingleClassTarget,
    TooManyMissing,
    WrongType,
)

from .conftest import SCHEMA, make_records


def test_valid_rows_are_normalised() -> None:
    rows = make_records(20)
    rows[0] |= {"hours_open": "3.5", "category": None, "summary": None}
    rows[1] |= {"hours_open": float("nan"), "category": 7.0, "summary": "  "}
    features, labels = validate_dataset(Dataset.from_records(rows, SCHEMA))
    assert features[0] == {"hours_open": 3.5, "category": MISSING_CATEGORY, "summary": ""}
    assert features[1]["hours_open"] is None and features[1]["category"] == "7"
    assert set(labels) <= {"yes", "no"} and len(labels) == 20


@pytest.mark.parametrize(
    ("rows", "error", "reason"),
    [
        ([], EmptyDataset, "empty"),
        ([{"hours_open": 1, "category": "a", "summary": "x", "escalated": "yes"}] * 2, EmptyDataset, "empty"),
        ([{"hours_open": 1, "category": "a", "escalated": "yes"}] * 5, MissingColumns, "missing_columns"),
        (
            [{"hours_open": 1, "category": "a", "summary": "x", "escalated": "yes", "impact": 2}] * 5,
            ExtraColumns,
            "extra_columns",
        ),
    ],
)
def test_shape_errors(rows: list[dict[str, object]], error: type[DatasetInvalid], reason: str) -> None:
    with pytest.raises(error) as caught:
        validate_dataset(Dataset.from_records(rows, SCHEMA))
    assert caught.value.reason == reason


def test_missing_and_extra_columns_are_named() -> None:
    rows = [{"hours_open": 1, "category": "a", "escalated": "yes"}] * 5
    with pytest.raises(MissingColumns) as caught:
        validate_dataset(Dataset.from_records(rows, SCHEMA))
    assert caught.value.columns == ("summary",)


def test_extra_columns_can_be_ignored() -> None:
    schema = SCHEMA.model_copy(update={"ignore_extra_columns": True})
    rows = [r | {"impact": "1 - High"} for r in make_records(10)]
    features, _ = validate_dataset(Dataset.from_records(rows, schema))
    assert "impact" not in features[0]


def test_wrong_type_names_column_and_row() -> None:
    rows = make_records(10)
    rows[4]["hours_open"] = "soon"
    with pytest.raises(WrongType) as caught:
        validate_dataset(Dataset.from_records(rows, SCHEMA))
    assert (caught.value.column, caught.value.row) == ("hours_open", 4)


def test_single_class_target() -> None:
    rows = [r | {"escalated": "no"} for r in make_records(10)]
    with pytest.raises(SingleClassTarget):
        validate_dataset(Dataset.from_records(rows, SCHEMA))


def test_too_many_missing_values() -> None:
    rows = make_records(10)
    for row in rows[:6]:
        row["category"] = None
    with pytest.raises(TooManyMissing) as caught:
        validate_dataset(Dataset.from_records(rows, SCHEMA))
    assert caught.value.column == "category" and math.isclose(caught.value.fraction, 0.6)
    lenient = SCHEMA.model_copy(update={"max_missing_fraction": 0.7})
    validate_dataset(Dataset.from_records(rows, lenient))


def test_missing_target_is_refused() -> None:
    rows = make_records(10)
    rows[3]["escalated"] = None
    with pytest.raises(DatasetInvalid) as caught:
        validate_dataset(Dataset.from_records(rows, SCHEMA))
    assert caught.value.reason == "missing_target"


def test_schema_refuses_target_as_feature_and_duplicates() -> None:
    with pytest.raises(ValueError):
        DatasetSchema.of("a", a="numeric")
    with pytest.raises(ValueError):
        DatasetSchema(features=(), target="y")


def test_normalise_record_checks_the_signature() -> None:
    signature = SCHEMA.features
    ok = normalise_record({"hours_open": 2, "category": "network", "summary": "down"}, signature)
    assert ok == {"hours_open": 2.0, "category": "network", "summary": "down"}
    with pytest.raises(SignatureViolation) as missing:
        normalise_record({"hours_open": 2, "category": "network"}, signature)
    assert missing.value.columns == ("summary",)
    with pytest.raises(SignatureViolation) as extra:
        normalise_record({"hours_open": 2, "category": "n", "summary": "", "impact": 1}, signature)
    assert extra.value.columns == ("impact",)
    with pytest.raises(SignatureViolation) as wrong:
        normalise_record({"hours_open": "many", "category": "n", "summary": ""}, signature, row=3)
    assert (wrong.value.column, wrong.value.row) == ("hours_open", 3)
    with pytest.raises(SignatureViolation):
        normalise_record(["not", "a", "mapping"], signature)  # type: ignore[arg-type]


def test_dataset_hash_is_stable_and_sensitive() -> None:
    features, labels = validate_dataset(Dataset.from_records(make_records(30), SCHEMA))
    first = dataset_hash(SCHEMA, features, labels)
    assert first == dataset_hash(SCHEMA, features, labels)
    changed = [dict(r) for r in features]
    changed[0]["category"] = "other"
    assert dataset_hash(SCHEMA, changed, labels) != first


def test_grouped_split_keeps_groups_on_one_side() -> None:
    labels = ["a", "b"] * 50
    groups = [f"INC{i // 4}" for i in range(100)]
    train, validation = split_indices(labels, validation_split=0.2, seed=1, groups=groups)
    assert {groups[i] for i in train}.isdisjoint({groups[i] for i in validation})
    assert len(train) + len(validation) == 100 and validation
    assert (train, validation) == split_indices(labels, validation_split=0.2, seed=1, groups=groups)


def test_stratified_split_holds_each_class() -> None:
    labels = ["a"] * 80 + ["b"] * 20
    _, validation = split_indices(labels, validation_split=0.25, seed=3)
    assert sorted(labels[i] for i in validation).count("b") == 5
    with pytest.raises(DatasetInvalid):
        split_indices(labels, validation_split=1.0, seed=3)

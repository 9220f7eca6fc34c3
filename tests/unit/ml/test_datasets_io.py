"""Datasets from CSV files and DataFrames."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from motadata_ai.adapters.filesystem import dataset_from_csv, dataset_from_frame
from motadata_ai.domain.ml.dataset import validate_dataset
from motadata_ai.domain.values.errors import ValidationError
from motadata_ai.domain.values.ml import DatasetSchema, ExtraColumns, MissingColumns

SCHEMA = DatasetSchema.of("made_sla", reassignment_count="numeric", category="categorical")


def test_csv_with_question_marks_as_missing(tmp_path: Path) -> None:
    path = tmp_path / "incidents.csv"
    path.write_text(
        "number,reassignment_count,category,made_sla\n"
        "INC1,0,Category 55,TRUE\nINC1,1,?,TRUE\nINC2,?,Category 9,FALSE\nINC3,2,Category 9,FALSE\n"
    )
    dataset = dataset_from_csv(path, SCHEMA, group_column="number")
    assert dataset.groups == ("INC1", "INC1", "INC2", "INC3")
    rows, labels = validate_dataset(dataset)
    assert rows[1]["category"] == "__missing__" and rows[2]["reassignment_count"] is None
    assert labels == ["True", "True", "False", "False"]


def test_frame_extra_columns_are_reported_or_dropped() -> None:
    frame = pd.DataFrame(
        {"reassignment_count": [1, 2, 3, 4], "category": list("abab"), "made_sla": [1, 0, 1, 0], "impact": 1}
    )
    with pytest.raises(ExtraColumns):
        validate_dataset(dataset_from_frame(frame, SCHEMA))
    lenient = SCHEMA.model_copy(update={"ignore_extra_columns": True})
    rows, labels = validate_dataset(dataset_from_frame(frame, lenient))
    assert set(rows[0]) == {"reassignment_count", "category"} and labels[:2] == ["1", "0"]


def test_missing_file_and_group_column() -> None:
    with pytest.raises(ValidationError):
        dataset_from_csv("/nonexistent/file.csv", SCHEMA)
    frame = pd.DataFrame({"reassignment_count": [1], "category": ["a"], "made_sla": [1]})
    with pytest.raises(MissingColumns):
        dataset_from_frame(frame, SCHEMA, group_column="number")

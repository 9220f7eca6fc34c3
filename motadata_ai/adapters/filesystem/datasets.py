"""Datasets from CSV files and pandas DataFrames (pandas stays out of the domain)."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any

from motadata_ai.domain.values.errors import ValidationError
from motadata_ai.domain.values.ml import Dataset, DatasetSchema, MissingColumns


def _clean(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item"):  # numpy scalar
        return value.item()
    return value


def dataset_from_frame(
    frame: Any,
    schema: DatasetSchema,
    *,
    group_column: str | None = None,
    name: str | None = None,
) -> Dataset:
    """A dataset from a pandas DataFrame: the schema's columns (others kept only when the schema
    refuses extras, so validation reports them); ``group_column`` keeps groups on one split side."""
    columns = list(frame.columns)
    wanted = [*schema.feature_names, schema.target]
    if schema.ignore_extra_columns:
        keep = [c for c in wanted if c in columns]
    else:
        keep = [c for c in columns if c != group_column]
    records = [
        {column: _clean(value) for column, value in zip(keep, row, strict=True)}
        for row in frame[keep].itertuples(index=False, name=None)
    ]
    groups: Sequence[str] | None = None
    if group_column is not None:
        if group_column not in columns:
            raise MissingColumns(
                f"group column {group_column!r} is absent from the data",
                field="group_column",
                reason="missing_columns",
                columns=(group_column,),
            )
        groups = [str(g) for g in frame[group_column].tolist()]
    return Dataset.from_records(records, schema, groups=groups, name=name)


def dataset_from_csv(
    path: str | os.PathLike[str],
    schema: DatasetSchema,
    *,
    group_column: str | None = None,
    na_values: Sequence[str] = ("?", ""),
    name: str | None = None,
) -> Dataset:
    """A dataset from a CSV file with a header row; ``na_values`` are read as missing."""
    import pandas as pd

    try:
        frame = pd.read_csv(path, na_values=list(na_values), keep_default_na=True, low_memory=False)
    except FileNotFoundError as exc:
        raise ValidationError(f"no CSV file at {os.fspath(path)!r}", field="path") from exc
    except (ValueError, pd.errors.ParserError) as exc:
        raise ValidationError(f"cannot parse CSV {os.fspath(path)!r}: {exc}", field="path") from exc
    return dataset_from_frame(frame, schema, group_column=group_column, name=name or os.fspath(path))

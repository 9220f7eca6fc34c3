"""The ITSM incident data set as one row per incident, with only what is known when it is opened.

Source: ``examples/ml/data/incident_event_log.csv.gz`` (a ServiceNow event log, one row per
state change of an incident ``number``; ``?`` marks missing values; CC BY 4.0, see
``data/README.md``), or the file named by ``MOTADATA_ITSM_CSV``.

Task: predict whether the incident will end up meeting its SLA (``made_sla`` on its *last*
event) from its *first* event's fields that exist at opening time. Fields that only exist later
(state, reassignment/reopen/modification counts, resolution and closure fields, who resolved
it, problem/change links) are left out so the target does not leak. One row per incident means
a split by row is a split by incident ``number``; the number is passed as the group anyway.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Any

from motadata_ai.domain.values.ml import DatasetSchema

DEFAULT_CSV = Path(
    os.environ.get(
        "MOTADATA_ITSM_CSV", Path(__file__).resolve().parent / "data" / "incident_event_log.csv.gz"
    )
)

CATEGORICAL = (
    "contact_type",
    "location",
    "category",
    "subcategory",
    "u_symptom",
    "impact",
    "urgency",
    "priority",
    "assignment_group",
    "knowledge",
    "u_priority_confirmation",
    "opened_weekday",
)
NUMERIC = ("opened_hour",)

SCHEMA = DatasetSchema(
    features=tuple(
        [{"name": n, "type": "categorical"} for n in CATEGORICAL]
        + [{"name": n, "type": "numeric"} for n in NUMERIC]
    ),  # type: ignore[arg-type]
    target="made_sla",
    max_missing_fraction=0.5,
)


def _opened(value: Any) -> datetime | None:
    try:
        return datetime.strptime(str(value), "%d-%m-%Y %H:%M")
    except ValueError:
        return None


def incident_rows(path: str | os.PathLike[str] = DEFAULT_CSV) -> tuple[list[dict[str, Any]], list[str]]:
    """One record per incident (features at opening + the final ``made_sla``) and its number."""
    import pandas as pd

    events = pd.read_csv(path, na_values=["?"], keep_default_na=True, low_memory=False)
    first = events.groupby("number", sort=True).head(1).set_index("number")
    last = events.groupby("number", sort=True).tail(1).set_index("number")
    records: list[dict[str, Any]] = []
    numbers: list[str] = []
    for number, row in first.iterrows():
        opened = _opened(row["opened_at"])
        record: dict[str, Any] = {
            name: (None if pd.isna(row[name]) else str(row[name]))
            for name in CATEGORICAL
            if name != "opened_weekday"
        }
        record["opened_weekday"] = opened.strftime("%a") if opened else None
        record["opened_hour"] = float(opened.hour) if opened else None
        record["made_sla"] = str(bool(last.loc[number, "made_sla"]))
        records.append(record)
        numbers.append(str(number))
    return records, numbers


def features(record: dict[str, Any]) -> dict[str, Any]:
    """A record without its target: what a service sends for prediction at opening time."""
    return {k: v for k, v in record.items() if k != SCHEMA.target}

"""TrainingConsent: ML training honours the users' consent to ``training``.

A dataset whose schema names a ``user_column`` attributes each row to a user. Before a model is
trained on it, the rows of every user without consent to ``training`` are dropped (``"drop"``,
the default) or the training is refused with :class:`ConsentRequired` (``"refuse"``). A row with
no user in that column is about nobody and is kept. The column itself never reaches a trainer:
it attributes rows, it is not a feature.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Literal

from motadata_ai.domain.values.consent import ConsentRequired
from motadata_ai.domain.values.ml import Dataset, is_missing

__all__ = ["ConsentedDataset", "TrainingConsent", "WithoutConsent", "strip_user_column"]

WithoutConsent = Literal["drop", "refuse"]
"""What training does with rows of users who have not consented to ``training``."""

PURPOSE = "training"


@dataclass(frozen=True)
class ConsentedDataset:
    """The dataset to train on (user column removed), and how many rows and users were left out."""

    dataset: Dataset
    rows_dropped: int = 0
    users_dropped: int = 0


def strip_user_column(dataset: Dataset, keep: Callable[[int], bool] = lambda _index: True) -> Dataset:
    """``dataset`` without its user column (and without the rows ``keep(index)`` refuses)."""
    column = dataset.dataset_schema.user_column
    if column is None:
        return dataset
    indices = [i for i in range(len(dataset.records)) if keep(i)]
    records = tuple({k: v for k, v in dataset.records[i].items() if k != column} for i in indices)
    groups = tuple(dataset.groups[i] for i in indices) if dataset.groups is not None else None
    schema = dataset.dataset_schema.model_copy(update={"user_column": None})
    return replace(dataset, dataset_schema=schema, records=records, groups=groups)


class TrainingConsent:
    """Filters a dataset by the consent of the users its rows are about (see the module doc).

    ``check(tenant_id, user_id)`` answers whether the user consents to ``training`` (the app
    passes its consent store's checker); each distinct user is asked once per dataset.
    """

    def __init__(
        self,
        check: Callable[[str, str], Awaitable[bool]],
        *,
        without_consent: WithoutConsent = "drop",
    ) -> None:
        if without_consent not in ("drop", "refuse"):
            raise ValueError("without_consent must be 'drop' or 'refuse'")
        self._check = check
        self.without_consent: WithoutConsent = without_consent

    async def apply(self, tenant_id: str, dataset: Dataset) -> ConsentedDataset:
        """The rows that may be trained on, or :class:`ConsentRequired` in ``refuse`` mode."""
        column = dataset.dataset_schema.user_column
        if column is None:
            return ConsentedDataset(dataset)
        owners = [_user(record.get(column)) for record in dataset.records]
        consent: dict[str, bool] = {}
        for user in owners:
            if user is not None and user not in consent:
                consent[user] = bool(await self._check(tenant_id, user))
        refused = {user for user, granted in consent.items() if not granted}
        rows = sum(1 for user in owners if user in refused)
        if refused and self.without_consent == "refuse":
            raise ConsentRequired(
                f"{len(refused)} of the {len(consent)} users in the dataset's column {column!r} "
                f"({rows} rows) have not consented to {PURPOSE!r}; nothing was trained",
                tenant_id=tenant_id,
                purpose=PURPOSE,
                field=column,
            )
        kept = strip_user_column(dataset, lambda index: owners[index] not in refused)
        return ConsentedDataset(kept, rows_dropped=rows, users_dropped=len(refused))


def _user(value: object) -> str | None:
    if is_missing(value):
        return None
    text = str(value).strip()
    return text or None

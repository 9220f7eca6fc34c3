"""TrainingConsent: the rows of users without consent to 'training' are dropped (or the training is
refused); rows of nobody are kept; the user column never reaches a trainer."""

from __future__ import annotations

from typing import Any

import pytest

from motadata_ai.domain.privacy.training_consent import TrainingConsent, strip_user_column
from motadata_ai.domain.values.ml import Dataset, DatasetSchema
from motadata_ai.errors import ConsentRequired, ValidationError

SCHEMA = DatasetSchema.of("made_sla", user_column="requester", hours="numeric")


def dataset() -> Dataset:
    owners = ["bob", "alice", None, "carol", "bob", "alice", "", "carol"]
    records = [
        {"hours": float(i), "made_sla": "yes" if i % 2 else "no", "requester": owner}
        for i, owner in enumerate(owners)
    ]
    return Dataset.from_records(records, SCHEMA, groups=[f"g{i}" for i in range(len(owners))])


class Consents:
    """Who consents, and who was asked (each user once)."""

    def __init__(self, *granted: str) -> None:
        self.granted = set(granted)
        self.asked: list[tuple[str, str]] = []

    async def __call__(self, tenant_id: str, user_id: str) -> bool:
        self.asked.append((tenant_id, user_id))
        return user_id in self.granted


async def test_rows_of_users_without_consent_are_dropped_and_the_column_removed() -> None:
    consents = Consents("alice")
    result = await TrainingConsent(consents).apply("acme", dataset())
    assert sorted(consents.asked) == [("acme", "alice"), ("acme", "bob"), ("acme", "carol")]
    assert (result.rows_dropped, result.users_dropped) == (4, 2)
    kept: list[dict[str, Any]] = list(result.dataset.records)
    assert [r["hours"] for r in kept] == [1.0, 2.0, 5.0, 6.0]  # alice's rows and the rows of nobody
    assert all("requester" not in r for r in kept)
    assert result.dataset.dataset_schema.user_column is None
    assert result.dataset.groups == ("g1", "g2", "g5", "g6")


async def test_refuse_mode_raises_consent_required_and_names_no_user() -> None:
    policy = TrainingConsent(Consents("alice", "bob"), without_consent="refuse")
    with pytest.raises(ConsentRequired) as caught:
        await policy.apply("acme", dataset())
    assert caught.value.purpose == "training"
    assert "carol" not in str(caught.value)
    everyone = TrainingConsent(Consents("alice", "bob", "carol"), without_consent="refuse")
    assert (await everyone.apply("acme", dataset())).rows_dropped == 0


async def test_a_dataset_without_a_user_column_is_untouched() -> None:
    schema = DatasetSchema.of("made_sla", hours="numeric")
    plain = Dataset.from_records([{"hours": 1.0, "made_sla": "no"}], schema)
    consents = Consents()
    assert (await TrainingConsent(consents).apply("acme", plain)).dataset is plain
    assert consents.asked == []
    assert strip_user_column(plain) is plain


def test_the_user_column_is_neither_a_feature_nor_the_target() -> None:
    with pytest.raises(ValidationError):
        DatasetSchema.of("made_sla", user_column="hours", hours="numeric")
    with pytest.raises(ValidationError):
        DatasetSchema.of("made_sla", user_column="made_sla", hours="numeric")

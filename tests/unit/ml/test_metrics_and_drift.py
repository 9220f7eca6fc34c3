"""Pure-Python metrics and drift against scikit-learn and SciPy as oracles."""

from __future__ import annotations

import random

import pytest
from scipy import stats
from sklearn import metrics as skm

from motadata_ai.domain.ml.drift import build_profile, feature_drift, ks_two_sample, psi
from motadata_ai.domain.ml.metrics import classification_metrics
from motadata_ai.domain.values.ml import FeatureSpec


def test_metrics_match_scikit_learn() -> None:
    rng = random.Random(0)
    classes = ("a", "b", "c")
    truth = [rng.choice(classes) for _ in range(300)]
    probabilities = []
    for label in truth:
        row = [rng.random() for _ in classes]
        row[classes.index(label)] += rng.random()
        total = sum(row)
        probabilities.append([p / total for p in row])
    predicted = [classes[max(range(3), key=lambda i: r[i])] for r in probabilities]
    got = classification_metrics(truth, probabilities, classes)
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(truth, predicted))
    assert got["f1_macro"] == pytest.approx(skm.f1_score(truth, predicted, average="macro", zero_division=0))
    assert got["precision_macro"] == pytest.approx(
        skm.precision_score(truth, predicted, average="macro", zero_division=0)
    )
    assert got["recall_macro"] == pytest.approx(
        skm.recall_score(truth, predicted, average="macro", zero_division=0)
    )
    assert "roc_auc" not in got


def test_binary_roc_auc_matches_scikit_learn_with_ties() -> None:
    rng = random.Random(1)
    truth = [rng.choice(["no", "yes"]) for _ in range(200)]
    scores = [round(rng.random() * 0.5 + (0.4 if t == "yes" else 0), 1) for t in truth]
    got = classification_metrics(truth, [[1 - s, s] for s in scores], ("no", "yes"))
    assert got["roc_auc"] == pytest.approx(skm.roc_auc_score([t == "yes" for t in truth], scores))


def test_ks_matches_scipy() -> None:
    rng = random.Random(2)
    a = [rng.gauss(0, 1) for _ in range(400)]
    b = [rng.gauss(0.3, 1) for _ in range(300)]
    statistic, p_value = ks_two_sample(a, b)
    expected = stats.ks_2samp(a, b, method="asymp")
    assert statistic == pytest.approx(expected.statistic)
    assert p_value == pytest.approx(expected.pvalue, rel=0.1, abs=1e-4)


def test_psi_zero_for_identical_and_large_for_disjoint() -> None:
    assert psi([0.25] * 4, [0.25] * 4) == 0
    assert psi([0.5, 0.5, 0, 0], [0, 0, 0.5, 0.5]) > 5


@pytest.mark.parametrize("seed", range(5))
def test_drift_flags_a_shift_and_not_a_resample(seed: int) -> None:
    rng = random.Random(seed)
    numeric = FeatureSpec(name="hours", type="numeric")
    categorical = FeatureSpec(name="category", type="categorical")
    reference = [{"hours": rng.gauss(5, 2), "category": rng.choice("aab")} for _ in range(2000)]
    profiles = [build_profile(numeric, reference), build_profile(categorical, reference)]
    resample = [rng.choice(reference) for _ in range(500)]
    shifted = [{"hours": rng.gauss(7, 2), "category": rng.choice("abb")} for _ in range(500)]
    options = {"psi_threshold": 0.2, "ks_alpha": 0.01, "ks_min_statistic": 0.1}
    for profile, spec in zip(profiles, (numeric, categorical), strict=True):
        assert not feature_drift(profile, spec, resample, **options).drifted
        assert feature_drift(profile, spec, shifted, **options).drifted

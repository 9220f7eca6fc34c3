"""RecommendationPolicy: each recommendation fires past its line, with the figure behind it."""

from __future__ import annotations

import pytest

from motadata_ai.domain.usage.recommendations import RecommendationPolicy
from motadata_ai.domain.values.errors import ConfigurationError
from motadata_ai.domain.values.usage_report import ModelRating, RepeatedRequest, UsageReport, UsageReportRow

PRICES = {"openai/gpt-4o": 0.0125, "openai/gpt-4o-mini": 0.00075}


def by_model(*rows: tuple[str, float], calls: int = 10, hits: int = 0) -> UsageReport:
    return UsageReport(
        tenant_id="acme",
        group_by="model",
        rows=tuple(UsageReportRow(key=key, calls=1, cost_usd=cost) for key, cost in rows),
        total=UsageReportRow(calls=calls, cache_hits=hits, cost_usd=sum(cost for _, cost in rows)),
    )


def test_requests_paid_again_and_again_call_for_a_longer_ttl() -> None:
    policy = RecommendationPolicy(min_repeats=3)
    repeated = [
        RepeatedRequest(fingerprint="a" * 32, model="m", calls=5, paid=4, cost_usd=0.04),
        RepeatedRequest(fingerprint="b" * 32, model="m", calls=3, paid=2, cost_usd=0.02),
    ]
    found = policy.longer_ttl(repeated)
    assert found is not None and found.kind == "longer_cache_ttl"
    assert (found.figure, found.threshold) == (4.0, 3.0)
    assert found.estimated_savings_usd == pytest.approx(0.03)
    assert found.details["requests"] == 1
    assert policy.longer_ttl(repeated[1:]) is None


def test_a_dominant_model_with_a_cheaper_configured_fallback() -> None:
    policy = RecommendationPolicy(dominant_share=0.6)
    report = by_model(("openai/gpt-4o", 0.9), ("openai/gpt-4o-mini", 0.1))
    found = policy.cheaper_fallback(report, ["openai/gpt-4o-mini"], PRICES.__getitem__)
    assert found is not None and found.kind == "cheaper_fallback"
    assert found.figure == pytest.approx(0.9) and found.threshold == 0.6
    assert found.details["fallback"] == "openai/gpt-4o-mini"
    assert found.estimated_savings_usd == pytest.approx(0.9 * (1 - 0.00075 / 0.0125))
    assert policy.cheaper_fallback(report, [], PRICES.__getitem__) is None  # no fallback configured
    balanced = by_model(("openai/gpt-4o", 0.5), ("openai/gpt-4o-mini", 0.5))
    assert policy.cheaper_fallback(balanced, ["openai/gpt-4o-mini"], PRICES.__getitem__) is None


def test_a_fallback_that_costs_more_is_not_recommended() -> None:
    policy = RecommendationPolicy()
    report = by_model(("openai/gpt-4o-mini", 1.0))
    assert policy.cheaper_fallback(report, ["openai/gpt-4o"], PRICES.__getitem__) is None


def test_a_cache_hit_rate_under_the_line_is_reported_once_there_are_enough_calls() -> None:
    policy = RecommendationPolicy(min_hit_rate=0.4, min_calls=20)
    found = policy.low_hit_rate(by_model(("m", 1.0), calls=50, hits=10))
    assert found is not None and found.kind == "low_cache_hit_rate"
    assert (found.figure, found.threshold) == (pytest.approx(0.2), 0.4)
    assert policy.low_hit_rate(by_model(("m", 1.0), calls=50, hits=25)) is None
    assert policy.low_hit_rate(by_model(("m", 1.0), calls=5, hits=0)) is None


@pytest.mark.parametrize(
    "options",
    [
        {"min_repeats": 1},
        {"dominant_share": 0.0},
        {"dominant_share": 1.5},
        {"min_hit_rate": -0.1},
        {"min_calls": 0},
    ],
)
def test_a_threshold_out_of_bounds_is_a_configuration_error(options: dict[str, float]) -> None:
    with pytest.raises(ConfigurationError):
        RecommendationPolicy(**options)  # type: ignore[arg-type]


def rating(model: str, count: int, mean: float | None) -> ModelRating:
    return ModelRating(model=model, feedback_count=count, mean_rating=mean)


def test_a_cheaper_fallback_rated_worse_than_the_tolerance_is_not_recommended() -> None:
    policy = RecommendationPolicy(max_rating_drop=0.5)
    report = by_model(("openai/gpt-4o", 0.9), ("openai/gpt-4o-mini", 0.1))
    within = [rating("openai/gpt-4o", 10, 4.4), rating("openai/gpt-4o-mini", 4, 3.9)]
    found = policy.cheaper_fallback(report, ["openai/gpt-4o-mini"], PRICES.__getitem__, within)
    assert found is not None
    assert found.details["model_mean_rating"] == 4.4 and found.details["model_feedback_count"] == 10
    assert found.details["fallback_mean_rating"] == 3.9 and found.details["fallback_feedback_count"] == 4
    assert found.details["max_rating_drop"] == 0.5
    worse = [rating("openai/gpt-4o", 10, 4.4), rating("openai/gpt-4o-mini", 4, 3.8)]
    assert policy.cheaper_fallback(report, ["openai/gpt-4o-mini"], PRICES.__getitem__, worse) is None


def test_a_fallback_named_without_its_provider_takes_the_ratings_of_its_canonical_name() -> None:
    policy = RecommendationPolicy()
    report = by_model(("openai/gpt-4o", 0.9), ("openai/gpt-4o-mini", 0.1))
    prices = {"gpt-4o-mini": 0.00075, **PRICES}
    worse = [rating("openai/gpt-4o", 3, 5.0), rating("openai/gpt-4o-mini", 3, 2.0)]
    assert policy.cheaper_fallback(report, ["gpt-4o-mini"], prices.__getitem__, worse) is None


def test_without_feedback_on_the_fallback_the_recommendation_says_so() -> None:
    policy = RecommendationPolicy()
    report = by_model(("openai/gpt-4o", 0.9), ("openai/gpt-4o-mini", 0.1))
    found = policy.cheaper_fallback(
        report, ["openai/gpt-4o-mini"], PRICES.__getitem__, [rating("openai/gpt-4o", 2, 4.0)]
    )
    assert found is not None
    assert "no feedback on openai/gpt-4o-mini" in found.message
    assert found.details["fallback_feedback_count"] == 0 and found.details["fallback_mean_rating"] is None


@pytest.mark.parametrize("drop", [-0.1, 4.5])
def test_a_rating_tolerance_out_of_bounds_is_a_configuration_error(drop: float) -> None:
    with pytest.raises(ConfigurationError):
        RecommendationPolicy(max_rating_drop=drop)

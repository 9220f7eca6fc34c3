"""Cost recommendations from the ledger, each with the figure behind it and the line it crossed.

Three checks, each pure over figures the ledger computed:

* ``longer_cache_ttl``: the same request (by fingerprint: the hash of its cache key, never its
  text) was paid at the provider again and again: its cache entry expired (or was never kept)
  between repeats, so a longer TTL would have answered the repeats;
* ``cheaper_fallback``: one model takes most of the spend while the tenant's policy already
  configures a cheaper fallback model, whose users' mean feedback rating is not worse than the
  dominant model's by more than ``max_rating_drop`` (a fallback nobody rated yet is recommended,
  saying so);
* ``low_cache_hit_rate``: the cache answers under 40% of the calls.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from motadata_ai.domain.values.errors import ConfigurationError
from motadata_ai.domain.values.usage_report import (
    ModelRating,
    Recommendation,
    RepeatedRequest,
    UsageReport,
)

__all__ = ["PriceOf", "RecommendationPolicy"]

PriceOf = Callable[[str], float]
"""USD of a reference call (1,000 input and 1,000 output tokens) of a model; 0 when unknown."""


class RecommendationPolicy:
    """The thresholds of the recommendations and the checks against them.

    ``min_repeats``: paid calls of one fingerprint from which a longer TTL is recommended;
    ``dominant_share``: share of the spend that makes one model dominant; ``min_hit_rate``: the
    cache-hit-rate warning line; ``min_calls``: calls needed before a hit rate is judged;
    ``max_rating_drop``: how much lower (on the 1..5 scale) the cheaper fallback's mean feedback
    rating may be than the dominant model's for it still to be recommended.
    """

    def __init__(
        self,
        *,
        min_repeats: int = 3,
        dominant_share: float = 0.6,
        min_hit_rate: float = 0.4,
        min_calls: int = 20,
        max_rating_drop: float = 0.5,
    ) -> None:
        if not 2 <= min_repeats <= 1_000_000:
            raise ConfigurationError(
                f"min_repeats must be within 2..1000000, got {min_repeats}", field="min_repeats"
            )
        if not 0.0 < dominant_share <= 1.0:
            raise ConfigurationError(
                f"dominant_share must be within (0, 1], got {dominant_share}", field="dominant_share"
            )
        if not 0.0 <= min_hit_rate <= 1.0:
            raise ConfigurationError(
                f"min_hit_rate must be within 0..1, got {min_hit_rate}", field="min_hit_rate"
            )
        if not 1 <= min_calls <= 1_000_000_000:
            raise ConfigurationError(f"min_calls must be within 1..1e9, got {min_calls}", field="min_calls")
        if not 0.0 <= max_rating_drop <= 4.0:
            raise ConfigurationError(
                f"max_rating_drop must be within 0..4, got {max_rating_drop}", field="max_rating_drop"
            )
        self.min_repeats = min_repeats
        self.dominant_share = dominant_share
        self.min_hit_rate = min_hit_rate
        self.min_calls = min_calls
        self.max_rating_drop = max_rating_drop

    def longer_ttl(self, repeated: Sequence[RepeatedRequest]) -> Recommendation | None:
        """Recommend a longer cache TTL when some requests were paid ``min_repeats`` times or more."""
        hot = [r for r in repeated if r.paid >= self.min_repeats]
        if not hot:
            return None
        savings = sum(r.avoidable_usd for r in hot)
        paid = sum(r.paid for r in hot)
        return Recommendation(
            kind="longer_cache_ttl",
            message=(
                f"{len(hot)} request(s) were paid at the provider {paid} times in all (each at least "
                f"{self.min_repeats} times): a longer cache TTL would have answered the repeats, "
                f"saving about ${savings:.6f}"
            ),
            figure=float(max(r.paid for r in hot)),
            threshold=float(self.min_repeats),
            estimated_savings_usd=savings,
            details={
                "requests": len(hot),
                "paid_calls": paid,
                "fingerprints": [r.fingerprint for r in hot[:10]],
            },
        )

    def cheaper_fallback(
        self,
        by_model: UsageReport,
        fallbacks: Sequence[str],
        price_of: PriceOf,
        ratings: Iterable[ModelRating] = (),
    ) -> Recommendation | None:
        """Recommend the cheapest configured fallback when one model dominates the spend, unless
        the fallback's mean feedback rating is worse than the dominant model's by more than
        ``max_rating_drop`` (``ratings``: the feedback per model over the same period)."""
        total = by_model.total.cost_usd
        if total <= 0 or not by_model.rows:
            return None
        top = max(by_model.rows, key=lambda r: r.cost_usd)
        share = top.cost_usd / total
        model = top.key or ""
        if share < self.dominant_share or not model:
            return None
        price = price_of(model)
        cheaper = sorted(
            ((price_of(f), f) for f in fallbacks if f != model and f.split("/")[-1] != model.split("/")[-1]),
        )
        if price <= 0 or not cheaper or cheaper[0][0] >= price:
            return None
        fallback_price, fallback = cheaper[0]
        rated = list(ratings)
        mine, theirs = _rating_of(rated, model), _rating_of(rated, fallback)
        if (
            mine.mean_rating is not None
            and theirs.mean_rating is not None
            and mine.mean_rating - theirs.mean_rating > self.max_rating_drop + 1e-9  # the line is inclusive
        ):
            return None
        savings = top.cost_usd * (1.0 - fallback_price / price)
        return Recommendation(
            kind="cheaper_fallback",
            message=(
                f"{model} takes {share:.0%} of the spend (${top.cost_usd:.6f}); the configured fallback "
                f"{fallback} costs {fallback_price / price:.0%} as much per call: routing to it would "
                f"save about ${savings:.6f}; "
                f"{_feedback_line(model, mine)}, {_feedback_line(fallback, theirs)}"
            ),
            figure=share,
            threshold=self.dominant_share,
            estimated_savings_usd=savings,
            details={
                "model": model,
                "fallback": fallback,
                "model_price_usd": price,
                "fallback_price_usd": fallback_price,
                "model_mean_rating": mine.mean_rating,
                "model_feedback_count": mine.feedback_count,
                "fallback_mean_rating": theirs.mean_rating,
                "fallback_feedback_count": theirs.feedback_count,
                "max_rating_drop": self.max_rating_drop,
            },
        )

    def low_hit_rate(self, total: UsageReport) -> Recommendation | None:
        """Warn when the cache answers fewer than ``min_hit_rate`` of ``min_calls`` or more calls."""
        row = total.total
        if row.calls < self.min_calls or row.cache_hit_rate >= self.min_hit_rate:
            return None
        return Recommendation(
            kind="low_cache_hit_rate",
            message=(
                f"the cache answered {row.cache_hit_rate:.0%} of {row.calls} calls, under the "
                f"{self.min_hit_rate:.0%} line: check that caching is on for this tenant and that its "
                f"TTL outlives the repeats"
            ),
            figure=row.cache_hit_rate,
            threshold=self.min_hit_rate,
            details={"calls": row.calls, "cache_hits": row.cache_hits},
        )


def _rating_of(ratings: Sequence[ModelRating], model: str) -> ModelRating:
    """The feedback of ``model``: by its exact name, else by its name without the provider
    (a fallback may be configured as ``gpt-4o-mini`` while the ledger holds ``openai/gpt-4o-mini``)."""
    for rating in ratings:
        if rating.model == model:
            return rating
    bare = model.split("/")[-1]
    for rating in ratings:
        if rating.model.split("/")[-1] == bare:
            return rating
    return ModelRating(model=model)


def _feedback_line(model: str, rating: ModelRating) -> str:
    if rating.mean_rating is None:
        return f"no feedback on {model} yet"
    return f"{model} rated {rating.mean_rating:.2f} over {rating.feedback_count} rating(s)"

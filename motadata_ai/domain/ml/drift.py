"""Data drift in pure Python: reference profiles taken at training, PSI and two-sample KS.

Numeric features are profiled by decile bins (for PSI) and a 1,000-point quantile sketch (for
KS); categorical features by level shares; text features by their token count, as a number.
A feature drifts when its PSI exceeds the threshold, or when KS rejects equality at ``ks_alpha``
*and* the KS distance is material (>= ``ks_min_statistic``), so large samples do not flag shifts
too small to matter.
"""

from __future__ import annotations

import bisect
import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from motadata_ai.domain.values.ml import (
    CategoricalProfile,
    DriftReport,
    FeatureDrift,
    FeatureProfile,
    FeatureSpec,
    ModelVersion,
    NumericProfile,
)

SKETCH_SIZE = 1000
EPSILON = 1e-4
MAX_LEVELS = 20
MIN_LEVEL_SHARE = 0.01
OTHER = "__other__"
"""Categorical levels rarer than 1 % (or beyond the 20 most common) share one bin, so PSI on a
sample of a few hundred rows is not dominated by levels the sample cannot be expected to hold."""
_TOKEN = re.compile(r"\w+")


def _numeric_values(spec: FeatureSpec, rows: Sequence[Mapping[str, Any]]) -> list[float]:
    if spec.type == "text":
        return [float(len(_TOKEN.findall(str(r.get(spec.name) or "")))) for r in rows]
    return [float(v) for r in rows if (v := r.get(spec.name)) is not None]


def _quantile(sorted_values: Sequence[float], q: float) -> float:
    position = q * (len(sorted_values) - 1)
    low = math.floor(position)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


def _bin_shares(values: Sequence[float], edges: Sequence[float]) -> list[float]:
    counts = [0] * (len(edges) + 1)
    for value in values:
        counts[bisect.bisect_left(edges, value)] += 1
    total = len(values) or 1
    return [c / total for c in counts]


def build_profile(spec: FeatureSpec, rows: Sequence[Mapping[str, Any]]) -> FeatureProfile:
    """The reference distribution of one feature over normalised training rows."""
    if spec.type == "categorical":
        counts = Counter(str(r.get(spec.name)) for r in rows)
        total = sum(counts.values()) or 1
        kept = [k for k, v in counts.most_common(MAX_LEVELS) if v / total >= MIN_LEVEL_SHARE]
        proportions = {k: counts[k] / total for k in sorted(kept)}
        rest = 1.0 - sum(proportions.values())
        if rest > 1e-12:
            proportions[OTHER] = rest
        return FeatureProfile(
            name=spec.name, type=spec.type, categorical=CategoricalProfile(proportions=proportions)
        )
    values = sorted(_numeric_values(spec, rows))
    missing = 1 - len(values) / len(rows) if rows else 0.0
    if not values:
        return FeatureProfile(
            name=spec.name,
            type=spec.type,
            missing_fraction=missing,
            numeric=NumericProfile(edges=(), proportions=(1.0,), sample=()),
        )
    edges = tuple(sorted({_quantile(values, q / 10) for q in range(1, 10)}))
    if len(values) > SKETCH_SIZE:
        sample = tuple(_quantile(values, i / (SKETCH_SIZE - 1)) for i in range(SKETCH_SIZE))
    else:
        sample = tuple(values)
    return FeatureProfile(
        name=spec.name,
        type=spec.type,
        missing_fraction=missing,
        numeric=NumericProfile(edges=edges, proportions=tuple(_bin_shares(values, edges)), sample=sample),
    )


def psi(expected: Sequence[float], actual: Sequence[float]) -> float:
    """Population stability index of two share vectors over the same bins (smoothed by 1e-4)."""
    total = 0.0
    for e, a in zip(expected, actual, strict=True):
        e, a = max(e, EPSILON), max(a, EPSILON)
        total += (a - e) * math.log(a / e)
    return total


def _kolmogorov_q(lam: float) -> float:
    """Survival function of the Kolmogorov distribution, Q_KS(λ)."""
    if lam < 1e-3:
        return 1.0
    total = 0.0
    for j in range(1, 101):
        term = 2 * (-1) ** (j - 1) * math.exp(-2 * j * j * lam * lam)
        total += term
        if abs(term) < 1e-10:
            break
    return min(1.0, max(0.0, total))


def ks_two_sample(a: Sequence[float], b: Sequence[float]) -> tuple[float, float]:
    """The two-sample Kolmogorov–Smirnov statistic D and its asymptotic p-value."""
    xs, ys = sorted(a), sorted(b)
    n, m = len(xs), len(ys)
    if not n or not m:
        return 0.0, 1.0
    i = j = 0
    d = 0.0
    while i < n and j < m:
        value = min(xs[i], ys[j])
        while i < n and xs[i] <= value:
            i += 1
        while j < m and ys[j] <= value:
            j += 1
        d = max(d, abs(i / n - j / m))
    effective = math.sqrt(n * m / (n + m))
    return d, _kolmogorov_q((effective + 0.12 + 0.11 / effective) * d)


def feature_drift(
    profile: FeatureProfile,
    spec: FeatureSpec,
    rows: Sequence[Mapping[str, Any]],
    *,
    psi_threshold: float,
    ks_alpha: float,
    ks_min_statistic: float,
) -> FeatureDrift:
    """Compare normalised ``rows`` with the reference ``profile`` of one feature."""
    if profile.categorical is not None:
        reference = profile.categorical.proportions
        counts = Counter(
            level if level in reference else OTHER for level in (str(r.get(spec.name)) for r in rows)
        )
        levels = sorted(set(reference) | set(counts))
        total = sum(counts.values()) + 0.5 * len(levels)
        value = psi(
            [reference.get(k, 0.0) for k in levels], [(counts.get(k, 0) + 0.5) / total for k in levels]
        )
        return FeatureDrift(feature=spec.name, type=spec.type, psi=value, drifted=value > psi_threshold)
    assert profile.numeric is not None
    values = _numeric_values(spec, rows)
    value = psi(profile.numeric.proportions, _bin_shares(values, profile.numeric.edges))
    statistic, p_value = ks_two_sample(profile.numeric.sample, values)
    drifted = value > psi_threshold or (p_value < ks_alpha and statistic >= ks_min_statistic)
    return FeatureDrift(
        feature=spec.name,
        type=spec.type,
        psi=value,
        ks_statistic=statistic,
        ks_p_value=p_value,
        drifted=drifted,
    )


def version_drift(
    version: ModelVersion,
    rows: Sequence[Mapping[str, Any]],
    *,
    psi_threshold: float,
    ks_alpha: float,
    ks_min_statistic: float,
) -> DriftReport:
    """Per-feature drift of ``rows`` against the training reference of ``version``."""
    profiles = {p.name: p for p in version.reference}
    features = tuple(
        feature_drift(
            profiles[spec.name],
            spec,
            rows,
            psi_threshold=psi_threshold,
            ks_alpha=ks_alpha,
            ks_min_statistic=ks_min_statistic,
        )
        for spec in version.signature
        if spec.name in profiles
    )
    return DriftReport(
        model_name=version.model_name,
        version=version.version,
        sample_size=len(rows),
        psi_threshold=psi_threshold,
        ks_alpha=ks_alpha,
        features=features,
        drifted_features=tuple(f.feature for f in features if f.drifted),
    )

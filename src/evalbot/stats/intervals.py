"""Confidence intervals for paired deltas: Tango, Wilson, paired t, BCa, Hodges–Lehmann.

Every function takes ``confidence`` for a two-sided interval; evalbot passes 1 − 2α so each end
is a one-sided (1 − α) bound.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy import optimize, stats

__all__ = [
    "bca_interval",
    "hodges_lehmann",
    "signed_rank_cdf",
    "signed_rank_critical",
    "t_interval",
    "tango_interval",
    "tango_z",
    "walsh_count",
    "walsh_order_statistics",
    "wilson_interval",
]

_EDGE = 1e-12


def tango_z(b: float, c: float, n: int, theta: float) -> float:
    """Tango's score statistic for H0: δ = theta, δ = (c − b)/n (paired difference).

    b = pairs worse (pass → fail), c = pairs better (fail → pass), n = all pairs. The variance
    uses q̃, the restricted maximum-likelihood estimate of P(worse) under H0 (Tango 1998).
    """
    a_coef = 2.0 * n
    b_coef = -b - c + (2.0 * n - c + b) * theta
    c_coef = -b * theta * (1.0 - theta)
    disc = max(b_coef * b_coef - 4.0 * a_coef * c_coef, 0.0)
    q = (-b_coef + math.sqrt(disc)) / (2.0 * a_coef)
    variance = n * (2.0 * q + theta * (1.0 - theta))
    numerator = c - b - n * theta
    if variance <= 0.0:
        # Only at a boundary of the parameter space (theta = ±1, or b = c = 0 at theta = 0).
        return 0.0 if numerator == 0 else math.copysign(math.inf, numerator)
    return numerator / math.sqrt(variance)


def tango_interval(b: int, c: int, n: int, confidence: float) -> tuple[float, float]:
    """Tango score interval for the paired difference (c − b)/n, solved with ``brentq``.

    Well defined with b + c = 0 (then ±z²/(n + z²)); never a Wald interval.
    """
    z = stats.norm.ppf(0.5 + confidence / 2.0)
    estimate = (c - b) / n

    def lower_eq(theta: float) -> float:
        return (0.0 if theta == estimate else tango_z(b, c, n, theta)) - z

    def upper_eq(theta: float) -> float:
        return (0.0 if theta == estimate else tango_z(b, c, n, theta)) + z

    left = -1.0 + _EDGE
    right = 1.0 - _EDGE
    low = -1.0 if lower_eq(left) <= 0 else optimize.brentq(lower_eq, left, estimate, xtol=1e-12)
    high = 1.0 if upper_eq(right) >= 0 else optimize.brentq(upper_eq, estimate, right, xtol=1e-12)
    return float(low), float(high)


def wilson_interval(proportion: float, n: int, confidence: float) -> tuple[float, float]:
    """Wilson score interval for a proportion."""
    z = stats.norm.ppf(0.5 + confidence / 2.0)
    denominator = 1.0 + z * z / n
    centre = (proportion + z * z / (2 * n)) / denominator
    half = z * math.sqrt(proportion * (1 - proportion) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def t_interval(deltas: ArrayLike, confidence: float) -> tuple[Any, Any, Any]:
    """Paired t interval on the mean delta: (low, high, standard error).

    A 2-D input is a batch of samples (one per row); the results are then arrays.
    """
    d = np.asarray(deltas, dtype=float)
    n = d.shape[-1]
    se = d.std(axis=-1, ddof=1) / math.sqrt(n)
    t = stats.t.ppf(0.5 + confidence / 2.0, n - 1)
    mean = d.mean(axis=-1)
    if d.ndim == 1:
        return float(mean - t * se), float(mean + t * se), float(se)
    return mean - t * se, mean + t * se, se


def bca_interval(
    deltas: ArrayLike, confidence: float, rng: np.random.Generator, n_resamples: int = 9999
) -> tuple[float, float, str]:
    """BCa bootstrap interval on the mean delta (seeded); percentile if BCa degenerates.

    Returns (low, high, method name).
    """
    d = np.asarray(deltas, dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy's DegenerateDataWarning: handled below
        result = stats.bootstrap(
            (d,), np.mean, confidence_level=confidence, n_resamples=n_resamples, rng=rng
        )
    low, high = result.confidence_interval
    if np.isfinite(low) and np.isfinite(high):
        return float(low), float(high), "BCa bootstrap"
    # BCa's acceleration is undefined for some very discrete samples; fall back to percentile.
    means = rng.choice(d, size=(n_resamples, d.size)).mean(axis=1)
    tail = 50.0 * (1.0 - confidence)
    low, high = np.percentile(means, [tail, 100.0 - tail])
    return float(low), float(high), "percentile bootstrap"


def signed_rank_cdf(n: int) -> np.ndarray:
    """Exact null CDF of the signed-rank statistic T+ (no ties), via the product of (1 + x^i)."""
    counts = np.zeros(n * (n + 1) // 2 + 1)
    counts[0] = 1.0
    for i in range(1, n + 1):
        counts[i:] = counts[i:] + counts[:-i].copy()
    return np.cumsum(counts) / 2.0**n


def signed_rank_critical(n: int, alpha: float) -> int:
    """Largest k with P(T+ <= k − 1) <= alpha: the rank of the Hodges–Lehmann bounds.

    Exact for n <= 50, normal approximation (with continuity correction) above; 0 means the
    sample is too small to reach that confidence.
    """
    if n <= 50:
        cdf = signed_rank_cdf(n)
        return int(np.searchsorted(cdf, alpha, side="right"))
    mean = n * (n + 1) / 4.0
    sd = math.sqrt(n * (n + 1) * (2 * n + 1) / 24.0)
    return max(0, math.floor(mean + 0.5 - stats.norm.ppf(1 - alpha) * sd))


def walsh_count(xs: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Number of Walsh averages (x_i + x_j)/2, i <= j, at most t (xs sorted)."""
    ordered = np.searchsorted(xs, 2.0 * t[:, None] - xs[None, :], side="right").sum(axis=1)
    diagonal = np.searchsorted(xs, t, side="right")
    return np.asarray((ordered + diagonal) // 2)


def _walsh_max_below(xs: np.ndarray, t: float) -> float:
    """Largest Walsh average <= t (xs sorted; -inf if none)."""
    j = np.searchsorted(xs, 2.0 * t - xs, side="right") - 1
    ok = j >= np.arange(xs.size)
    averages = (xs[ok] + xs[j[ok]]) / 2
    return float(averages[averages <= t].max(initial=-np.inf))


def _walsh_min_above(xs: np.ndarray, t: float) -> float:
    """Smallest Walsh average > t (xs sorted; +inf if none)."""
    j = np.maximum(np.searchsorted(xs, 2.0 * t - xs, side="right"), np.arange(xs.size))
    ok = j < xs.size
    averages = (xs[ok] + xs[j[ok]]) / 2
    return float(averages[averages > t].min(initial=np.inf))


def _walsh_select(xs: np.ndarray, k: int, low: float, high: float) -> float:
    """k-th smallest Walsh average (1-based), given count(low) < k <= count(high)."""
    n = xs.size
    count_low, count_high = (int(v) for v in walsh_count(xs, np.array([low, high])))
    for step in range(200):
        if count_high - count_low <= 4 * n or high - low <= 1e-13 * max(1.0, abs(high)):
            break
        only = _walsh_max_below(xs, high) if step >= 3 else math.nan
        if step >= 3 and _walsh_min_above(xs, low) == only:
            return only  # ties: a single distinct value is left in (low, high]
        # Regula falsi on the count, guarded by bisection so it always shrinks.
        frac = (k - count_low) / (count_high - count_low)
        mid = low + min(max(frac, 0.05), 0.95) * (high - low)
        count_mid = int(walsh_count(xs, np.array([mid]))[0])
        if count_mid >= k:
            high, count_high = mid, count_mid
        else:
            low, count_low = mid, count_mid
    starts = np.maximum(np.arange(n), np.searchsorted(xs, 2 * low - xs, side="right"))
    ends = np.searchsorted(xs, 2 * high - xs, side="right")
    sizes = np.maximum(ends - starts, 0)
    if sizes.sum() > 8 * n:
        # Heavy ties: the averages in (low, high] are all equal; take the largest <= high.
        return _walsh_max_below(xs, high)
    i = np.repeat(np.arange(n), sizes)
    j = (
        np.arange(sizes.sum())
        - np.repeat(np.cumsum(sizes) - sizes, sizes)
        + np.repeat(starts, sizes)
    )
    averages = np.sort((xs[i] + xs[j]) / 2)
    averages = averages[(averages > low) & (averages <= high)]
    if averages.size == 0:
        return float(high)
    return float(averages[min(max(k - count_low - 1, 0), averages.size - 1)])


def walsh_order_statistics(
    values: ArrayLike, ranks: ArrayLike, *, rng: np.random.Generator | None = None
) -> np.ndarray:
    """Order statistics (1-based ranks) of the n(n+1)/2 Walsh averages without listing them all.

    Small n enumerates; large n brackets each rank from a random sample of pairs and narrows
    it by counting with ``searchsorted`` (O(n log n) per step), so n = 100,000 takes well
    under a second.
    """
    xs = np.sort(np.asarray(values, dtype=float))
    ranks = np.asarray(ranks, dtype=np.int64)
    n = xs.size
    total = n * (n + 1) // 2
    if n <= 1500:
        i, j = np.triu_indices(n)
        averages = (xs[i] + xs[j]) / 2
        return np.asarray(np.partition(averages, ranks - 1)[ranks - 1])
    generator = rng if rng is not None else np.random.default_rng(0)
    sample = (xs[generator.integers(0, n, 200_000)] + xs[generator.integers(0, n, 200_000)]) / 2
    quantiles = ranks / total
    spread = 6.0 * np.sqrt(quantiles * (1 - quantiles) / sample.size) + 1e-4
    lows = np.quantile(sample, np.clip(quantiles - spread, 0, 1))
    highs = np.quantile(sample, np.clip(quantiles + spread, 0, 1))
    counts_low = walsh_count(xs, lows)
    counts_high = walsh_count(xs, highs)
    out = np.empty(ranks.size)
    for idx, k in enumerate(ranks):
        low, high = lows[idx], highs[idx]
        if not counts_low[idx] < k:
            low = xs[0] - max(1.0, abs(xs[0]))
        if not k <= counts_high[idx]:
            high = xs[-1]
        out[idx] = _walsh_select(xs, int(k), float(low), float(high))
    return out


def hodges_lehmann(
    deltas: ArrayLike, confidence: float, *, rng: np.random.Generator | None = None
) -> tuple[float, float | None, float | None]:
    """Hodges–Lehmann shift (median of Walsh averages) and its distribution-free interval.

    The interval inverts the Wilcoxon signed-rank test: the k-th smallest and largest Walsh
    averages. Returns (estimate, low, high); the bounds are None when n is too small.
    """
    d = np.asarray(deltas, dtype=float)
    n = d.size
    total = n * (n + 1) // 2
    k = signed_rank_critical(n, (1.0 - confidence) / 2.0)
    ranks = [(total + 1) // 2, total // 2 + 1]
    if k >= 1:
        ranks += [k, total + 1 - k]
    stats_ = walsh_order_statistics(d, ranks, rng=rng)
    estimate = float((stats_[0] + stats_[1]) / 2)
    if k < 1:
        return estimate, None, None
    return estimate, float(stats_[2]), float(stats_[3])

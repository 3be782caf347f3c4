"""Judge-scored deltas in human units: correct for the judge's errors with a calibration set.

A judge measures the truth through its own errors. Under non-differential errors (the judge errs
the same way on base and head outputs) a judge delta is the true delta times the judge's
*sensitivity* s, in judge units per human unit:

- binary judge: s = J = se + sp − 1 (Youden's J), so Δ_true = Δ_judge / J (Rogan–Gladen);
- Likert or continuous judge: s = the structural slope b of E[judge | truth] on the truth, so
  Δ_true = Δ_judge / b. b comes from a Deming regression of the judge on the human rating
  (orthogonal, error-variance ratio 1, by default), which, unlike ordinary least squares,
  allows for noise in the human labels too.

The interval is a Bonferroni projection. The paired comparison gives one-sided (1 − α_D) bounds
[L, U] of Δ_judge; the calibration set gives one-sided (1 − α_s) bounds [s_lo, s_hi] of s, with
α_D + α_s = α. Every (Δ, s) pair inside both is mapped to Δ/s, and the corrected bounds are the
extremes: L/s_lo when L < 0 (else L/s_hi), and U/s_hi when U < 0 (else U/s_lo). A corrected
bound is wrong only if one of the two inputs is, so each side holds level α_D + α_s = α whatever
the correlation, at any size, with no normal approximation of a ratio (the delta method
under-covers when s is uncertain). The test of "Δ_true ≥ −m" is the paired test of
"Δ_judge ≥ −m·s_hi" at level α_D, and its p-value plus α_s is the corrected p-value: p < α
exactly when the corrected upper bound is below −m.

s bounds: binary J from Newcombe's hybrid score interval for the difference se − (1 − sp) of two
independent proportions, each with Wilson limits (the judge values may be fractions in [0, 1]: a
variable in [0, 1] has at most the Bernoulli variance of its mean, so Wilson on fractional counts
stays conservative); slope from a seeded percentile bootstrap over the calibration examples.

A sensitivity whose lower bound is at most ``SENSITIVITY_FLOOR`` cannot be divided by: the metric
is *uncalibrated* and no corrected interval is given.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

__all__ = [
    "CALIBRATION_SHARE",
    "SENSITIVITY_FLOOR",
    "CorrectedBounds",
    "Sensitivity",
    "binary_sensitivity",
    "corrected_bounds",
    "deming_slope",
    "estimate_sensitivity",
    "newcombe_bounds",
    "slope_sensitivity",
    "split_alpha",
    "wilson_bounds",
]

SENSITIVITY_FLOOR = 0.1
"""A judge whose sensitivity may be this small (or smaller) would multiply noise by ≥ 10."""
CALIBRATION_SHARE = 0.5
"""Share of the one-sided α spent on the calibration bound; the rest goes to the paired test."""
DEFAULT_RESAMPLES = 2000

Kind = Literal["binary", "slope"]


def split_alpha(alpha: float) -> tuple[float, float]:
    """(α_D, α_s): the paired test's and the calibration bound's shares of α."""
    alpha_s = alpha * CALIBRATION_SHARE
    return alpha - alpha_s, alpha_s


@dataclass(frozen=True)
class Sensitivity:
    """Judge units per human unit, with one-sided (1 − alpha) bounds on each side."""

    kind: Kind
    estimate: float
    low: float
    high: float
    alpha: float
    n: int
    method: str
    details: dict[str, Any] = field(default_factory=dict)
    """Binary: se and sp with their bounds and counts; slope: the intercept."""

    @property
    def calibrated(self) -> bool:
        """False when the bound reaches ``SENSITIVITY_FLOOR``: correcting would divide by noise."""
        return math.isfinite(self.low) and self.low > SENSITIVITY_FLOOR

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "calibrated": self.calibrated}


def wilson_bounds(successes: ArrayLike, n: ArrayLike, alpha: float) -> tuple[Any, Any]:
    """One-sided (1 − alpha) Wilson bounds of a proportion (vectorized; NaN when n = 0)."""
    x = np.asarray(successes, dtype=float)
    m = np.asarray(n, dtype=float)
    z = float(stats.norm.ppf(1 - alpha))
    with np.errstate(divide="ignore", invalid="ignore"):
        p = x / m
        denominator = 1 + z * z / m
        centre = (p + z * z / (2 * m)) / denominator
        half = z * np.sqrt(np.maximum(p * (1 - p), 0.0) / m + z * z / (4 * m * m)) / denominator
    return np.clip(centre - half, 0.0, 1.0), np.clip(centre + half, 0.0, 1.0)


def newcombe_bounds(
    x_pos: ArrayLike, n_pos: ArrayLike, x_neg: ArrayLike, n_neg: ArrayLike, alpha: float
) -> tuple[Any, Any]:
    """One-sided (1 − alpha) bounds of J = x_pos/n_pos − x_neg/n_neg (vectorized).

    Newcombe (1998) method 10 for a difference of independent proportions: each proportion's
    distance to its Wilson limit, combined in quadrature. The upper bound is capped at 1.
    """
    x1, n1 = np.asarray(x_pos, dtype=float), np.asarray(n_pos, dtype=float)
    x2, n2 = np.asarray(x_neg, dtype=float), np.asarray(n_neg, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        p1, p2 = x1 / n1, x2 / n2
    lo1, hi1 = wilson_bounds(x1, n1, alpha)
    lo2, hi2 = wilson_bounds(x2, n2, alpha)
    estimate = p1 - p2
    low = estimate - np.hypot(p1 - lo1, hi2 - p2)
    high = np.minimum(estimate + np.hypot(hi1 - p1, p2 - lo2), 1.0)
    return low, high


def binary_sensitivity(judge: ArrayLike, human: ArrayLike, *, alpha: float) -> Sensitivity:
    """J = se + sp − 1 of a judge against binary human labels, with Newcombe bounds.

    ``judge`` holds the judge's values in [0, 1] (0/1 verdicts or probabilities), ``human`` the
    labels (1 = pass). se = mean judge value on human passes, 1 − sp = on human failures.
    """
    j = np.asarray(judge, dtype=float)
    h = np.asarray(human, dtype=float) >= 0.5
    n_pos, n_neg = int(h.sum()), int((~h).sum())
    if n_pos == 0 or n_neg == 0:
        return Sensitivity(
            "binary",
            math.nan,
            -math.inf,
            math.inf,
            alpha,
            len(j),
            "Newcombe hybrid score (Wilson)",
            {"note": "the labels need both passes and failures to measure se and sp"},
        )
    x_pos, x_neg = float(j[h].sum()), float(j[~h].sum())
    se, fpr = x_pos / n_pos, x_neg / n_neg
    (se_lo, fpr_lo), (se_hi, fpr_hi) = wilson_bounds([x_pos, x_neg], [n_pos, n_neg], alpha)
    estimate = se - fpr
    low, high = (float(v) for v in newcombe_bounds(x_pos, n_pos, x_neg, n_neg, alpha))
    details = {
        "se": se,
        "sp": 1 - fpr,
        "se_bounds": [float(se_lo), float(se_hi)],
        "sp_bounds": [float(1 - fpr_hi), float(1 - fpr_lo)],
        "positives": n_pos,
        "negatives": n_neg,
    }
    return Sensitivity(
        "binary",
        estimate,
        low,
        high,
        alpha,
        len(j),
        "Newcombe hybrid score (Wilson)",
        details,
    )


def deming_slope(x: ArrayLike, y: ArrayLike, *, error_ratio: float = 1.0) -> np.ndarray:
    """Deming slope of y on x along the last axis (vectorized over leading axes).

    ``error_ratio`` is var(error of y) / var(error of x); 1 is orthogonal regression.
    """
    xs = np.asarray(x, dtype=float)
    ys = np.asarray(y, dtype=float)
    n = xs.shape[-1]
    xc = xs - xs.mean(axis=-1, keepdims=True)
    yc = ys - ys.mean(axis=-1, keepdims=True)
    sxx = (xc * xc).sum(axis=-1) / (n - 1)
    syy = (yc * yc).sum(axis=-1) / (n - 1)
    sxy = (xc * yc).sum(axis=-1) / (n - 1)
    spread = syy - error_ratio * sxx
    root = np.sqrt(spread * spread + 4 * error_ratio * sxy * sxy)
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = (spread + root) / (2 * sxy)
    return np.where(sxy == 0, 0.0, slope)


def slope_sensitivity(
    judge: ArrayLike,
    human: ArrayLike,
    *,
    alpha: float,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    error_ratio: float = 1.0,
) -> Sensitivity:
    """Judge points per human point (Deming slope of judge on human), bootstrap bounds."""
    j = np.asarray(judge, dtype=float)
    h = np.asarray(human, dtype=float)
    n = len(j)
    method = "Deming regression (orthogonal), percentile bootstrap over calibration examples"
    if n < 3 or np.ptp(h) == 0 or np.ptp(j) == 0:
        return Sensitivity("slope", math.nan, -math.inf, math.inf, alpha, n, method)
    estimate = float(deming_slope(h, j, error_ratio=error_ratio))
    rng = np.random.default_rng(seed)
    index = rng.integers(0, n, size=(n_resamples, n))
    draws = deming_slope(h[index], j[index], error_ratio=error_ratio)
    draws = draws[np.isfinite(draws)]
    low, high = np.quantile(draws, [alpha, 1 - alpha]) if draws.size else (-math.inf, math.inf)
    intercept = float(j.mean() - estimate * h.mean())
    return Sensitivity(
        "slope",
        estimate,
        float(low),
        float(high),
        alpha,
        n,
        method,
        {"intercept": intercept, "error_ratio": error_ratio, "n_resamples": n_resamples},
    )


def estimate_sensitivity(
    judge: ArrayLike,
    human: ArrayLike,
    *,
    binary: bool,
    alpha: float,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> Sensitivity:
    """``binary_sensitivity`` for 0/1 labels, else ``slope_sensitivity``."""
    if binary:
        return binary_sensitivity(judge, human, alpha=alpha)
    return slope_sensitivity(judge, human, alpha=alpha, n_resamples=n_resamples, seed=seed)


@dataclass(frozen=True)
class CorrectedBounds:
    low: Any
    high: Any


def corrected_bounds(
    low: ArrayLike, high: ArrayLike, s_low: ArrayLike, s_high: ArrayLike
) -> CorrectedBounds:
    """Projection of the box [low, high] × [s_low, s_high] through Δ/s (vectorized, s_low > 0).

    ``low``/``high`` are bounds of the judge delta; ±inf (an unbounded side) stays ±inf.
    """
    lo = np.asarray(low, dtype=float)
    hi = np.asarray(high, dtype=float)
    s_lo = np.asarray(s_low, dtype=float)
    s_hi = np.asarray(s_high, dtype=float)
    with np.errstate(invalid="ignore"):
        new_low = np.where(lo < 0, lo / s_lo, lo / s_hi)
        new_high = np.where(hi < 0, hi / s_hi, hi / s_lo)
    return CorrectedBounds(new_low, new_high)

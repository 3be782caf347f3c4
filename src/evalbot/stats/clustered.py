"""Clustered analysis: examples within a ``group`` (a conversation, a source document) are not
independent, so standard errors and permutations work on whole clusters."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from evalbot.stats.paired import EXACT_LIMIT, signflip_pvalues

__all__ = ["cluster_robust_se", "cluster_sums", "clustered_signflip", "clustered_t_interval"]


def cluster_sums(values: ArrayLike, clusters: ArrayLike) -> np.ndarray:
    """Sum of ``values`` per cluster code (codes 0..G-1)."""
    return np.bincount(np.asarray(clusters), weights=np.asarray(values, dtype=float))


def cluster_robust_se(values: ArrayLike, clusters: ArrayLike) -> float:
    """Cluster-robust (sandwich) standard error of the mean.

    SE = sqrt(G/(G−1) · Σ_c (Σ_{i∈c} (y_i − ȳ))²) / n, which equals statsmodels
    ``OLS(y, ones).fit(cov_type="cluster")`` (its (n−1)/(n−k) factor is 1 for k = 1).
    Returns NaN for a single cluster.
    """
    y = np.asarray(values, dtype=float)
    residual_sums = cluster_sums(y - y.mean(), clusters)
    g = residual_sums.size
    if g < 2:
        return math.nan
    return float(math.sqrt(g / (g - 1) * np.sum(residual_sums**2)) / y.size)


def clustered_t_interval(
    values: ArrayLike, clusters: ArrayLike, confidence: float
) -> tuple[float, float, float]:
    """Mean ± t_{G−1} · cluster-robust SE: (low, high, SE)."""
    y = np.asarray(values, dtype=float)
    se = cluster_robust_se(y, clusters)
    g = int(np.asarray(clusters).max()) + 1
    t = stats.t.ppf(0.5 + confidence / 2.0, g - 1)
    mean = float(y.mean())
    return mean - t * se, mean + t * se, se


def clustered_signflip(
    deltas: ArrayLike,
    clusters: ArrayLike,
    *,
    n_resamples: int = EXACT_LIMIT,
    rng: np.random.Generator | int | None = 0,
) -> tuple[np.ndarray, np.ndarray, str]:
    """Cluster-level sign-flip test: flips each cluster's summed delta as a whole.

    Args:
        deltas: shape (n,) or (runs, n) good-direction deltas (one row per test).
        clusters: cluster code of each column (0..G-1), shared by all rows.

    Returns:
        (p_less, p_two, method) as in ``signflip_pvalues``, with G clusters as the units.
    """
    rows = np.atleast_2d(np.asarray(deltas, dtype=float))
    codes = np.asarray(clusters)
    g = int(codes.max()) + 1
    if rows.shape[0] * codes.size <= 4_000_000 and codes.size * g <= 4_000_000:
        # (runs, n) @ (n, G) one-hot: per-row cluster sums without a Python loop.
        onehot = np.zeros((codes.size, g))
        onehot[np.arange(codes.size), codes] = 1.0
        sums = rows @ onehot
    else:
        sums = np.stack([np.bincount(codes, weights=row, minlength=g) for row in rows])
    return signflip_pvalues(sums, n_resamples=n_resamples, rng=rng)

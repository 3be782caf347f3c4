"""Paired hypothesis tests, vectorized so simulations run the same code as ``compare_metric``.

Conventions: inputs are deltas in the *good* direction (positive = better). ``p_less`` is the
one-sided p-value for "the good-direction delta is below zero" (a regression); callers test a
margin by shifting the deltas by +max_drop first. ``p_two`` is two-sided for "no change".
"""

from __future__ import annotations

import warnings
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

__all__ = [
    "EXACT_LIMIT",
    "NORMAL_LIMIT",
    "SignFlipMethod",
    "mcnemar_exact",
    "mcnemar_midp",
    "sign_test",
    "signflip_method",
    "signflip_pvalues",
    "wilcoxon_pvalues",
]

EXACT_LIMIT = 9999
"""Default resample count; 2**n at or below it means an exact enumeration."""
NORMAL_LIMIT = 5000
"""Above this n the sign-flip distribution is replaced by its normal limit (see signflip)."""
_MAX_BLOCK = 2_000_000  # elements per random-sign block: bounds memory at ~16 MB

SignFlipMethod = Literal["exact", "monte-carlo", "normal"]


def mcnemar_midp(b: ArrayLike, c: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """McNemar mid-p test on discordant counts (vectorized).

    Args:
        b: pairs that got worse (base pass, head fail in the good direction).
        c: pairs that got better.

    Returns:
        (one-sided p for "worse", two-sided p). X ~ Bin(b + c, 1/2):
        one-sided P(X > b) + P(X = b)/2; two-sided 2[P(X <= k) - P(X = k)/2], k = min(b, c).
        With no discordant pair they are 0.5 and 1.
    """
    b = np.asarray(b, dtype=float)
    c = np.asarray(c, dtype=float)
    k = b + c
    one = stats.binom.sf(b, k, 0.5) + 0.5 * stats.binom.pmf(b, k, 0.5)
    low = np.minimum(b, c)
    two = 2.0 * (stats.binom.cdf(low, k, 0.5) - 0.5 * stats.binom.pmf(low, k, 0.5))
    return np.clip(one, 0.0, 1.0), np.clip(two, 0.0, 1.0)


def mcnemar_exact(b: ArrayLike, c: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Exact-conditional McNemar (one-sided "worse", two-sided); conservative, for reference."""
    b = np.asarray(b, dtype=float)
    c = np.asarray(c, dtype=float)
    k = b + c
    one = stats.binom.sf(b - 1, k, 0.5)
    two = 2.0 * stats.binom.cdf(np.minimum(b, c), k, 0.5)
    return np.clip(one, 0.0, 1.0), np.clip(two, 0.0, 1.0)


def signflip_method(n: int, n_resamples: int = EXACT_LIMIT) -> SignFlipMethod:
    """Which sign-flip p-value ``signflip_pvalues`` computes for n examples (or clusters)."""
    if n <= 62 and 2**n <= n_resamples:
        return "exact"
    return "monte-carlo" if n <= NORMAL_LIMIT else "normal"


def _random_bits(generator: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Uniform 0/1 floats; unpacking random bytes is ~10x faster than ``integers(0, 2)``."""
    size = shape[0] * shape[1]
    raw = np.frombuffer(generator.bytes((size + 7) // 8), dtype=np.uint8)
    return np.unpackbits(raw)[:size].reshape(shape).astype(np.float64)


def _counts(
    observed: np.ndarray, rows: np.ndarray, flips: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per row: how many sign-flipped sums are <= observed, and |.| >= |observed|.

    ``flips`` holds 0/1 per (resample, unit): 1 flips the unit's sign.
    """
    flipped = observed - 2.0 * (rows @ flips.T)  # (rows, resamples)
    # Relative tolerance so that sums equal in exact arithmetic (ties: Likert, 0/1 data) count.
    tol = 1e-9 * np.maximum(np.abs(rows).sum(axis=1, keepdims=True), 1e-300)
    less = (flipped <= observed + tol).sum(axis=1)
    extreme = (np.abs(flipped) >= np.abs(observed) - tol).sum(axis=1)
    return less, extreme


def signflip_pvalues(
    deltas: ArrayLike,
    *,
    n_resamples: int = EXACT_LIMIT,
    rng: np.random.Generator | int | None = 0,
) -> tuple[np.ndarray, np.ndarray, SignFlipMethod]:
    """Sign-flip permutation test of the mean, for one or many samples at once.

    Under H0 each delta is symmetric about zero, so flipping signs leaves the distribution of
    the sum unchanged. Exact enumeration when 2**n <= n_resamples; otherwise Monte Carlo with
    the +1 correction (Phipson & Smyth 2010), so p is never 0 and the test stays valid; for
    n > NORMAL_LIMIT the sign-flip distribution's normal limit: the flipped sum has mean 0 and
    variance sum(d**2) exactly, and it is symmetric, so the error is O(1/n).

    Args:
        deltas: shape (n,) or (runs, n); each row is one test.
        n_resamples: random sign vectors per row (Monte Carlo).
        rng: seed or generator.

    Returns:
        (p_less, p_two, method): arrays of length runs (scalars' arrays for 1-D input).
    """
    rows = np.atleast_2d(np.asarray(deltas, dtype=float))
    runs, n = rows.shape
    method = signflip_method(n, n_resamples)
    observed = rows.sum(axis=1, keepdims=True)
    if n == 0:
        return np.ones(runs), np.ones(runs), method
    if method == "normal":
        scale = np.sqrt((rows**2).sum(axis=1))
        with np.errstate(invalid="ignore", divide="ignore"):
            z = np.where(scale > 0, observed[:, 0] / scale, 0.0)
        p_less = np.where(scale > 0, stats.norm.cdf(z), 1.0)
        p_two = np.where(scale > 0, 2 * stats.norm.sf(np.abs(z)), 1.0)
        return p_less, np.minimum(p_two, 1.0), method
    if method == "exact":
        grid = ((np.arange(2**n)[:, None] >> np.arange(n)) & 1).astype(np.float64)
        less, extreme = _counts(observed, rows, grid)
        return less / 2**n, extreme / 2**n, method
    generator = np.random.default_rng(rng)
    less = np.zeros(runs)
    extreme = np.zeros(runs)
    row_block = max(1, min(runs, _MAX_BLOCK // max(n_resamples, 1)))
    for start in range(0, runs, row_block):
        chunk = rows[start : start + row_block]
        chunk_obs = observed[start : start + row_block]
        # Fresh signs per block of rows keeps the runs of a simulation independent.
        draw_block = max(1, _MAX_BLOCK // n)
        for drawn in range(0, n_resamples, draw_block):
            size = min(draw_block, n_resamples - drawn)
            l_count, e_count = _counts(chunk_obs, chunk, _random_bits(generator, (size, n)))
            less[start : start + row_block] += l_count
            extreme[start : start + row_block] += e_count
    return (1 + less) / (n_resamples + 1), (1 + extreme) / (n_resamples + 1), method


def wilcoxon_pvalues(deltas: ArrayLike) -> tuple[float, float]:
    """Wilcoxon signed-rank test (Pratt zeros): (one-sided p for "below zero", two-sided p).

    Tests the pseudo-median (symmetry point), not the mean. All-zero deltas give (1, 1).
    """
    d = np.asarray(deltas, dtype=float)
    if d.size == 0 or np.all(d == 0):
        return 1.0, 1.0
    with warnings.catch_warnings():
        # scipy warns about the normal approximation with ties and small n; we note small n.
        warnings.simplefilter("ignore")
        less = stats.wilcoxon(d, zero_method="pratt", alternative="less").pvalue
        two = stats.wilcoxon(d, zero_method="pratt", alternative="two-sided").pvalue
    return float(np.clip(less, 0, 1)), float(np.clip(two, 0, 1))


def sign_test(wins: int, losses: int) -> tuple[float, float]:
    """Exact sign test on wins vs losses (ties excluded): (one-sided p for "loses", two-sided)."""
    if wins + losses == 0:
        return 1.0, 1.0
    less = stats.binomtest(wins, wins + losses, 0.5, alternative="less").pvalue
    two = stats.binomtest(wins, wins + losses, 0.5).pvalue
    return float(less), float(two)

"""Sign-flip test inversion: the interval is the set of shifts the test does not reject.

Units are examples, or whole clusters. Unit u has a summed good-direction delta T_u over m_u
examples. The test of H0 "mean delta = δ0" flips the signs of T_u − m_u·δ0. A flip of the set F
of units leaves the statistic Σ_u (T_u − m_u·δ0) no larger exactly when Σ_F (T_u − m_u·δ0) ≥ 0,
that is when the weighted subset mean R_F = Σ_F T / Σ_F m is ≥ δ0. So

    p_less(δ0) = (identity + #{F : R_F ≥ δ0}) / N

falls stepwise in δ0, and the one-sided bounds are order statistics of the subset means
(Hartigan 1969). Interval and test are the same computation: "upper bound < −margin" holds
exactly when the test rejects "drop ≤ margin", at every n. The test is exact when the unit
deltas are symmetric about δ0, whatever the unit sizes (unbalanced clusters included), so no
t or normal approximation decides a verdict below the normal limit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from evalbot.stats.paired import EXACT_LIMIT, NORMAL_LIMIT

__all__ = ["FlipBounds", "flip_bounds", "flip_ratios"]

_BLOCK = 2_000_000  # elements per block of random signs (~16 MB)


def _bits(generator: np.random.Generator, rows: int, cols: int) -> np.ndarray:
    size = rows * cols
    raw = np.frombuffer(generator.bytes((size + 7) // 8), dtype=np.uint8)
    return np.unpackbits(raw)[:size].reshape(rows, cols).astype(np.float64)


def flip_ratios(
    totals: np.ndarray,
    sizes: np.ndarray,
    *,
    n_resamples: int = EXACT_LIMIT,
    rng: np.random.Generator | int | None = 0,
) -> tuple[np.ndarray, int, str]:
    """Subset means R_F of the flipped sets, for one or many samples.

    Args:
        totals: (G,) or (runs, G) summed deltas per unit.
        sizes: (G,) examples per unit, shared by all rows.
        n_resamples: random flips when 2**G exceeds it.

    Returns:
        (ratios, N, method): ratios has shape (runs, flips); empty flips are +inf (they never
        change the statistic, so they always count as "not smaller"); N is the denominator of
        the p-value (2**G exact, n_resamples + 1 with the identity added for Monte Carlo).
    """
    rows = np.atleast_2d(np.asarray(totals, dtype=float))
    m = np.asarray(sizes, dtype=float)
    g = m.size
    if g <= 62 and 2**g <= n_resamples:
        flips = ((np.arange(2**g)[:, None] >> np.arange(g)) & 1).astype(np.float64)
        num = rows @ flips.T
        den = flips @ m
        method, total = "exact", 2**g
    else:
        generator = np.random.default_rng(rng)
        num = np.empty((rows.shape[0], n_resamples))
        den = np.empty(n_resamples)
        step = max(1, _BLOCK // g)
        for start in range(0, n_resamples, step):
            size = min(step, n_resamples - start)
            flips = _bits(generator, size, g)
            num[:, start : start + size] = rows @ flips.T
            den[start : start + size] = flips @ m
        # The identity is added by hand (it always counts), as in Phipson & Smyth's +1.
        num = np.concatenate([num, np.zeros((rows.shape[0], 1))], axis=1)
        den = np.append(den, 0.0)
        method, total = "monte-carlo", n_resamples + 1
    with np.errstate(invalid="ignore", divide="ignore"):
        ratios = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.inf)
    return ratios, total, method


@dataclass
class FlipBounds:
    """One-sided bounds and p-values of the inverted sign-flip test (one sample)."""

    lower: float
    upper: float
    method: str
    ratios: np.ndarray
    total: int
    tolerance: float
    totals: np.ndarray
    sizes: np.ndarray

    def _normal_z(self, delta0: float) -> float:
        centred = self.totals - self.sizes * delta0
        scale = math.sqrt(float(np.sum(centred**2)))
        return float(centred.sum() / scale) if scale > 0 else 0.0

    def p_less(self, delta0: float) -> float:
        """One-sided p for "mean delta < delta0" (small when the mean is below delta0)."""
        if self.method == "normal":
            return float(stats.norm.cdf(self._normal_z(delta0)))
        return float(np.sum(self.ratios >= delta0 - self.tolerance) / self.total)

    def p_greater(self, delta0: float) -> float:
        """One-sided p for "mean delta > delta0"."""
        if self.method == "normal":
            return float(stats.norm.sf(self._normal_z(delta0)))
        finite = np.isfinite(self.ratios)
        hits = np.sum(finite & (self.ratios <= delta0 + self.tolerance)) + np.sum(~finite)
        return float(hits / self.total)

    def p_two_sided(self) -> float:
        """Two-sided p for "no change": twice the smaller one-sided p, at most 1."""
        return min(1.0, 2 * min(self.p_less(0.0), self.p_greater(0.0)))


def _order_bounds(ratios: np.ndarray, total: int, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Per row: (lower, upper) one-sided (1 − α) bounds from the subset means.

    upper = the j-th largest finite ratio, j = ⌈α·N⌉ − (flips that always count); below j
    counted flips the test rejects. −inf/+inf when the sample cannot reach that level.
    """
    finite = np.isfinite(ratios)
    always = (~finite).sum(axis=1)  # identity (and any empty flip): count on both sides
    j = np.ceil(alpha * total - 1e-9).astype(int) - always
    runs = ratios.shape[0]
    upper = np.full(runs, np.inf)
    lower = np.full(runs, -np.inf)
    sorted_r = np.sort(np.where(finite, ratios, np.nan), axis=1)  # NaNs last
    count = finite.sum(axis=1)
    for_rows = np.arange(runs)
    ok = (j >= 1) & (j <= count)
    # j-th largest = sorted[count − j]; j-th smallest = sorted[j − 1].
    upper[ok] = sorted_r[for_rows[ok], (count - j)[ok]]
    lower[ok] = sorted_r[for_rows[ok], (j - 1)[ok]]
    return lower, upper


def batch_bounds(
    totals: np.ndarray,
    sizes: np.ndarray,
    alpha: float,
    *,
    n_resamples: int = EXACT_LIMIT,
    rng: np.random.Generator | int | None = 0,
) -> tuple[np.ndarray, np.ndarray, str]:
    """(lower, upper, method) for many samples at once (simulations call this)."""
    rows = np.atleast_2d(np.asarray(totals, dtype=float))
    m = np.asarray(sizes, dtype=float)
    if int(m.sum()) > NORMAL_LIMIT and m.size > NORMAL_LIMIT:
        lows, highs = zip(*(_normal_bounds(r, m, alpha) for r in rows), strict=True)
        return np.array(lows), np.array(highs), "normal"
    ratios, total, method = flip_ratios(rows, m, n_resamples=n_resamples, rng=rng)
    lower, upper = _order_bounds(ratios, total, alpha)
    return lower, upper, method


def _normal_bounds(totals: np.ndarray, sizes: np.ndarray, alpha: float) -> tuple[float, float]:
    """Invert the normal limit of the flip distribution: Σ(T − mδ)/√Σ(T − mδ)² = ±z.

    The flipped sum has mean 0 and variance Σ(T − mδ)² exactly; solving the quadratic in δ gives
    both bounds (used above NORMAL_LIMIT units, where the limit is accurate to O(1/n)).
    """
    z = float(stats.norm.ppf(1 - alpha))
    s, sm, mm = totals.sum(), sizes.sum(), (sizes * sizes).sum()
    st, tt = (sizes * totals).sum(), (totals * totals).sum()
    # (s − sm·δ)² = z²(tt − 2δ·st + δ²·mm)
    a = sm * sm - z * z * mm
    b = -2 * s * sm + 2 * z * z * st
    c = s * s - z * z * tt
    disc = b * b - 4 * a * c
    if a <= 0 or disc < 0:
        return -math.inf, math.inf
    root = math.sqrt(disc)
    return (-b - root) / (2 * a), (-b + root) / (2 * a)


def flip_bounds(
    totals: np.ndarray,
    sizes: np.ndarray,
    alpha: float,
    *,
    n_resamples: int = EXACT_LIMIT,
    rng: np.random.Generator | int | None = 0,
) -> FlipBounds:
    """Bounds and p-value function of the inverted sign-flip test for one sample."""
    t = np.asarray(totals, dtype=float)
    m = np.asarray(sizes, dtype=float)
    scale = float(np.max(np.abs(t) / np.maximum(m, 1), initial=0.0))
    tolerance = 1e-9 * max(scale, 1e-300)
    if m.size > NORMAL_LIMIT:
        low, high = _normal_bounds(t, m, alpha)
        return FlipBounds(low, high, "normal", np.array([]), 0, tolerance, t, m)
    ratios, total, method = flip_ratios(t, m, n_resamples=n_resamples, rng=rng)
    lower, upper = _order_bounds(ratios, total, alpha)
    return FlipBounds(float(lower[0]), float(upper[0]), method, ratios[0], total, tolerance, t, m)

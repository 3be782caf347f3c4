"""Exact unconditional test for a paired difference of proportions, and its inversion.

Data: n pairs, b worse (pass → fail), c better (fail → pass), the rest unchanged; the paired
difference is θ = (p_c − p_b). H0 "θ = θ0" leaves one nuisance parameter, the discordance
ψ = p_b + p_c ∈ [|θ0|, 1]. The test orders outcomes by Tango's score statistic and takes the
p-value as the largest tail probability over ψ (Suissa & Shuster 1985; Berger & Boos 1994
discuss the supremum), so it holds its level at every n and every ψ, including n = 2, where
the asymptotic score test does not (exact size 7.3 % at n = 20, ψ = 0.2, margin 0.10).

Pairwise preferences are the same model: b = losses, c = wins, and W − ½ = θ/2.
Above ``EXACT_LIMIT`` pairs the enumeration costs too much and Tango's asymptotic score test,
accurate there, is used instead.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache

import numpy as np
from scipy import special, stats

from evalbot.stats.intervals import tango_interval, tango_z

__all__ = ["EXACT_LIMIT", "ExactBinary", "exact_binary", "tango_z_array"]

EXACT_LIMIT = 300
_GRID = 48


def tango_z_array(b: np.ndarray, c: np.ndarray, n: int, theta: float) -> np.ndarray:
    """Vectorized ``tango_z``: Tango's score statistic for H0 θ = theta."""
    b = np.asarray(b, dtype=float)
    c = np.asarray(c, dtype=float)
    a_coef = 2.0 * n
    b_coef = -b - c + (2.0 * n - c + b) * theta
    c_coef = -b * theta * (1.0 - theta)
    disc = np.maximum(b_coef * b_coef - 4.0 * a_coef * c_coef, 0.0)
    q = (-b_coef + np.sqrt(disc)) / (2.0 * a_coef)
    variance = n * (2.0 * q + theta * (1.0 - theta))
    numerator = c - b - n * theta
    with np.errstate(divide="ignore", invalid="ignore"):
        z = numerator / np.sqrt(np.where(variance > 0, variance, 1.0))
    edge = variance <= 0
    signed_inf = np.where(numerator > 0, np.inf, -np.inf)
    return np.where(edge, np.where(numerator == 0, 0.0, signed_inf), z)


@lru_cache(maxsize=64)
def _outcomes(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Every (b, c) with b + c <= n."""
    k, b = np.tril_indices(n + 1)
    return b.astype(float), (k - b).astype(float)


def _nuisance_grid(theta: float) -> np.ndarray:
    low = abs(theta)
    span = 1.0 - low
    grid = np.concatenate(
        [low + span * np.linspace(0, 1, _GRID // 2), low + span * np.geomspace(1e-4, 1, _GRID // 2)]
    )
    return np.unique(np.clip(grid, low, 1.0))


@lru_cache(maxsize=8)
def _pmf(n: int, theta: float) -> np.ndarray:
    """P(b, c) over the outcomes of ``_outcomes(n)`` for each ψ on the grid: (grid, outcomes)."""
    b, c = _outcomes(n)
    same = n - b - c
    psi = _nuisance_grid(theta)[:, None]
    p_b = np.clip((psi - theta) / 2, 0, 1)
    p_c = np.clip((psi + theta) / 2, 0, 1)
    p_same = np.clip(1 - p_b - p_c, 0, 1)
    log_coef = special.gammaln(n + 1) - special.gammaln(b + 1) - special.gammaln(c + 1)
    log_coef = log_coef - special.gammaln(same + 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_p = (
            log_coef + special.xlogy(b, p_b) + special.xlogy(c, p_c) + special.xlogy(same, p_same)
        )
    return np.asarray(np.exp(log_p))


def p_values_all(n: int, theta: float, side: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact unconditional p-values of every outcome: (b, c, p) for H0 θ = theta.

    side "less": small when the difference is below theta (Z small); "greater": the mirror.
    """
    b, c = _outcomes(n)
    z = tango_z_array(b, c, n, theta)
    key = z if side == "less" else -z
    order = np.argsort(key, kind="stable")
    pmf = _pmf(n, float(theta))[:, order]
    cumulative = np.cumsum(pmf, axis=1)
    # Ties in Z share the tail of the last tied outcome (ties count against rejection).
    sorted_key = key[order]
    last = (
        np.searchsorted(
            sorted_key, sorted_key + 1e-9 * np.maximum(1, np.abs(sorted_key)), side="right"
        )
        - 1
    )
    tails = cumulative[:, last].max(axis=0)
    p = np.empty_like(tails)
    p[order] = np.minimum(tails, 1.0)
    return b, c, p


@lru_cache(maxsize=64)
def _k_pmf(n: int, low: float) -> np.ndarray:
    """P(K = k) for K ~ Bin(n, ψ), every ψ on the nuisance grid: (grid, n + 1)."""
    psi = _nuisance_grid(low)[:, None]
    ks = np.arange(n + 1)
    log_coef = special.gammaln(n + 1) - special.gammaln(ks + 1) - special.gammaln(n - ks + 1)
    return np.exp(log_coef + special.xlogy(ks, psi) + special.xlog1py(n - ks, -psi))


def _tail(n: int, theta: float, mask: np.ndarray, side: str) -> float:
    """max over ψ of P(outcome in mask) under θ = theta.

    For each k = b + c the score statistic is monotone in b, so the mask is a run of b at one
    end; the tail is then Σ_k Bin(k; n, ψ)·P(b in run | k), O(n) per ψ. If the mask is not such
    a run (it always is in practice), the full multinomial sum is used.
    """
    b, c = _outcomes(n)
    k = (b + c).astype(int)
    counts = np.bincount(k, weights=mask.astype(float), minlength=n + 1).astype(int)
    high_run = b >= (k + 1 - counts[k])  # the largest `count` values of b
    low_run = b < counts[k]
    psi = _nuisance_grid(theta)[:, None]
    ks = np.arange(n + 1)
    if np.array_equal(mask, high_run if side == "less" else low_run):
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.where(psi > 0, (psi - theta) / (2 * psi), 0.5)
        r = np.clip(r, 0, 1)
        if side == "less":
            inner = special.bdtrc(ks - counts, ks, r)  # P(b >= k + 1 − count) = P(b > k − count)
        else:
            inner = special.bdtr(counts - 1, ks, r)  # P(b <= count − 1)
        inner = np.where(counts > 0, np.nan_to_num(inner), 0.0)
        inner = np.where(counts > ks, 1.0, inner)
        tails = (_k_pmf(n, float(abs(theta))) * inner).sum(axis=1)
    else:
        tails = _pmf(n, theta) @ mask
    return float(min(1.0, tails.max()))


def _p_value(worse: int, better: int, n: int, theta: float, side: str) -> float:
    if theta <= -1 or theta >= 1:
        return 1.0
    b, c = _outcomes(n)
    z = tango_z_array(b, c, n, theta)
    observed = float(tango_z_array(np.array([worse]), np.array([better]), n, theta)[0])
    tol = 1e-9 * max(1.0, abs(observed)) if math.isfinite(observed) else 0.0
    mask = z <= observed + tol if side == "less" else z >= observed - tol
    return _tail(n, theta, mask, side)


class ExactBinary:
    """p-values and interval for one paired binary sample, exact up to EXACT_LIMIT pairs."""

    def __init__(self, worse: int, better: int, n: int) -> None:
        self.worse, self.better, self.n = worse, better, n
        self.exact = n <= EXACT_LIMIT

    def p_less(self, theta: float) -> float:
        """One-sided p for "θ < theta" (a drop beyond −theta)."""
        if theta <= -1:
            return 1.0
        if theta >= 1:
            return 0.0 if (self.better - self.worse) < self.n else 1.0
        if self.exact:
            return _p_value(self.worse, self.better, self.n, round(theta, 12), "less")
        return float(stats.norm.cdf(tango_z(self.worse, self.better, self.n, theta)))

    def p_greater(self, theta: float) -> float:
        """One-sided p for "θ > theta"."""
        if theta >= 1:
            return 1.0
        if theta <= -1:
            return 0.0 if (self.worse - self.better) < self.n else 1.0
        if self.exact:
            return _p_value(self.worse, self.better, self.n, round(theta, 12), "greater")
        return float(stats.norm.sf(tango_z(self.worse, self.better, self.n, theta)))

    def interval(self, alpha: float) -> tuple[float, float]:
        """(lower, upper) one-sided (1 − α) bounds: the θ0 each one-sided test does not reject."""
        if not self.exact:
            return tango_interval(self.worse, self.better, self.n, 1 - 2 * alpha)
        estimate = (self.better - self.worse) / self.n

        def solve(fn: Callable[[float], float], inside: float, outside: float) -> float:
            # fn(inside) >= alpha (not rejected), fn(outside) < alpha; bisect the crossing to
            # 1e-5 (the comment shows 0.1 pt). The bound returned is never a rejected value.
            if fn(outside) >= alpha:
                return outside
            for _ in range(40):
                mid = (inside + outside) / 2
                if fn(mid) >= alpha:
                    inside = mid
                else:
                    outside = mid
                if abs(outside - inside) < 1e-5:
                    break
            return inside

        # Tango's asymptotic bounds are close: bracket around them, then bisect.
        tango_low, tango_high = tango_interval(self.worse, self.better, self.n, 1 - 2 * alpha)
        width = 4.0 / math.sqrt(self.n)
        inside_high = estimate if self.p_less(min(tango_high, 1.0)) < alpha else tango_high
        outside_high = min(1.0, tango_high + width)
        inside_low = estimate if self.p_greater(max(tango_low, -1.0)) < alpha else tango_low
        outside_low = max(-1.0, tango_low - width)
        upper = solve(self.p_less, inside_high, outside_high)
        lower = solve(self.p_greater, inside_low, outside_low)
        return lower, upper

    def consistent_interval(self, alpha: float, points: tuple[float, ...]) -> tuple[float, float]:
        """``interval`` made to agree with the tests at the decision points (0, −margin).

        Bisection stops within 1e-5; if a decision point falls in that gap, the bound moves
        onto the point, on the side the test decided. The row then never contradicts itself.
        """
        lower, upper = self.interval(alpha)
        for point in points:
            if upper < point and self.p_less(point) >= alpha:
                upper = point
            if lower > point and self.p_greater(point) >= alpha:
                lower = point
        return lower, upper


def exact_binary(worse: int, better: int, n: int) -> ExactBinary:
    return ExactBinary(worse, better, n)

"""Verdict error rates, vectorized: exact enumeration where the data are discrete, else seeded
simulation. Every rate is a rate of *verdicts* (what ``compare_metric`` decides), never of
p-values: P(regressed) under A/A and at the boundary, and P(unchanged or improved) at the
boundary (the true drop equals the margin).

The verdict rules are those of ``compare_metric``: regressed when the upper bound lies below
−margin, a pass (unchanged or improved) when the lower bound lies above it; a bound that ties
with −margin within rounding decides nothing. The bounds come from the same functions
(``inversion.batch_bounds``, ``exact_binary.p_values_all``, Walsh order statistics).
Used by benchmarks/verdict_error_rates.py and tests/stats/test_verdict_rates.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import special

from evalbot.stats.bounded import betting_p
from evalbot.stats.exact_binary import p_values_all
from evalbot.stats.intervals import signed_rank_critical
from evalbot.stats.inversion import batch_bounds

ALPHA = 0.05
RESAMPLES = 1999  # random flips per simulated test above 13 units (compare_metric: 9999)


@dataclass
class Rates:
    regressed_aa: float
    regressed_boundary: float
    passed_boundary: float
    runs: int | None  # None: exact enumeration

    @property
    def bound(self) -> float:
        if self.runs is None:
            return 0.0505
        return ALPHA + 3 * math.sqrt(ALPHA * (1 - ALPHA) / self.runs)

    @property
    def ok(self) -> bool:
        worst = max(self.regressed_aa, self.regressed_boundary, self.passed_boundary)
        return worst <= self.bound


def mcse(runs: int) -> float:
    return math.sqrt(ALPHA * (1 - ALPHA) / runs)


# ---- verdicts from bounds ------------------------------------------------------------------


def _decide(
    lower: np.ndarray, upper: np.ndarray, margin: float, scale: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    tol = 1e-9 * np.maximum(scale, 1e-300)
    regressed = upper < -margin - tol
    passed = lower > -margin + tol
    return regressed, passed


def flip_verdicts(
    totals: np.ndarray, sizes: np.ndarray, margin: float, *, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """(regressed, passed) per row for the (cluster) sign-flip inversion."""
    lower, upper, _ = batch_bounds(totals, sizes, ALPHA, n_resamples=RESAMPLES, rng=seed)
    scale = np.max(np.abs(totals) / np.maximum(sizes, 1), axis=1)
    return _decide(lower, upper, margin, scale)


def hl_verdicts(deltas: np.ndarray, margin: float) -> tuple[np.ndarray, np.ndarray]:
    """(regressed, passed) per row from the Hodges–Lehmann bounds (Walsh order statistics)."""
    runs, n = deltas.shape
    k = signed_rank_critical(n, ALPHA)
    if k < 1:
        return np.zeros(runs, bool), np.zeros(runs, bool)
    i, j = np.triu_indices(n)
    total = i.size
    lower = np.empty(runs)
    upper = np.empty(runs)
    step = max(1, 20_000_000 // total)
    for start in range(0, runs, step):
        block = deltas[start : start + step]
        walsh = (block[:, i] + block[:, j]) / 2
        parts = np.partition(walsh, [k - 1, total - k], axis=1)
        lower[start : start + step] = parts[:, k - 1]
        upper[start : start + step] = parts[:, total - k]
    return _decide(lower, upper, margin, np.max(np.abs(deltas), axis=1))


# ---- exact enumeration: pass/fail and pairwise ---------------------------------------------


def _trinomial(n: int, b: np.ndarray, c: np.ndarray, p_b: float, p_c: float) -> np.ndarray:
    same = n - b - c
    log = (
        special.gammaln(n + 1)
        - special.gammaln(b + 1)
        - special.gammaln(c + 1)
        - special.gammaln(same + 1)
        + special.xlogy(b, p_b)
        + special.xlogy(c, p_c)
        + special.xlogy(same, max(1 - p_b - p_c, 0.0))
    )
    return np.exp(log)


def binary_exact(n: int, theta_margin: float, psi: float) -> Rates:
    """Exact verdict rates of the paired pass/fail test (θ = p_better − p_worse).

    A/A: p_worse = p_better = ψ/2. Boundary: θ = −margin, discordance ψ.
    """
    b, c, p_less = p_values_all(n, -theta_margin, "less")
    _, _, p_greater = p_values_all(n, -theta_margin, "greater")
    regressed = p_less < ALPHA
    passed = p_greater < ALPHA
    aa = _trinomial(n, b, c, psi / 2, psi / 2)
    edge = _trinomial(n, b, c, (psi + theta_margin) / 2, (psi - theta_margin) / 2)
    return Rates(float(aa @ regressed), float(edge @ regressed), float(edge @ passed), runs=None)


def binary_exact_worst(n: int, theta_margin: float) -> Rates:
    """The largest of each rate over the discordance ψ (a grid of 40 values in [margin, 1])."""
    rates = [binary_exact(n, theta_margin, psi) for psi in _psi_grid(theta_margin)]
    return Rates(
        max(r.regressed_aa for r in rates),
        max(r.regressed_boundary for r in rates),
        max(r.passed_boundary for r in rates),
        runs=None,
    )


def _psi_grid(margin: float) -> np.ndarray:
    low = max(margin, 1e-3)
    return np.unique(np.concatenate([np.linspace(low, 1, 25), low + np.geomspace(1e-3, 0.3, 15)]))


# ---- simulated designs ---------------------------------------------------------------------


def _likert_sides(rng: np.random.Generator, runs: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """A/A 1–5 judge grades: item quality + rounding noise on each side."""
    quality = rng.uniform(1, 5, size=(runs, n))
    base = np.clip(np.round(quality + rng.normal(0, 0.6, (runs, n))), 1, 5)
    head = np.clip(np.round(quality + rng.normal(0, 0.6, (runs, n))), 1, 5)
    return base, head


def _sides(
    design: str, rng: np.random.Generator, runs: int, n: int, drop: float
) -> tuple[np.ndarray, np.ndarray]:
    """(base, head) per-example scores (means over samples) with a true mean change of −drop
    (for latency: every example shifted by −drop in the good direction)."""
    if design == "likert":
        # A true drop of `drop` grades: each example loses one more grade with that probability.
        base, head = _likert_sides(rng, runs, n)
        return base, head - (rng.random((runs, n)) < drop)
    if design in ("symmetric", "skewed-right", "skewed-left"):
        item = rng.normal(0, 1, (runs, n))
        if design == "symmetric":
            change = rng.normal(0, 1, (runs, n))
        else:
            change = rng.exponential(1, (runs, n)) - 1
            change = change if design == "skewed-right" else -change
        return item, item + change - drop
    if design == "sparse":
        # Judge noise, and 10 % of examples drop 2 grades: the mean drop is then 0.2 = margin.
        # With margin 0 the sparse changes are symmetric: 5 % drop 2 grades, 5 % gain 2.
        base, head = _likert_sides(rng, runs, n)
        u = rng.random((runs, n))
        if drop == 0:
            return base, head - 2 * (u < 0.05) + 2 * (u > 0.95)
        return base, head - 2 * (u < drop / 2)
    if design == "samples":
        # Pass/fail, 3 samples per example; head's pass probability scaled so the mean drops by
        # exactly `drop` (E[p] = 2/3 for Beta(2, 1)).
        p = rng.beta(2, 1, size=(runs, n, 1))
        base = (rng.random((runs, n, 3)) < p).mean(axis=2)
        head = (rng.random((runs, n, 3)) < p * (1 - 1.5 * drop)).mean(axis=2)
        return base, head
    if design == "latency":
        # Latency in ms on a 10 ms clock; 40 % of examples unchanged (cached), so many ties
        # and zeros. Lower is better: the good-direction delta is base − head.
        base = 500 + 10 * np.round(rng.exponential(30, (runs, n)))
        noise = 10 * np.round(rng.standard_t(3, (runs, n)) * 3)
        noise[rng.random((runs, n)) < 0.4] = 0
        return base, base - noise + drop
    raise ValueError(design)


def mean_verdicts(
    base: np.ndarray, head: np.ndarray, margin: float, *, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """compare_metric's rule for means: each claim needs both the sign-flip inversion and the
    bounded betting test."""
    deltas = head - base
    n = deltas.shape[1]
    regressed, passed = flip_verdicts(deltas, np.ones(n), margin, seed=seed)
    both = np.concatenate([base, head], axis=1)
    spread = both.max(axis=1) - both.min(axis=1)
    bet_greater = np.ones(deltas.shape[0])
    bet_less = np.ones(deltas.shape[0])
    for spread_value in np.unique(spread):
        rows = spread == spread_value
        args = (deltas[rows], -spread_value, spread_value, -margin, ALPHA)
        bet_greater[rows] = betting_p(*args, "greater")
        bet_less[rows] = betting_p(*args, "less")
    return regressed & (bet_less < ALPHA), passed & (bet_greater < ALPHA)


SIM_MARGINS = {
    "likert": 0.2,
    "symmetric": 0.2,
    "skewed-right": 0.2,
    "skewed-left": 0.2,
    "sparse": 0.2,
    "samples": 0.05,
    "latency": 10.0,
}


def simulated(design: str, n: int, margin: float, *, runs: int = 2000, seed: int = 0) -> Rates:
    """Verdict rates of one design at one size and margin (A/A and boundary runs)."""
    rng = np.random.default_rng([seed, n, int(margin * 1000)])
    aa = _sides(design, rng, runs, n, 0.0)
    edge = aa if margin == 0 else _sides(design, rng, runs, n, margin)
    if design == "latency":
        reg_aa, _ = hl_verdicts(aa[0] - aa[1], margin)
        reg_edge, pass_edge = hl_verdicts(edge[0] - edge[1], margin)
    else:
        reg_aa, _ = mean_verdicts(*aa, margin, seed=seed)
        reg_edge, pass_edge = mean_verdicts(*edge, margin, seed=seed + 1)
    return Rates(float(reg_aa.mean()), float(reg_edge.mean()), float(pass_edge.mean()), runs=runs)


CLUSTER_DESIGNS: dict[str, list[int]] = {
    "balanced 20 x 10": [10] * 20,
    "30 singles + one 30-turn": [1] * 30 + [30],
    "sizes 2,2,3,5,10,30": [2, 2, 3, 5, 10, 30],
    "10 singles + one 40": [1] * 10 + [40],
}


def clustered(sizes: list[int], margin: float, *, runs: int = 2000, seed: int = 0) -> Rates:
    """Cluster effect (SD 1) and example noise (SD 1) per side; verdict rates of the cluster
    sign-flip inversion."""
    rng = np.random.default_rng([seed, len(sizes), sum(sizes)])
    codes = np.repeat(np.arange(len(sizes)), sizes)
    m = np.asarray(sizes, dtype=float)

    def draw(drop: float) -> np.ndarray:
        cluster = rng.normal(0, 1, (runs, len(sizes)))[:, codes]
        deltas = cluster + rng.normal(0, 1, (runs, codes.size)) - drop
        onehot = np.zeros((codes.size, len(sizes)))
        onehot[np.arange(codes.size), codes] = 1
        return deltas @ onehot

    aa = draw(0.0)
    edge = aa if margin == 0 else draw(margin)
    reg_aa, _ = flip_verdicts(aa, m, margin, seed=seed)
    reg_edge, pass_edge = flip_verdicts(edge, m, margin, seed=seed + 1)
    return Rates(float(reg_aa.mean()), float(reg_edge.mean()), float(pass_edge.mean()), runs=runs)

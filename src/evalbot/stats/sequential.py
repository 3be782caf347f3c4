"""Anytime-valid early stopping for a blocking metric: betting tests on the paired deltas.

Why: looking at a fixed-n test after every batch and stopping at the first significant look
inflates false alarms (peeking every 20 examples took a 5 % non-inferiority test to 25 %). A
betting test (Waudby-Smith & Ramdas 2024, JRSS-B) stays valid however often it is looked at:
its capital Kₜ = Π (1 ± λᵢ(dᵢ − δ0)) is a nonnegative supermartingale under H0 whenever every
delta lies in a *declared* range, so P(supₜ Kₜ ≥ 1/a) ≤ a (Ville's inequality), whatever the
stopping rule.

Two tests run side by side on the good-direction deltas d (head − base, sign flipped when lower
is better), both at the margin δ0 = −max_drop:

- "regressed": bets that the mean is below −max_drop (rejects H0 "δ ≥ −max_drop");
- "within margin": bets that the mean is above −max_drop (rejects H0 "δ ≤ −max_drop").

The run stops when every blocking metric has crossed one of its thresholds. A run that reaches
the end of the golden set undecided gets the usual fixed-n test at the remaining level. For each
verdict, the looks spend a share of α and the final test the rest, so that verdict's error stays
≤ α (union bound); "regressed" is Bonferroni-split over the m blocking metrics during the looks
(Holm at the end, as usual). The shares differ: "regressed" keeps most of α for the end, where
the fixed design's power matters; "within margin" spends most on the looks, where the savings
are.

The bet is a mixture: the capital is the equal-weight average of ten capitals with fixed bets
λ = c/edge, c = 1/10.5, 2/10.5, …, 10/10.5 (edge: the distance from δ0 to the end of the declared
range on the losing side, so every factor stays positive). Each fixed bet is predictable, and
an average of test supermartingales is a test supermartingale, so Ville's inequality applies.
The mixture is within ln 10 of its best member's capital from the first example, where the
plug-in bet it replaced (aGRAPA, λ from the running mean and variance, capped at 0.75/edge)
bets on a noisy estimate for the first few hundred examples; with a small effect that noise
cost the most (benchmarks/sequential.py, Δ = 0 with a 5-point margin at 20 % discordance:
66.2 % of the examples used with the plug-in, 58.1 % with the mixture). Each factor
1 ± c·(d − δ0)/edge is monotone in δ0 for a delta in the range, which keeps the bisection of
``sequence_bounds`` exact.

The range must be declared before the first look (pass/fail metrics: [0, 1]; judge grades: the
rubric's scale), not observed: an observed range grows with the data and breaks the guarantee.
A metric without a declared range has no sequential test; it waits for the end of the golden set.

Examples are read in a seeded random order. If the golden set is an i.i.d. sample, so is any
uniformly random order of it, and the guarantee is about the same population mean as the fixed
test's. With groups (clusters), the unit is the group: its delta is the mean over its examples
(and samples), and the tested mean is the mean over groups.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

__all__ = [
    "BET_GRID",
    "LOOKS_SHARE_REGRESSED",
    "LOOKS_SHARE_WITHIN",
    "Decision",
    "Levels",
    "SequentialState",
    "capital_path",
    "decide",
    "first_crossing",
    "sequence_bounds",
]

LOOKS_SHARE_REGRESSED = 0.2
"""Share of α the looks spend on "regressed"; the fixed-n test at the end gets the other 80 %,
which keeps its power at the fixed design's MDE within 5 points (benchmarks/sequential.py)."""
LOOKS_SHARE_WITHIN = 0.8
"""Share of α the looks spend on "within margin": most PRs change nothing, and showing that
early is where the savings are; the fixed-n test at the end keeps 20 %."""
BET_GRID = tuple(k / 10.5 for k in range(1, 11))
"""The fixed bets mixed with equal weights, as shares c of the largest bet 1/edge. Uniform on
(0, 1): the best bet for a small effect is a small c (about 0.1 for a 2-point margin at 20 %
discordance), for a large one up to 1; c < 1 so that no factor can reach 0."""

Decision = Literal["regressed", "within_margin"]


def capital_path(
    deltas: np.ndarray, low: float, high: float, delta0: float, side: str
) -> np.ndarray:
    """Log capital after each delta, per row ((runs, n) or (n,) in, (runs, n) out).

    side "greater" bets the mean is above ``delta0``, "less" that it is below. The capital is the
    average of ``len(BET_GRID)`` fixed-bet capitals, bet c/edge each (see BET_GRID). NaN deltas
    (errored examples) are skipped: the capital stays put.
    """
    d = np.atleast_2d(np.asarray(deltas, dtype=float))
    runs, n = d.shape
    if n == 0 or not high > low:
        return np.zeros((runs, n))
    sign = 1.0 if side == "greater" else -1.0
    edge = delta0 - low if side == "greater" else high - delta0
    if edge <= 0:
        # δ0 at or beyond the range's edge: every delta is on the H0 side; no bet can win.
        return np.zeros((runs, n))
    # sign·(d − δ0) ≥ −edge on the range, so a bet c/edge with c < 1 keeps every factor > 0.
    x = np.where(np.isnan(d), 0.0, sign * (d - delta0) / edge)
    weight = math.log(1 / len(BET_GRID))
    total: np.ndarray | None = None
    for c in BET_GRID:
        path = np.cumsum(np.log1p(c * x), axis=1) + weight
        total = path if total is None else np.logaddexp(total, path)
    assert total is not None
    return total


def first_crossing(log_capital: np.ndarray, level: float) -> np.ndarray:
    """Index of the first delta after which the capital reaches 1/level (n when it never does)."""
    crossed = log_capital >= math.log(1 / level)
    n = log_capital.shape[1]
    return np.asarray(np.where(crossed.any(axis=1), crossed.argmax(axis=1), n))


def _anytime_p(deltas: np.ndarray, low: float, high: float, delta0: float, side: str) -> float:
    path = capital_path(deltas, low, high, delta0, side)
    if path.size == 0:
        return 1.0
    return float(min(1.0, math.exp(-max(0.0, float(path.max())))))


def sequence_bounds(
    deltas: np.ndarray, low: float, high: float, level: float
) -> tuple[float | None, float | None]:
    """(lower, upper) of the confidence sequence at one-sided ``level`` each, at this point.

    The set of δ0 that neither bet has rejected so far, found by bisection on δ0 (the capital
    moves monotonically with δ0). None before any delta.
    """
    d = np.asarray(deltas, dtype=float)
    d = d[~np.isnan(d)]
    if d.size == 0:
        return None, None
    mean = float(d.mean())

    def solve(side: str, inside: float, outside: float) -> float:
        if _anytime_p(d, low, high, outside, side) > level:
            return outside
        for _ in range(40):
            mid = (inside + outside) / 2
            if _anytime_p(d, low, high, mid, side) > level:
                inside = mid
            else:
                outside = mid
        return inside

    # Just inside the range: at its very edge no bet is possible and nothing could be rejected.
    inset = 1e-9 * (high - low)
    return solve("greater", mean, low + inset), solve("less", mean, high - inset)


@dataclass(frozen=True)
class Levels:
    """How α is spent between the looks and the fixed-n test at the end, per verdict."""

    alpha: float
    share_regressed: float = LOOKS_SHARE_REGRESSED
    share_within: float = LOOKS_SHARE_WITHIN

    @property
    def looks_regressed(self) -> float:
        return self.alpha * self.share_regressed

    @property
    def looks_within(self) -> float:
        return self.alpha * self.share_within

    @property
    def final_regressed(self) -> float:
        return self.alpha - self.looks_regressed

    @property
    def final_within(self) -> float:
        return self.alpha - self.looks_within


@dataclass
class SequentialState:
    """Where one blocking metric stands after the deltas evaluated so far."""

    p_regressed: float
    """Anytime-valid p of H0 "δ ≥ −max_drop" (small: regressed)."""
    p_within: float
    """Anytime-valid p of H0 "δ ≤ −max_drop" (small: within the margin)."""
    decision: Decision | None
    lower: float | None
    upper: float | None
    n: int


def decide(
    deltas: np.ndarray,
    *,
    low: float,
    high: float,
    max_drop: float,
    levels: Levels,
    family: int = 1,
) -> SequentialState:
    """Both betting tests on the good-direction deltas read so far (in the order evaluated).

    Args:
        deltas: per-unit good-direction deltas, NaN for units without a score on both sides.
        low, high: the declared range of a delta.
        max_drop: the margin (≥ 0).
        levels: the levels the looks spend on each verdict.
        family: blocking metrics with a sequential test; "regressed" needs its level/family
            (Bonferroni, so that no metric's false alarm exceeds the family's share).
    """
    d = np.asarray(deltas, dtype=float)
    p_reg = _anytime_p(d, low, high, -max_drop, "less")
    p_within = _anytime_p(d, low, high, -max_drop, "greater")
    decision: Decision | None = None
    if p_reg <= levels.looks_regressed / family:
        decision = "regressed"
    elif p_within <= levels.looks_within:
        decision = "within_margin"
    lower, _ = sequence_bounds(d, low, high, levels.looks_within)
    _, upper = sequence_bounds(d, low, high, levels.looks_regressed / family)
    # The bounds come from bisection; keep the row consistent with the decision at the margin.
    if decision == "within_margin" and lower is not None:
        lower = max(lower, -max_drop)
    if decision == "regressed" and upper is not None:
        upper = min(upper, -max_drop)
    return SequentialState(
        p_regressed=p_reg,
        p_within=p_within,
        decision=decision,
        lower=lower,
        upper=upper,
        n=int(np.count_nonzero(~np.isnan(d))),
    )

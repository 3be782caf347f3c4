"""Simulated judges with known errors, for the judge-correction benchmark and tests.

Used by benchmarks/judge_correction.py (the table in docs/judges.md) and
tests/stats/test_judge_correction.py (the same properties at fewer repetitions). See the
benchmark's docstring for the two worlds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from evalbot.stats.exact_binary import tango_z_array
from evalbot.stats.inversion import batch_bounds
from evalbot.stats.judge_correction import (
    SENSITIVITY_FLOOR,
    corrected_bounds,
    deming_slope,
    newcombe_bounds,
    split_alpha,
)

ALPHA = 0.05
N_PR = 200


@dataclass
class Cell:
    world: str
    m: int
    delta: float
    margin: float
    note: str
    raw_cover: float
    cor_cover: float
    raw_pass: float
    cor_pass: float
    evalbot_pass: float
    uncal: float
    reps: int


def _covered(calibrated: np.ndarray, low: np.ndarray, high: np.ndarray, delta: float) -> float:
    """Coverage among the repetitions that give an interval (an uncalibrated one gives none)."""
    if not calibrated.any():
        return math.nan
    return float(np.mean(((low <= delta) & (delta <= high))[calibrated]))


def mcse(p: float, reps: int) -> float:
    return math.sqrt(max(p * (1 - p), 0.0475) / reps)


# ---------------------------------------------------------------------------------------------
# Binary world
# ---------------------------------------------------------------------------------------------


def tango_bounds(b: np.ndarray, c: np.ndarray, n: int, alpha: float) -> tuple[np.ndarray, ...]:
    """One-sided (1 − alpha) Tango score bounds of (c − b)/n, vectorized by bisection."""
    z = float(stats.norm.ppf(1 - alpha))

    def solve(target: float) -> np.ndarray:
        lo, hi = np.full(b.shape, -1.0 + 1e-9), np.full(b.shape, 1.0 - 1e-9)
        for _ in range(50):  # Z(θ) falls as θ grows
            mid = (lo + hi) / 2
            above = tango_z_array(b, c, n, mid) > target
            lo, hi = np.where(above, mid, lo), np.where(above, hi, mid)
        return (lo + hi) / 2

    return solve(z), solve(-z)


def binary_cell(
    rng: np.random.Generator,
    reps: int,
    *,
    m: int,
    delta: float,
    se: float,
    sp: float,
    margin: float = 0.05,
    note: str = "",
) -> Cell:
    psi, base_rate = 0.15, 0.70
    p10, p01 = (psi - delta) / 2, (psi + delta) / 2  # base pass → head fail, and back
    p11 = base_rate - p10
    probs = [p11, p10, p01, 1 - p11 - p10 - p01]
    kinds = rng.choice(4, size=(reps, N_PR), p=probs)
    truth_base = np.isin(kinds, (0, 1))
    truth_head = np.isin(kinds, (0, 2))

    def judged(truth: np.ndarray) -> np.ndarray:
        return rng.random(truth.shape) < np.where(truth, se, 1 - sp)

    jb, jh = judged(truth_base), judged(truth_head)
    b = (jb & ~jh).sum(axis=1).astype(float)
    c = (~jb & jh).sum(axis=1).astype(float)
    # Calibration set: m labels, 60 % human passes.
    n_pos = rng.binomial(m, 0.6, size=reps)
    n_neg = m - n_pos
    x_pos = rng.binomial(n_pos, se)
    x_neg = rng.binomial(n_neg, 1 - sp)

    def bounds(alpha: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        alpha_d, alpha_s = split_alpha(alpha)
        raw_lo, raw_hi = tango_bounds(b, c, N_PR, alpha)
        d_lo, d_hi = tango_bounds(b, c, N_PR, alpha_d)
        s_lo, s_hi = newcombe_bounds(x_pos, n_pos, x_neg, n_neg, alpha_s)
        box = corrected_bounds(d_lo, d_hi, s_lo, s_hi)
        return raw_lo, raw_hi, box.low, box.high, s_lo

    raw_lo, raw_hi, cor_lo, cor_hi, s_lo = bounds(ALPHA / 2)
    calibrated = s_lo > SENSITIVITY_FLOOR
    raw_cover = float(np.mean((raw_lo <= delta) & (delta <= raw_hi)))
    cor_cover = _covered(calibrated, cor_lo, cor_hi, delta)
    raw_lo, _, cor_lo, _, s_lo = bounds(ALPHA)
    calibrated = s_lo > SENSITIVITY_FLOOR
    raw_pass = raw_lo > -margin
    cor_pass = calibrated & (cor_lo > -margin)
    return Cell(
        "binary",
        m,
        delta,
        margin,
        note,
        raw_cover,
        cor_cover,
        float(raw_pass.mean()),
        float(cor_pass.mean()),
        float((cor_pass & raw_pass).mean()),
        float(1 - calibrated.mean()),
        reps,
    )


# ---------------------------------------------------------------------------------------------
# Likert world
# ---------------------------------------------------------------------------------------------


def slope_bounds(
    rng: np.random.Generator, human: np.ndarray, judge: np.ndarray, alpha: float, resamples: int
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile-bootstrap bounds of the Deming slope, per repetition (rows), in blocks."""
    reps, m = human.shape
    low, high = np.empty(reps), np.empty(reps)
    block = max(1, 4_000_000 // (resamples * m))
    for start in range(0, reps, block):
        rows = slice(start, min(start + block, reps))
        count = rows.stop - rows.start
        index = rng.integers(0, m, size=(count, resamples, m))
        h = np.take_along_axis(human[rows, None, :], index, axis=2)
        j = np.take_along_axis(judge[rows, None, :], index, axis=2)
        draws = deming_slope(h, j)
        low[rows], high[rows] = np.quantile(draws, [alpha, 1 - alpha], axis=1)
    return low, high


def likert_cell(
    rng: np.random.Generator,
    reps: int,
    *,
    m: int,
    delta: float,
    slope: float,
    judge_sd: float = 0.4,
    human_sd: float = 0.4,
    margin: float = 0.25,
    resamples: int = 400,
    note: str = "",
) -> Cell:
    intercept = 1.5

    def truth(shape: tuple[int, ...]) -> np.ndarray:
        return 1 + 4 * rng.beta(2, 2, size=shape)

    t_base = truth((reps, N_PR))
    t_head = t_base + rng.normal(delta, 0.5, size=(reps, N_PR))

    def judged(t: np.ndarray) -> np.ndarray:
        return intercept + slope * t + rng.normal(0, judge_sd, size=t.shape)

    d = judged(t_head) - judged(t_base)
    t_cal = truth((reps, m))
    human = t_cal + rng.normal(0, human_sd, size=t_cal.shape)
    judge = judged(t_cal)
    sizes = np.ones(N_PR)

    def bounds(alpha: float) -> tuple[np.ndarray, ...]:
        alpha_d, alpha_s = split_alpha(alpha)
        raw_lo, raw_hi, _ = batch_bounds(d, sizes, alpha, n_resamples=1999, rng=rng)
        d_lo, d_hi, _ = batch_bounds(d, sizes, alpha_d, n_resamples=1999, rng=rng)
        s_lo, s_hi = slope_bounds(rng, human, judge, alpha_s, resamples)
        box = corrected_bounds(d_lo, d_hi, s_lo, s_hi)
        return raw_lo, raw_hi, box.low, box.high, s_lo

    raw_lo, raw_hi, cor_lo, cor_hi, s_lo = bounds(ALPHA / 2)
    calibrated = s_lo > SENSITIVITY_FLOOR
    raw_cover = float(np.mean((raw_lo <= delta) & (delta <= raw_hi)))
    cor_cover = _covered(calibrated, cor_lo, cor_hi, delta)
    raw_lo, _, cor_lo, _, s_lo = bounds(ALPHA)
    calibrated = s_lo > SENSITIVITY_FLOOR
    raw_pass = raw_lo > -margin
    cor_pass = calibrated & (cor_lo > -margin)
    return Cell(
        "likert",
        m,
        delta,
        margin,
        note,
        raw_cover,
        cor_cover,
        float(raw_pass.mean()),
        float(cor_pass.mean()),
        float((cor_pass & raw_pass).mean()),
        float(1 - calibrated.mean()),
        reps,
    )

"""Vectorized simulation of the sequential gate (runs × examples arrays, one pass per design).

Shared by benchmarks/sequential.py (the published table) and tests/stats/test_sequential.py (a
seeded, smaller version). Each run reads its examples in order, in batches; the betting tests of
evalbot.stats.sequential are evaluated on the whole path at once and the run stops at the end of
the batch where one of them crossed. A run that never crosses takes the fixed-n test at the end
at the remaining level. The fixed-n test here is the normal test of the mean delta against the
margin (the gate's tests at n = 1,000 are their normal limits); the fixed design's column uses
the same test at the full α, so the comparison of power is like for like.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats

from evalbot.stats.sequential import Levels, capital_path, first_crossing

ALPHA = 0.05


def mcse(runs: int, p: float = ALPHA) -> float:
    return math.sqrt(p * (1 - p) / runs)


@dataclass(frozen=True)
class Design:
    name: str
    kind: str  # "binary" (deltas in {-1, 0, 1}) or "likert" (1-5 grades, deltas in {-2..2})
    delta: float
    margin: float
    discordance: float = 0.2
    """binary: share of examples whose outcome differs between the sides."""


LIKERT_BASE = np.array([0.05, 0.15, 0.6, 0.15, 0.05])  # P(delta = -2..2) when nothing changed
LIKERT_VALUES = np.arange(-2, 3, dtype=float)


def _likert_probs(mean: float) -> np.ndarray:
    """The delta distribution tilted (exponentially) to the given mean."""

    def tilted(theta: float) -> np.ndarray:
        w = LIKERT_BASE * np.exp(theta * LIKERT_VALUES)
        return w / w.sum()

    if mean == 0:
        return LIKERT_BASE
    theta = optimize.brentq(lambda t: float(tilted(t) @ LIKERT_VALUES) - mean, -10, 10)
    return tilted(theta)


def delta_sd(design: Design, delta: float | None = None) -> float:
    mean = design.delta if delta is None else delta
    if design.kind == "binary":
        return math.sqrt(design.discordance - mean**2)
    p = _likert_probs(mean)
    return math.sqrt(float(p @ LIKERT_VALUES**2) - mean**2)


def deltas(design: Design, runs: int, n: int, rng: np.random.Generator) -> np.ndarray:
    u = rng.random((runs, n))
    if design.kind == "binary":
        q, d = design.discordance, design.delta
        down, up = (q - d) / 2, (q + d) / 2
        return np.where(u < down, -1.0, np.where(u < down + up, 1.0, 0.0))
    cumulative = np.cumsum(_likert_probs(design.delta))
    return LIKERT_VALUES[np.searchsorted(cumulative, u, side="right").clip(0, 4)]


def delta_range(design: Design) -> tuple[float, float]:
    """The declared range of a delta: [-1, 1] for pass/fail, ±(5 − 1) for 1-5 grades."""
    return (-1.0, 1.0) if design.kind == "binary" else (-4.0, 4.0)


def fixed_mde(design: Design, n: int, alpha: float = ALPHA, power: float = 0.8) -> float:
    """The true drop the fixed-n test flags as regressed with the given power."""
    z = stats.norm.ppf(1 - alpha) + stats.norm.ppf(power)

    def gap(drop: float) -> float:
        return drop - design.margin - z * delta_sd(design, -drop) / math.sqrt(n)

    high = 0.9 if design.kind == "likert" else math.sqrt(design.discordance) * 0.99
    return float(optimize.brentq(gap, design.margin, high))


def simulate(
    design: Design, *, runs: int, n: int, batch: int, seed: int, alpha: float = ALPHA
) -> dict[str, float]:
    """Rates of the sequential gate and of the fixed-n gate for one design."""
    rng = np.random.default_rng(seed)
    d = deltas(design, runs, n, rng)
    low, high = delta_range(design)
    levels = Levels(alpha)
    margin = design.margin
    down = first_crossing(capital_path(d, low, high, -margin, "less"), levels.looks_regressed)
    up = first_crossing(capital_path(d, low, high, -margin, "greater"), levels.looks_within)
    crossed = np.minimum(down, up)
    stopped = crossed < n
    used = np.where(stopped, np.minimum(n, (crossed // batch + 1) * batch), n)

    mean = d.mean(axis=1)
    sd = d.std(axis=1, ddof=1)
    z = (mean + margin) / np.where(sd > 0, sd, np.inf) * math.sqrt(n)
    regressed = np.where(stopped, down < up, z < -stats.norm.ppf(1 - levels.final_regressed))
    passed = np.where(stopped, up < down, z > stats.norm.ppf(1 - levels.final_within))
    return {
        "regressed": float(regressed.mean()),
        "passed": float(passed.mean()),
        "used": float(used.mean() / n),
        "max_used": float(used.max() / n),
        "stopped": float(stopped.mean()),
        "fixed_regressed": float((z < -stats.norm.ppf(1 - alpha)).mean()),
        "fixed_passed": float((z > stats.norm.ppf(1 - alpha)).mean()),
    }


def designs(n: int) -> list[Design]:
    """The benchmark's designs: binary (margin 2 points) and 1-5 grades (margin 0.2)."""
    binary = Design("pass/fail", "binary", 0.0, 0.02)
    likert = Design("1-5 grades", "likert", 0.0, 0.2)
    out = []
    for base in (binary, likert):
        ten_points = 0.10 if base.kind == "binary" else 0.4  # 10 % of the scale
        out += [
            Design(base.name + ", A/A", base.kind, 0.0, base.margin),
            Design(base.name + ", drop = margin", base.kind, -base.margin, base.margin),
            Design(base.name + ", 10-point drop", base.kind, -ten_points, base.margin),
        ]
        mde = fixed_mde(base, n)
        out.append(Design(base.name + ", drop = fixed MDE", base.kind, -mde, base.margin))
    out += [
        Design("pass/fail, Δ = 0, margin 5 pts", "binary", 0.0, 0.05, discordance=0.2),
        Design("pass/fail, Δ = 0, margin 5 pts", "binary", 0.0, 0.05, discordance=0.1),
        Design("1-5 grades, Δ = 0, margin 0.2", "likert", 0.0, 0.2),
    ]
    return out

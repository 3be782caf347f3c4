"""Seeded, vectorized simulations of evalbot's error rates.

Each function draws ``runs`` independent golden sets and returns rejection rates computed with
the same functions ``compare_metric`` calls (mcnemar_midp, signflip_pvalues, clustered_signflip,
tango_interval, t_interval, holm). Used by tests/stats/test_error_rates.py and by
benchmarks/stats_error_rates.py, which prints the table quoted in docs/statistics.md.
"""

from __future__ import annotations

import math

import numpy as np

from evalbot.records import MetricKind, Verdict
from evalbot.stats import compare_metric
from evalbot.stats._prepare import reduce_samples
from evalbot.stats.clustered import clustered_signflip
from evalbot.stats.gate import holm
from evalbot.stats.intervals import t_interval, tango_interval
from evalbot.stats.paired import mcnemar_exact, mcnemar_midp, signflip_pvalues

ALPHA = 0.05
RESAMPLES = 1999  # per simulated test; compare_metric uses 9999


def mcse(runs: int, rate: float = ALPHA) -> float:
    """Monte Carlo standard error of a rejection rate near ``rate``."""
    return math.sqrt(rate * (1 - rate) / runs)


def _discordant(rng: np.random.Generator, n: int, runs: int, p_worse: float, p_better: float):
    counts = rng.multinomial(n, [p_worse, p_better, 1 - p_worse - p_better], size=runs)
    return counts[:, 0], counts[:, 1]


def binary_aa(discordance: float, *, n: int = 200, runs: int = 4000, seed: int = 0) -> dict:
    """A/A, binary, one sample: false-regression rates of mid-p (one- and two-sided), exact."""
    rng = np.random.default_rng(seed)
    b, c = _discordant(rng, n, runs, discordance / 2, discordance / 2)
    one, two = mcnemar_midp(b, c)
    exact_one, _ = mcnemar_exact(b, c)
    return {
        "midp_one_sided": float(np.mean(one < ALPHA)),
        "midp_two_sided": float(np.mean(two < ALPHA)),
        "exact_one_sided": float(np.mean(exact_one < ALPHA)),
    }


def binary_power(
    drop: float, discordance: float, *, n: int = 200, runs: int = 4000, seed: int = 0
) -> float:
    """A/B: share of runs where mid-p McNemar flags a true drop (one-sided α)."""
    rng = np.random.default_rng(seed)
    b, c = _discordant(rng, n, runs, (discordance + drop) / 2, (discordance - drop) / 2)
    return float(np.mean(mcnemar_midp(b, c)[0] < ALPHA))


def _signflip_rates(deltas: np.ndarray, seed: int) -> dict:
    p_less, p_two, method = signflip_pvalues(deltas, n_resamples=RESAMPLES, rng=seed)
    return {
        "one_sided": float(np.mean(p_less < ALPHA)),
        "two_sided": float(np.mean(p_two < ALPHA)),
        "method": method,
    }


def likert_aa(*, n: int = 200, runs: int = 2000, seed: int = 0) -> dict:
    """A/A, 1–5 judge grades with many ties: both sides grade the same item quality + noise."""
    rng = np.random.default_rng(seed)
    quality = rng.uniform(1, 5, size=(runs, n))
    base = np.clip(np.round(quality + rng.normal(0, 0.6, (runs, n))), 1, 5)
    head = np.clip(np.round(quality + rng.normal(0, 0.6, (runs, n))), 1, 5)
    rates = _signflip_rates(head - base, seed)
    rates["zero_share"] = float(np.mean(head == base))
    return rates


def continuous_aa(*, n: int = 200, runs: int = 2000, seed: int = 0) -> dict:
    """A/A, skewed continuous scores (item effect + exponential noise on each side)."""
    rng = np.random.default_rng(seed)
    item = rng.normal(0, 1, (runs, n))
    base = item + rng.exponential(1.0, (runs, n))
    head = item + rng.exponential(1.0, (runs, n))
    return _signflip_rates(head - base, seed)


def samples_aa(*, n: int = 200, k: int = 3, runs: int = 2000, seed: int = 0) -> dict:
    """A/A, binary pass/fail with K samples per example (5 % of samples errored → NaN)."""
    rng = np.random.default_rng(seed)
    p_pass = rng.beta(2, 1, size=(runs * n, 1))
    sides = []
    for _ in range(2):
        scores = (rng.random((runs * n, k)) < p_pass).astype(float)
        scores[rng.random((runs * n, k)) < 0.05] = np.nan
        sides.append(reduce_samples(scores)[0].reshape(runs, n))
    deltas = sides[1] - sides[0]
    # An example with every sample errored on a side is dropped; keep rows the same length.
    deltas = np.where(np.isfinite(deltas), deltas, 0.0)
    return _signflip_rates(deltas, seed)


def clustered_aa(*, clusters: int = 20, size: int = 10, runs: int = 2000, seed: int = 0) -> dict:
    """A/A with a side-specific shift per cluster (e.g. per conversation): cluster vs naive."""
    rng = np.random.default_rng(seed)
    codes = np.repeat(np.arange(clusters), size)
    item = rng.normal(0, 1, (runs, codes.size))
    base = item + rng.normal(0, 1, (runs, clusters))[:, codes] + rng.normal(0, 1, item.shape)
    head = item + rng.normal(0, 1, (runs, clusters))[:, codes] + rng.normal(0, 1, item.shape)
    deltas = head - base
    p_cluster, _, _ = clustered_signflip(deltas, codes, n_resamples=RESAMPLES, rng=seed)
    p_naive, _, _ = signflip_pvalues(deltas, n_resamples=RESAMPLES, rng=seed)
    return {
        "clustered_one_sided": float(np.mean(p_cluster < ALPHA)),
        "naive_one_sided": float(np.mean(p_naive < ALPHA)),
    }


def tango_ni_size(
    margin: float, discordance: float, *, n: int = 200, runs: int = 4000, seed: int = 0
) -> float:
    """True drop exactly at the margin: share wrongly shown non-inferior (lower bound > −margin)."""
    rng = np.random.default_rng(seed)
    b, c = _discordant(rng, n, runs, (discordance + margin) / 2, (discordance - margin) / 2)
    pairs, inverse = np.unique(np.stack([b, c], axis=1), axis=0, return_inverse=True)
    lower = np.array([tango_interval(int(x), int(y), n, 1 - 2 * ALPHA)[0] for x, y in pairs])
    return float(np.mean(lower[inverse.ravel()] > -margin))


def t_ni_size(margin: float, *, n: int = 200, runs: int = 4000, seed: int = 0) -> float:
    """Continuous, true drop at the margin: share wrongly shown non-inferior by the t bound."""
    rng = np.random.default_rng(seed)
    deltas = -margin + rng.standard_t(5, size=(runs, n)) * 0.5
    low, _, _ = t_interval(deltas, 1 - 2 * ALPHA)
    return float(np.mean(low > -margin))


def holm_family(
    *, metrics: int = 10, rho: float = 0.5, n: int = 200, runs: int = 2000, seed: int = 0
) -> dict:
    """A/A on ``metrics`` correlated binary metrics: P(any false REGRESSED), Holm vs raw."""
    rng = np.random.default_rng(seed)
    cov = np.full((metrics, metrics), rho) + (1 - rho) * np.eye(metrics)
    chol = np.linalg.cholesky(cov)
    item = rng.normal(size=(runs, n, metrics)) @ chol.T
    base = item + 0.5 * rng.normal(size=item.shape) @ chol.T > 0.8
    head = item + 0.5 * rng.normal(size=item.shape) @ chol.T > 0.8
    b = np.sum(base & ~head, axis=1)
    c = np.sum(~base & head, axis=1)
    p = mcnemar_midp(b, c)[0]
    adjusted = np.array([holm(row) for row in p])
    return {
        "holm_any": float(np.mean((adjusted < ALPHA).any(axis=1))),
        "raw_any": float(np.mean((p < ALPHA).any(axis=1))),
    }


def compare_metric_aa(kind: str, *, runs: int = 300, n: int = 200, seed: int = 0) -> float:
    """A/A through ``compare_metric`` itself: share of runs with verdict ``regressed``."""
    rng = np.random.default_rng(seed)
    regressed = 0
    groups = None
    for run in range(runs):
        if kind == "binary":
            cells = rng.choice(4, size=n, p=[0.75, 0.05, 0.05, 0.15])
            base = np.isin(cells, (0, 1)).astype(float)
            head = np.isin(cells, (0, 2)).astype(float)
            metric_kind = MetricKind.BINARY
        elif kind == "likert":
            quality = rng.uniform(1, 5, n)
            base = np.clip(np.round(quality + rng.normal(0, 0.6, n)), 1, 5)
            head = np.clip(np.round(quality + rng.normal(0, 0.6, n)), 1, 5)
            metric_kind = MetricKind.CONTINUOUS
        elif kind == "samples":
            p_pass = rng.beta(2, 1, size=(n, 1))
            base = (rng.random((n, 3)) < p_pass).astype(float)
            head = (rng.random((n, 3)) < p_pass).astype(float)
            metric_kind = MetricKind.BINARY
        elif kind == "heavy":
            typical = rng.lognormal(6, 1, n)  # per-example cost; both sides jitter around it
            base = typical * rng.lognormal(0, 0.3, n)
            head = typical * rng.lognormal(0, 0.3, n)
            metric_kind = MetricKind.HEAVY_TAILED
        elif kind == "clustered":
            codes = np.repeat(np.arange(20), n // 20)
            groups = [f"g{c}" for c in codes]
            base = rng.normal(0, 1, 20)[codes] + rng.normal(size=codes.size)
            head = rng.normal(0, 1, 20)[codes] + rng.normal(size=codes.size)
            metric_kind = MetricKind.CONTINUOUS
        else:
            raise ValueError(kind)
        result = compare_metric(
            "m", base, head, kind=metric_kind, groups=groups, alpha=ALPHA, seed=run
        )
        regressed += result.verdict == Verdict.REGRESSED
    return regressed / runs

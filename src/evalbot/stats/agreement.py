"""Agreement statistics for judge calibration: Cohen's κ, Krippendorff's α, Spearman ρ,
item-bootstrap confidence intervals, and ``agreement``, the judge-vs-human report with its verdict.
Pure numpy/scipy, so the runtime needs no extra package.

References: Cohen (1960, 1968) for κ and weighted κ (weights by category index, as sklearn and
statsmodels compute them); Krippendorff, *Computing Krippendorff's Alpha-Reliability* (2011) for
α via the coincidence matrix, with the nominal, ordinal and interval difference functions.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

__all__ = [
    "ALPHA_RELIABLE",
    "ALPHA_TENTATIVE",
    "AlphaLevel",
    "KappaWeights",
    "agreement",
    "bootstrap_ci",
    "cohen_kappa",
    "krippendorff_alpha",
    "spearman",
    "verdict_for",
]

KappaWeights = Literal["linear", "quadratic"] | None
AlphaLevel = Literal["nominal", "ordinal", "interval"]

ALPHA_RELIABLE = 0.800
ALPHA_TENTATIVE = 0.667
CONFIDENCE = 0.95


def cohen_kappa(
    a: Sequence[float],
    b: Sequence[float],
    *,
    weights: KappaWeights = None,
    categories: Sequence[float] | None = None,
) -> float:
    """Cohen's κ between two raters over the same items; NaN when chance agreement is perfect.

    ``categories`` fixes the ordered category list (e.g. the whole 1–5 scale, so a grade nobody
    used still counts in the distances); by default it is the sorted union of observed values.
    Weighted disagreement uses category *indices*: |i−j|/(K−1) or ((i−j)/(K−1))².
    """
    x = np.asarray(a, dtype=float)
    y = np.asarray(b, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError("cohen_kappa needs two 1-D sequences of the same length")
    cats = np.unique(np.concatenate([x, y])) if categories is None else np.asarray(categories)
    index = {float(c): i for i, c in enumerate(cats)}
    k = len(cats)
    if k < 2 or len(x) == 0:
        return math.nan
    observed = np.zeros((k, k))
    for u, v in zip(x, y, strict=True):
        observed[index[float(u)], index[float(v)]] += 1
    expected = np.outer(observed.sum(1), observed.sum(0)) / observed.sum()
    i, j = np.indices((k, k))
    if weights is None:
        w = (i != j).astype(float)
    elif weights == "linear":
        w = np.abs(i - j) / (k - 1)
    elif weights == "quadratic":
        w = ((i - j) / (k - 1)) ** 2
    else:
        raise ValueError(f"unknown kappa weights {weights!r}")
    denominator = float((w * expected).sum())
    if denominator == 0:
        return math.nan
    return 1.0 - float((w * observed).sum()) / denominator


def _value_counts(data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per unit, how many raters gave each value: (values, counts[unit, value])."""
    values = np.unique(data[~np.isnan(data)])
    counts = np.zeros((data.shape[1], len(values)))
    for r in range(data.shape[0]):
        row = data[r]
        seen = ~np.isnan(row)
        counts[np.nonzero(seen)[0], np.searchsorted(values, row[seen])] += 1
    return values, counts


def _alpha_from_counts(values: np.ndarray, counts: np.ndarray, level: AlphaLevel) -> float:
    m = counts.sum(1)
    pairable = m >= 2
    counts, m = counts[pairable], m[pairable]
    if len(counts) == 0:
        return math.nan
    # Coincidence matrix: o_ck = Σ_u n_uc (n_uk − [c=k]) / (m_u − 1).
    scaled = counts / (m - 1)[:, None]
    coincidence = counts.T @ scaled - np.diag(scaled.sum(0))
    n_c = coincidence.sum(1)
    n = n_c.sum()
    if level == "nominal":
        delta = 1.0 - np.eye(len(values))
    elif level == "interval":
        delta = np.subtract.outer(values, values) ** 2
    elif level == "ordinal":
        # δ²_ck = (Σ_{g=c..k} n_g − (n_c + n_k)/2)², over the ranks of the values.
        cumulative = np.concatenate([[0.0], np.cumsum(n_c)])
        lo = np.minimum.outer(np.arange(len(values)), np.arange(len(values)))
        hi = np.maximum.outer(np.arange(len(values)), np.arange(len(values)))
        between = cumulative[hi + 1] - cumulative[lo]
        delta = (between - np.add.outer(n_c, n_c) / 2) ** 2
    else:
        raise ValueError(f"unknown alpha level {level!r}")
    disagreement_expected = float((np.outer(n_c, n_c) * delta).sum())
    if disagreement_expected == 0:
        return math.nan
    return float(1.0 - (n - 1) * float((coincidence * delta).sum()) / disagreement_expected)


def krippendorff_alpha(reliability_data: Sequence[Sequence[float]], *, level: AlphaLevel) -> float:
    """Krippendorff's α for raters × units data, NaN marking a missing rating.

    Units rated by fewer than two raters are not pairable and are ignored. NaN when there is no
    variation at all (α is undefined, not perfect).
    """
    data = np.asarray(reliability_data, dtype=float)
    if data.ndim != 2:
        raise ValueError("reliability data must be raters × units")
    values, counts = _value_counts(data)
    return _alpha_from_counts(values, counts, level)


def spearman(a: ArrayLike, b: ArrayLike) -> float:
    """Spearman's ρ (NaN when either side is constant)."""
    x = np.asarray(a, dtype=float)
    y = np.asarray(b, dtype=float)
    if len(x) < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan
    # Pearson's r of the mid-ranks: what spearmanr computes, without its overhead (this runs
    # inside bootstrap loops).
    return float(np.corrcoef(stats.rankdata(x), stats.rankdata(y))[0, 1])


def bootstrap_ci(
    statistic: Callable[[np.ndarray], float],
    n_items: int,
    *,
    confidence: float = 0.95,
    n_resamples: int = 1000,
    seed: int = 0,
) -> tuple[float | None, float | None]:
    """Percentile interval of ``statistic(indices)`` over item resamples (seeded).

    ``statistic`` receives an index array into the items and returns a float; undefined
    resamples (NaN, e.g. a resample with one category only) are skipped.
    """
    if n_items < 2:
        return None, None
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(n_resamples):
        value = statistic(rng.integers(0, n_items, n_items))
        if math.isfinite(value):
            draws.append(value)
    if len(draws) < n_resamples // 2:
        return None, None
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(draws, [tail, 100 - tail])
    return float(low), float(high)


# ---------------------------------------------------------------------------------------------
# Judge against humans
# ---------------------------------------------------------------------------------------------


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _round_half_up(values: np.ndarray) -> np.ndarray:
    return np.floor(values + 0.5)


def verdict_for(alpha_low: float | None) -> str:
    """Krippendorff's bars, applied to the lower confidence bound of α."""
    if alpha_low is None:
        return "unreliable"
    if alpha_low >= ALPHA_RELIABLE:
        return "reliable"
    if alpha_low >= ALPHA_TENTATIVE:
        return "tentative"
    return "unreliable"


def _categories(human: list[list[float]], scale: tuple[int, int] | None) -> list[float] | None:
    if scale is not None:
        return [float(v) for v in range(scale[0], scale[1] + 1)]
    flat = [v for row in human for v in row]
    if not all(float(v).is_integer() for v in flat):
        return None
    lo, hi = int(min(flat)), int(max(flat))
    return [float(v) for v in range(lo, hi + 1)] if hi > lo else None


def _ceiling(
    human: list[list[float]], cats: list[float] | None, *, level: str, seed: int, n_resamples: int
) -> dict[str, Any] | None:
    multi = [row for row in human if len(row) >= 2]
    if len(multi) < 2:
        return None
    raters = max(len(row) for row in multi)
    data = np.full((raters, len(multi)), np.nan)
    for j, row in enumerate(multi):
        data[: len(row), j] = row
    first, second = data[0], data[1]
    ceiling: dict[str, Any] = {
        "n": len(multi),
        "raters": raters,
        "alpha": _finite(krippendorff_alpha(data, level=level)),  # type: ignore[arg-type]
        "spearman": _finite(spearman(first, second)),
    }
    low, high = bootstrap_ci(
        lambda idx: krippendorff_alpha(data[:, idx], level=level),  # type: ignore[arg-type]
        len(multi),
        n_resamples=n_resamples,
        seed=seed,
    )
    ceiling["alpha_ci"] = [low, high]
    if cats is not None:
        ceiling["kappa"] = _finite(cohen_kappa(first, second, categories=cats))
        if len(cats) > 2:
            ceiling["weighted_kappa"] = _finite(
                cohen_kappa(first, second, weights="quadratic", categories=cats)
            )
    return ceiling


def agreement(
    judge: Sequence[float | None],
    human: Sequence[Sequence[float]],
    *,
    scale: tuple[int, int] | None = None,
    seed: int = 0,
    n_resamples: int = 2000,
) -> dict[str, Any]:
    """Judge-vs-human agreement over the rows the judge scored (None = judge error, dropped).

    κ and α compare categories: the judge's value and the mean human rating, each rounded to the
    nearest point of the scale (``scale``, else the integer range of the human labels). ρ uses
    the judge's value as is. κ is quadratic-weighted for more than two categories; α is nominal
    for two categories and ordinal otherwise (interval and nominal α are reported too).
    """
    keep = [i for i, v in enumerate(judge) if v is not None and math.isfinite(v)]
    human_rows = [list(human[i]) for i in keep]
    judge_values = np.array([judge[i] for i in keep], dtype=float)
    human_mean = np.array([float(np.mean(row)) for row in human_rows])
    cats = _categories([list(h) for h in human], scale)
    binary = cats is not None and len(cats) == 2
    level = "interval" if cats is None else "nominal" if binary else "ordinal"
    if cats is None:
        judge_cat, human_cat = judge_values, human_mean
    else:
        lo, hi = cats[0], cats[-1]
        judge_cat = np.clip(_round_half_up(judge_values), lo, hi)
        human_cat = np.clip(_round_half_up(human_mean), lo, hi)
    n = len(keep)
    pair = np.vstack([judge_cat, human_cat])

    def kappa(idx: np.ndarray, weights: Any = None) -> float:
        return cohen_kappa(judge_cat[idx], human_cat[idx], weights=weights, categories=cats)

    stats: dict[str, Any] = {
        "alpha": lambda idx: krippendorff_alpha(pair[:, idx], level=level),  # type: ignore[arg-type]
        "spearman": lambda idx: spearman(judge_values[idx], human_mean[idx]),
    }
    if cats is not None:
        stats["kappa"] = kappa
        if not binary:
            stats["weighted_kappa"] = lambda idx: kappa(idx, "quadratic")
    everything = np.arange(n)
    result: dict[str, Any] = {
        "n": n,
        "n_dropped": len(judge) - n,
        "scale": [int(cats[0]), int(cats[-1])] if cats is not None else None,
        "binary": binary,
        "alpha_level": level,
        "kappa": None,
        "weighted_kappa": None,
        "confidence": CONFIDENCE,
        "cis": {},
    }
    for name, statistic in stats.items():
        result[name] = _finite(statistic(everything)) if n >= 2 else None
        low, high = bootstrap_ci(statistic, n, n_resamples=n_resamples, seed=seed)
        result["cis"][name] = [low, high]
    result["alphas"] = {
        lv: _finite(krippendorff_alpha(pair, level=lv)) if n >= 2 else None  # type: ignore[arg-type]
        for lv in ("nominal", "ordinal", "interval")
    }
    if binary:
        positive = np.asarray(human_cat == cats[1], dtype=bool)  # type: ignore[index]
        judged_positive = np.asarray(judge_cat == cats[1], dtype=bool)  # type: ignore[index]
        result["sensitivity"] = _finite(
            float(np.mean(judged_positive[positive])) if positive.any() else None
        )
        result["specificity"] = _finite(
            float(np.mean(~judged_positive[~positive])) if (~positive).any() else None
        )
    result["verdict"] = verdict_for(result["cis"]["alpha"][0])
    result["ceiling"] = _ceiling(human_rows, cats, level=level, seed=seed, n_resamples=n_resamples)
    return result

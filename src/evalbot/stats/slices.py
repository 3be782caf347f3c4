"""Per-slice comparisons of one metric, with multiplicity control across the slices.

A slice is a subset of the golden set named by its rows (``tags`` or ``slice``): a language, a
topic, a customer tier. Each slice gets the paired comparison the whole suite gets
(``compare_metric``: same test, same interval, same margin unless a ``metric@slice`` threshold
sets its own), and the one-sided regression p-values of one metric's slices are
**Holm**-adjusted together.

Why Holm and not Benjamini–Hochberg: a flagged slice is read, and acted on, one at a time ("the
German answers got worse"), so the claim to protect is "every flagged slice is real", the
family-wise error rate; Holm controls it under any dependence between slices (an example may
carry several tags). BH controls only the expected share of false flags, which with the handful
of slices a golden set has means a false flag in up to α of the runs *per true one*. Slices are
few (tens), so Holm's cost in power is small.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from evalbot.records import MetricComparison, MetricKind, Verdict
from evalbot.stats.compare import compare_metric
from evalbot.stats.gate import decide_verdict, good_bounds, holm

__all__ = ["MIN_SLICE", "compare_slices", "holm_reject_any"]

MIN_SLICE = 5
"""Slices with fewer paired examples are listed, not tested (no test holds any power there)."""


def compare_slices(
    metric: str,
    base: np.ndarray,
    head: np.ndarray,
    members: Mapping[str, Sequence[int]],
    *,
    kind: MetricKind,
    higher_is_better: bool,
    alpha: float,
    margins: Mapping[str, float],
    default_margin: float,
    groups: Sequence[str | None] | None = None,
    seed: int = 0,
) -> list[tuple[str, MetricComparison]]:
    """One comparison per slice (rows of ``base``/``head`` at the slice's indices), Holm-adjusted
    over the slices that could be tested; verdicts follow the adjusted p, as in the gate."""
    out: list[tuple[str, MetricComparison]] = []
    for label, rows in members.items():
        index = np.asarray(rows, dtype=int)
        if index.size < MIN_SLICE:
            continue
        sub_groups = None
        if groups is not None:
            picked = [groups[i] for i in index]
            sub_groups = picked if any(g is not None for g in picked) else None
        comparison = compare_metric(
            metric,
            base[index],
            head[index],
            kind=kind,
            higher_is_better=higher_is_better,
            groups=sub_groups,
            alpha=alpha,
            max_drop=margins.get(label, default_margin),
            seed=seed,
            blocking=True,
        )
        out.append((label, comparison))
    tested = [
        k for k, (_, c) in enumerate(out) if c.p_value is not None and math.isfinite(c.p_value)
    ]
    adjusted = holm([out[k][1].p_value for k in tested])  # type: ignore[misc]
    for k, p_adj in zip(tested, adjusted, strict=True):
        label, c = out[k]
        verdict = decide_verdict(
            p_value=float(p_adj), lower_good=good_bounds(c)[0], max_drop=c.max_drop, alpha=alpha
        )
        out[k] = (label, c.model_copy(update={"p_adjusted": float(p_adj), "verdict": verdict}))

    def worst_first(item: tuple[str, MetricComparison]) -> tuple[int, float, str]:
        label, c = item
        good = c.delta if c.higher_is_better else -(c.delta or 0.0)
        regressed = c.verdict == Verdict.REGRESSED
        return (0 if regressed else 1, good if good is not None else math.inf, label)

    return sorted(out, key=worst_first)


def holm_reject_any(p_values: np.ndarray, alpha: float) -> np.ndarray:
    """Vectorized over rows: does Holm at ``alpha`` reject any of the row's hypotheses? (Holm
    rejects something iff the smallest p is below alpha / m.)"""
    p = np.asarray(p_values, dtype=float)
    return np.asarray(p.min(axis=1) < alpha / p.shape[1], dtype=bool)

"""One side's value of a metric with its interval: ``evalbot run`` and a new suite have no base
to compare with, so each metric is reported as an estimate, not as a bare number.

The interval is two-sided at the same 1 − 2α the paired comparisons use, so a reader sees one
confidence level throughout the report.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from evalbot.records import MetricKind
from evalbot.stats.clustered import clustered_t_interval
from evalbot.stats.intervals import t_interval, wilson_interval

__all__ = ["value_interval"]


def _cluster_codes(groups: Sequence[str | None], keep: np.ndarray) -> np.ndarray | None:
    """Cluster code per kept example (an example without a group is its own cluster), or None
    when every example is alone."""
    labels = [g if g is not None else f"\0{i}" for i, g in enumerate(groups)]
    kept = [label for label, k in zip(labels, keep, strict=True) if k]
    codes = {label: i for i, label in enumerate(dict.fromkeys(kept))}
    return None if len(codes) == len(kept) else np.array([codes[x] for x in kept])


def value_interval(
    per_example: np.ndarray,
    *,
    kind: MetricKind,
    samples: int,
    confidence: float,
    groups: Sequence[str | None] | None = None,
) -> tuple[float | None, float | None, float | None, int, str]:
    """(mean, low, high, n, method) of per-example values (NaN = no value, left out).

    - every 0/1 draw alike (0 % or 100 %): Wilson score interval (a t would be a point);
    - examples in groups: cluster-robust t interval (examples of a group are not independent);
    - one 0/1 sample per example: Wilson score interval for the proportion;
    - otherwise (scores, means of several samples, latency, tokens, cost): t interval.
    """
    values = np.asarray(per_example, dtype=float)
    keep = np.isfinite(values)
    x = values[keep]
    n = int(x.size)
    if n == 0:
        return None, None, None, 0, "none"
    mean = float(x.mean())
    binary = kind == MetricKind.BINARY and bool(np.all((x == 0) | (x == 1)))
    if binary and mean in (0.0, 1.0):
        # Every draw alike (0 of 222 passes): a t interval would collapse to a point.
        low, high = wilson_interval(mean, n, confidence)
        return mean, low, high, n, "Wilson"
    codes = (
        _cluster_codes(groups, keep) if groups is not None and len(groups) == len(values) else None
    )
    if codes is not None and int(codes.max()) >= 1:
        low, high, _ = clustered_t_interval(x, codes, confidence)
        return mean, float(low), float(high), n, "cluster-robust t"
    if binary and samples == 1:
        low, high = wilson_interval(mean, n, confidence)
        return mean, low, high, n, "Wilson"
    if n < 2 or float(x.std()) == 0.0:
        return mean, mean, mean, n, "no spread" if n >= 2 else "one example"
    low, high, _ = t_interval(x, confidence)
    return mean, float(low), float(high), n, "t"

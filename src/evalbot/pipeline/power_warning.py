"""The power warning: a suite whose golden set cannot detect its own ``max_drop``.

What ``evalbot power --drop MAX_DROP --discordance ψ --n N`` computes (``stats.power``), with
ψ (binary metrics) or the SD of the per-example delta (continuous ones) taken from main's
flakiness record when there is one, else from this run's pairs. One note per suite, for the
blocking metric that needs the most examples, with the n needed for 80 % power.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from evalbot.inputs.config import Threshold
from evalbot.pipeline.analyze import _matrix, _row_means
from evalbot.records import MetricComparison, MetricKind, SuiteResult
from evalbot.stats.power import mcnemar_power, mcnemar_sample_size, mean_power, mean_sample_size

__all__ = ["POWER", "power_note", "with_power_warning"]

POWER = 0.8


def _binary(
    c: MetricComparison, drop: float, alpha: float, psi: float | None, source: str
) -> tuple[float, int, str] | None:
    if psi is None:
        if not c.n or c.n_discordant is None:
            return None
        psi, source = c.n_discordant / c.n, "this run's pairs"
    # A drop of `drop` needs at least that share of changed examples: below it, assume the
    # least discordance that drop allows (the most favourable case, so the warning is sure).
    psi = min(1.0, max(psi, drop))
    power = float(mcnemar_power(c.n, drop, psi, alpha, "midp"))
    if power >= POWER:
        return None
    needed = mcnemar_sample_size(drop, psi, POWER, alpha, "midp")
    how = f"{psi:.0%} of examples changing outcome ({source})"
    command = f"evalbot power --drop {drop:g} --discordance {psi:.3g} --n {c.n}"
    return power, needed, f"{how} (see: {command})"


def _continuous(
    c: MetricComparison, drop: float, alpha: float, sd: float | None, source: str
) -> tuple[float, int, str] | None:
    if sd is None or not math.isfinite(sd) or sd <= 0 or not c.n:
        return None
    power = float(mean_power(drop, sd, c.n, alpha))
    if power >= POWER:
        return None
    needed = mean_sample_size(drop, sd, POWER, alpha)
    command = f"evalbot power --drop {drop:g} --sd {sd:.3g} --n {c.n}"
    return power, needed, f"SD of the per-example change {sd:.3g} ({source}) (see: {command})"


def _delta_sd(result: SuiteResult, metric: str) -> float | None:
    if result.base is None or result.head is None:
        return None
    delta = _row_means(_matrix(result.head, metric)) - _row_means(_matrix(result.base, metric))
    delta = delta[np.isfinite(delta)]
    return float(np.std(delta, ddof=1)) if delta.size > 1 else None


def power_note(
    result: SuiteResult,
    thresholds: Mapping[str, Threshold],
    *,
    alpha: float,
    observed: Mapping[str, float] | None = None,
    source: str = "main's flakiness record",
) -> str | None:
    """The warning, or None when every blocking margin is detectable with 80 % power.

    ``observed``: metric → discordance (binary) or SD of the per-example change (continuous)
    seen on main; metrics without one use this run's pairs."""
    worst: tuple[int, str] | None = None
    for c in result.comparisons:
        threshold = thresholds.get(c.metric)
        if threshold is None or not threshold.blocking or not c.max_drop:
            continue
        prior = (observed or {}).get(c.metric)
        found: tuple[float, int, str] | None = None
        if c.kind == MetricKind.BINARY:
            found = _binary(c, c.max_drop, alpha, prior, source)
        elif c.kind in (MetricKind.CONTINUOUS, MetricKind.HEAVY_TAILED):
            sd, where = (prior, source) if prior is not None else (_delta_sd(result, c.metric), "")
            found = _continuous(c, c.max_drop, alpha, sd, where or "this run's pairs")
        if found is None:
            continue
        power, needed, how = found
        text = (
            f"Power: this golden set ({c.n:,} examples) detects a drop of {c.metric} by its own "
            f"max_drop {c.max_drop:g} with only {power:.0%} power (80 % wanted); about "
            f"{needed:,} examples are needed, assuming {how}."
        )
        if worst is None or needed > worst[0]:
            worst = (needed, text)
    return worst[1] if worst else None


def with_power_warning(
    result: SuiteResult,
    thresholds: Mapping[str, Threshold],
    *,
    alpha: float,
    observed: Mapping[str, float] | None = None,
) -> SuiteResult:
    note = power_note(result, thresholds, alpha=alpha, observed=observed)
    if note is None:
        return result
    return result.model_copy(update={"notes": [*result.notes, note]})

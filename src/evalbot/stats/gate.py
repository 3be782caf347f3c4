"""Verdicts, multiplicity control and the merge gate.

Gate semantics are non-inferiority with three states (Schuirmann's TOST logic). Per blocking
metric with margin Δ ≥ 0 (``max_drop``):

- regressed: the test rejects H0 "δ ≥ −Δ" (Holm-adjusted over the suite's blocking metrics);
- unchanged: the one-sided lower bound of δ is above −Δ (shown non-inferior; an
  intersection–union claim over metrics, level α with no adjustment, Berger 1982);
- improved: the lower bound is above 0;
- inconclusive: neither.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
from scipy import stats

from evalbot.inputs.config import GateConfig, Threshold
from evalbot.records import AbsoluteCheck, GateStatus, MetricComparison, MetricKind, Verdict

__all__ = [
    "IMPLICIT_MARGIN_NOTE",
    "absolute_checks",
    "apply_gate",
    "decide_verdict",
    "good_bounds",
    "holm",
    "suite_gate",
]

IMPLICIT_MARGIN_NOTE = (
    "no max_drop set: blocks only on a significant drop (margin 0) or its min/max bound; "
    "an inconclusive result does not warn"
)


def decide_verdict(
    *,
    p_value: float | None,
    lower_good: float | None,
    max_drop: float,
    alpha: float,
) -> Verdict:
    """The verdict from the regression p-value and the good-direction lower bound.

    Args:
        p_value: one-sided p for H0 "δ_good ≥ −max_drop" (None when no test was possible).
        lower_good: one-sided (1 − α) lower bound of the good-direction delta.
        max_drop: the non-inferiority margin (≥ 0).
        alpha: one-sided level.

    There is no shortcut for "every example identical": unchanged needs the same evidence as
    always, a lower bound above −max_drop (with n = 20 identical pass/fail pairs the bound is
    about −12 points, which does not show a 5-point margin).
    """
    if p_value is not None and math.isfinite(p_value) and p_value < alpha:
        return Verdict.REGRESSED
    if lower_good is None or not math.isfinite(lower_good):
        return Verdict.INCONCLUSIVE
    if lower_good > 0:
        return Verdict.IMPROVED
    if lower_good > -max_drop:
        return Verdict.UNCHANGED
    return Verdict.INCONCLUSIVE


def good_bounds(c: MetricComparison) -> tuple[float | None, float | None]:
    """(lower, upper) bounds of the good-direction delta from a record's interval."""
    if c.ci_low is None or c.ci_high is None:
        return None, None
    if c.higher_is_better:
        return c.ci_low, c.ci_high
    return -c.ci_high, -c.ci_low


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm step-down adjusted p-values (equal to statsmodels ``multipletests(method="holm")``)."""
    p = np.asarray(p_values, dtype=float)
    m = p.size
    if m == 0:
        return p
    order = np.argsort(p, kind="stable")
    stepped = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    adjusted = np.empty(m)
    adjusted[order] = stepped
    return adjusted


def _finite(p: float | None) -> bool:
    return p is not None and math.isfinite(p)


def apply_gate(
    comparisons: Sequence[MetricComparison],
    thresholds: Mapping[str, Threshold],
    *,
    alpha: float = GateConfig.model_fields["alpha"].default,
    on_inconclusive: Literal["warn", "fail"] = GateConfig.model_fields["on_inconclusive"].default,
    informational_floor: float = 0.0,
) -> list[MetricComparison]:
    """Multiplicity control and per-metric gate status for one suite.

    Metrics named in ``thresholds`` with ``blocking: true`` form the blocking family: their
    regression p-values are Holm-adjusted (``p_adjusted``), the verdict is recomputed with the
    adjusted p, and ``gate`` is FAIL (regressed), WARN/FAIL (inconclusive or not compared, per
    ``on_inconclusive``) or PASS. A blocking threshold with only ``min``/``max`` joins the family
    with an implicit margin of 0: a significant drop fails, but inconclusive passes, because the
    user asked for a bound, not for a shown non-inferiority. Every other metric is
    informational: ``p_adjusted`` is the Benjamini–Hochberg q-value of its two-sided p (the p
    shown in the comment), ``gate`` is INFO and the verdict is left unadjusted.

    Args:
        comparisons: one suite's records from ``compare_metric``.
        thresholds: the suite's thresholds by metric name.
        alpha: the suite's family-wise level; must match the alpha used by ``compare_metric``.
        on_inconclusive: gate status of an inconclusive blocking metric.
        informational_floor: practical floor of informational metrics, relative to the base
            mean: when the whole interval lies within ±floor·|base|, a detectable change reads
            "unchanged" with a "below the floor" note (latency moving 0.6 ms at 50 ms).

    Returns:
        Updated copies, in the input order.

    Raises:
        ValueError: a record was computed with another alpha or margin than the threshold's.
    """
    blocking_idx: list[int] = []
    info_idx: list[int] = []
    for i, c in enumerate(comparisons):
        threshold = thresholds.get(c.metric)
        (blocking_idx if threshold is not None and threshold.blocking else info_idx).append(i)
        if c.verdict != Verdict.NOT_COMPARED and abs(c.confidence - (1 - 2 * alpha)) > 1e-9:
            raise ValueError(
                f"{c.metric}: compared at confidence {c.confidence}, gate alpha {alpha} "
                f"needs {1 - 2 * alpha}"
            )

    out = list(comparisons)
    raw = [comparisons[i].p_value for i in blocking_idx]
    # Only tests that ran spend alpha: a metric that could not be compared is not in the family.
    ran = [k for k, p in enumerate(raw) if _finite(p)]
    adjusted = np.full(len(raw), np.nan)
    adjusted[ran] = holm([p for p in raw if p is not None and math.isfinite(p)])
    for i, p_adj, p_raw in zip(blocking_idx, adjusted, raw, strict=True):
        c = comparisons[i]
        threshold = thresholds[c.metric]
        implicit, margin = threshold.implicit_margin, threshold.margin
        if c.verdict != Verdict.NOT_COMPARED and abs(c.max_drop - margin) > 1e-12:
            raise ValueError(
                f"{c.metric}: compared with max_drop {c.max_drop}, threshold says {margin}; "
                "call compare_metric with the threshold's max_drop"
            )
        verdict = c.verdict
        if verdict != Verdict.NOT_COMPARED and _finite(p_raw):
            verdict = decide_verdict(
                p_value=float(p_adj),
                lower_good=good_bounds(c)[0],
                max_drop=margin,
                alpha=alpha,
            )
        if verdict == Verdict.REGRESSED:
            gate = GateStatus.FAIL
        elif verdict in (Verdict.IMPROVED, Verdict.UNCHANGED) or implicit:
            gate = GateStatus.PASS
        else:
            gate = GateStatus.FAIL if on_inconclusive == "fail" else GateStatus.WARN
        notes = list(c.notes)
        if implicit and IMPLICIT_MARGIN_NOTE not in notes:
            notes.append(IMPLICIT_MARGIN_NOTE)
        out[i] = c.model_copy(
            update={
                "p_adjusted": float(p_adj) if _finite(p_raw) else None,
                "verdict": verdict,
                "blocking": True,
                "gate": gate,
                "max_drop": margin,
                "notes": notes,
            }
        )

    with_p = [i for i in info_idx if _finite(comparisons[i].p_two_sided)]
    q_values: Sequence[float] | np.ndarray = (
        stats.false_discovery_control([comparisons[i].p_two_sided for i in with_p], method="bh")
        if with_p
        else []
    )
    q_by_index = dict(zip(with_p, np.atleast_1d(q_values), strict=True))
    for i in info_idx:
        q = q_by_index.get(i)
        c = comparisons[i]
        update: dict[str, Any] = {
            "p_adjusted": None if q is None else float(q),
            "blocking": False,
            "gate": GateStatus.INFO,
        }
        band = _floor_band(c, informational_floor)
        if band is not None and c.verdict in (
            Verdict.REGRESSED,
            Verdict.IMPROVED,
            Verdict.INCONCLUSIVE,
        ):
            update["verdict"] = Verdict.UNCHANGED
            update["notes"] = [
                *c.notes,
                f"unchanged (below the floor): the whole interval is within ±{band:.4g} "
                f"({informational_floor:.0%} of base), too small to matter",
            ]
        out[i] = c.model_copy(update=update)
    return out


def _floor_band(c: MetricComparison, floor: float) -> float | None:
    """±floor·|base| when the record's whole interval lies inside it, else None."""
    if floor <= 0 or c.kind == MetricKind.PAIRWISE or c.base_mean is None:
        return None
    if c.ci_low is None or c.ci_high is None or not math.isfinite(c.base_mean):
        return None
    band = floor * abs(c.base_mean)
    if band > 0 and -band <= c.ci_low and c.ci_high <= band:
        return band
    return None


def absolute_checks(
    values: Mapping[str, float | None], thresholds: Mapping[str, Threshold]
) -> list[AbsoluteCheck]:
    """``min``/``max`` checks of blocking thresholds on the head side's aggregate values.

    Non-blocking thresholds produce no check (an AbsoluteCheck has no "informational" state and
    ``suite_gate`` fails on any failed check). A missing value (every example errored, or the
    metric was not computed) fails the check with a note: a bound that cannot be verified is
    not passed silently.
    """
    checks: list[AbsoluteCheck] = []
    for metric, threshold in thresholds.items():
        if not threshold.blocking:
            continue
        value = values.get(metric)
        known = value is not None and math.isfinite(value)
        for bound, limit in (("min", threshold.min), ("max", threshold.max)):
            if limit is None:
                continue
            if not known:
                checks.append(
                    AbsoluteCheck(
                        metric=metric,
                        bound=bound,  # type: ignore[arg-type]
                        limit=float(limit),
                        value=None,
                        passed=False,
                        note="no value: every example errored or the metric was not computed",
                    )
                )
                continue
            passed = value >= limit if bound == "min" else value <= limit  # type: ignore[operator]
            checks.append(
                AbsoluteCheck(
                    metric=metric,
                    bound=bound,  # type: ignore[arg-type]
                    limit=float(limit),
                    value=float(value),  # type: ignore[arg-type]
                    passed=bool(passed),
                )
            )
    return checks


def suite_gate(
    comparisons: Sequence[MetricComparison],
    absolute: Sequence[AbsoluteCheck],
    *,
    error_rates: Mapping[str, float],
    max_error_rate: float,
) -> GateStatus:
    """The suite's gate: ERROR past the error budget on any side, else FAIL on any blocking
    failure or failed absolute check, else WARN on any warning, else PASS."""
    for rate in error_rates.values():
        if rate is None or not math.isfinite(rate) or rate > max_error_rate:
            return GateStatus.ERROR
    if any(c.gate == GateStatus.ERROR for c in comparisons):
        return GateStatus.ERROR
    if any(c.gate == GateStatus.FAIL for c in comparisons) or any(
        not check.passed for check in absolute
    ):
        return GateStatus.FAIL
    if any(c.gate == GateStatus.WARN for c in comparisons):
        return GateStatus.WARN
    return GateStatus.PASS

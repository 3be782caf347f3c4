"""From the two sides' scores to comparisons, absolute checks, flipped examples and the suite gate.

Works only from records (SideRun, MetricInfo), so ``merge`` can recompute it from shard results.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from evalbot.errors import InputError
from evalbot.inputs.config import GateConfig, Threshold
from evalbot.pipeline.judge_bias import with_judge_bias
from evalbot.pipeline.judge_calibration import CalibrationUse, apply_calibrations
from evalbot.records import (
    AbsoluteCheck,
    GateStatus,
    MetricComparison,
    MetricInfo,
    MetricKind,
    MetricValue,
    SideRun,
)
from evalbot.stats import absolute_checks, apply_gate, compare_metric, suite_gate
from evalbot.stats._prepare import InfiniteScoreError
from evalbot.stats.single import value_interval

__all__ = ["Analysis", "analyze_suite", "errored_out", "head_intervals", "head_values"]

MAX_FLIPPED = 200


@dataclass
class Analysis:
    comparisons: list[MetricComparison]
    absolute: list[AbsoluteCheck]
    gate: GateStatus
    flipped: list[str]
    values: list[MetricValue] = field(default_factory=list)
    """Head-only values with intervals, when there is no base side."""


def _matrix(side: SideRun, metric: str) -> np.ndarray:
    rows = side.scores.get(metric)
    if rows is None:
        return np.full((len(side.example_ids), 1), np.nan)
    width = max((len(r) for r in rows), default=1) or 1
    out = np.full((len(rows), width), np.nan)
    for i, row in enumerate(rows):
        for k, value in enumerate(row):
            if value is not None:
                out[i, k] = value
    return out


def _row_means(matrix: np.ndarray) -> np.ndarray:
    """Per-example mean over samples, NaN where every sample is NaN (without numpy's warning)."""
    valid = ~np.isnan(matrix)
    counts = valid.sum(axis=1)
    sums = np.where(valid, matrix, 0.0).sum(axis=1)
    return np.divide(sums, counts, out=np.full(len(matrix), np.nan), where=counts > 0)


def head_values(head: SideRun, metrics: list[MetricInfo]) -> dict[str, float | None]:
    """Aggregate head-side values for absolute thresholds: mean of per-example means, plus p95."""
    values: dict[str, float | None] = {}
    for info in metrics:
        if info.kind == MetricKind.PAIRWISE:
            continue
        matrix = _matrix(head, info.name)
        per_example = _row_means(matrix)
        finite = per_example[np.isfinite(per_example)]
        values[info.name] = float(finite.mean()) if finite.size else None
    latencies = [
        c.latency_ms for row in head.outputs for c in row if c.ok and c.latency_ms is not None
    ]
    values["latency_p95_ms"] = float(np.percentile(latencies, 95)) if latencies else None
    return values


def _flipped(base: SideRun, head: SideRun, comparisons: list[MetricComparison]) -> list[str]:
    """Examples whose outcome moved between the sides, worst first (see the comment inside)."""
    # A pass/fail outcome that changed is what a reviewer wants to read; a judge score moves a
    # little on almost every example, so continuous metrics only count when no blocking
    # pass/fail metric exists.
    candidates = [c for c in comparisons if c.kind in (MetricKind.BINARY, MetricKind.CONTINUOUS)]
    blocking = [c for c in candidates if c.blocking]
    chosen = [c for c in blocking if c.kind == MetricKind.BINARY] or blocking
    if not chosen:
        chosen = [c for c in candidates if c.metric != "error" and c.kind == MetricKind.BINARY]
        chosen = chosen or [c for c in candidates if c.metric != "error"]
    if not chosen:
        return []
    badness = np.zeros(len(head.example_ids))
    moved = np.zeros(len(head.example_ids), dtype=bool)
    for comparison in chosen:
        b = _row_means(_matrix(base, comparison.metric))
        h = _row_means(_matrix(head, comparison.metric))
        delta = h - b if comparison.higher_is_better else b - h
        valid = np.isfinite(delta)
        moved |= valid & (np.abs(delta) > 1e-12)
        badness -= np.where(valid, delta, 0.0)
    order = sorted(np.flatnonzero(moved), key=lambda i: (-badness[i], head.example_ids[i]))
    return [head.example_ids[i] for i in order[:MAX_FLIPPED]]


def errored_out(
    base: SideRun | None,
    head: SideRun,
    metrics: list[MetricInfo],
    thresholds: Mapping[str, Threshold],
) -> list[tuple[str, str]]:
    """(metric, side) for each blocking metric left with no score at all on a side because its
    scoring errored (a judge that failed every call): such a suite cannot be gated, whatever
    the error budget allows. Metrics undefined everywhere (no ``error`` detail) are not here."""
    out: list[tuple[str, str]] = []
    for info in metrics:
        threshold = thresholds.get(info.name)
        if threshold is None or not threshold.blocking:
            continue
        sides = [head] if base is None or info.kind == MetricKind.PAIRWISE else [base, head]
        for side in sides:
            rows = side.scores.get(info.name)
            details = side.score_details.get(info.name) or []
            if rows is None or any(v is not None for row in rows for v in row):
                continue
            if any(d and "error" in d for row in details for d in row):
                out.append((info.name, side.side))
    return out


def analyze_suite(
    *,
    base: SideRun | None,
    head: SideRun,
    metrics: list[MetricInfo],
    thresholds: Mapping[str, Threshold],
    gate: GateConfig,
    seed: int = 0,
    calibrations: Sequence[CalibrationUse] = (),
) -> Analysis:
    comparisons: list[MetricComparison] = []
    if base is not None:
        groups = head.groups if any(g is not None for g in head.groups) else None
        for info in metrics:
            threshold = thresholds.get(info.name)
            max_drop = threshold.margin if threshold else 0.0
            if info.kind == MetricKind.PAIRWISE:
                base_matrix = None
            else:
                base_matrix = _matrix(base, info.name)
                nothing = np.all(np.isnan(base_matrix)) and np.all(
                    np.isnan(_matrix(head, info.name))
                )
                # e.g. cost_usd for an unpriced model: nothing to compare. A blocking metric
                # still gets a "not compared" row, which follows on_inconclusive in the gate.
                if nothing and not (threshold and threshold.blocking):
                    continue
            try:
                comparison = compare_metric(
                    info.name,
                    base_matrix,
                    _matrix(head, info.name),
                    kind=info.kind,
                    higher_is_better=info.higher_is_better,
                    groups=groups,
                    alpha=gate.alpha,
                    max_drop=max_drop,
                    seed=seed,
                    blocking=bool(threshold and threshold.blocking),
                )
            except InfiniteScoreError as exc:
                raise InputError(f"metric {info.name!r}: {exc}") from exc
            comparisons.append(comparison)
        comparisons = apply_calibrations(
            comparisons, calibrations, base=base, head=head, metrics=metrics,
            thresholds=thresholds, alpha=gate.alpha, matrix=_matrix, seed=seed,
        )  # fmt: skip
        comparisons = with_judge_bias(comparisons, base=base, head=head, metrics=metrics)
        comparisons = apply_gate(
            comparisons,
            thresholds,
            alpha=gate.alpha,
            on_inconclusive=gate.on_inconclusive,
            informational_floor=gate.informational_floor,
        )
    absolute = absolute_checks(head_values(head, metrics), thresholds)
    error_rates = {"head": head.error_rate}
    if base is not None:
        error_rates["base"] = base.error_rate
    status = suite_gate(
        comparisons, absolute, error_rates=error_rates, max_error_rate=gate.max_error_rate
    )
    if errored_out(base, head, metrics, thresholds):
        status = GateStatus.ERROR
    flipped = _flipped(base, head, comparisons) if base is not None else []
    values = head_intervals(head, metrics, alpha=gate.alpha) if base is None else []
    return Analysis(
        comparisons=comparisons, absolute=absolute, gate=status, flipped=flipped, values=values
    )


def head_intervals(head: SideRun, metrics: list[MetricInfo], *, alpha: float) -> list[MetricValue]:
    """Each metric's head value with its two-sided 1 − 2α interval (no base to compare with)."""
    groups = head.groups if any(g is not None for g in head.groups) else None
    out = []
    for info in metrics:
        if info.kind == MetricKind.PAIRWISE:
            continue
        matrix = _matrix(head, info.name)
        if np.all(np.isnan(matrix)):
            continue  # e.g. cost_usd of an unpriced model
        value, low, high, n, method = value_interval(
            _row_means(matrix),
            kind=info.kind,
            samples=matrix.shape[1],
            confidence=1 - 2 * alpha,
            groups=groups,
        )
        out.append(
            MetricValue(
                metric=info.name,
                kind=info.kind,
                higher_is_better=info.higher_is_better,
                value=value,
                low=low,
                high=high,
                confidence=1 - 2 * alpha,
                n=n,
                samples=matrix.shape[1],
                method=method,
            )
        )
    return out

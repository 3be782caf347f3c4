"""The gating rows beyond the main table (drift since the baseline, slice thresholds), named so
a one-line summary cannot mistake them for the per-PR ones ("correct since v1.0",
"correct@lang=de")."""

from __future__ import annotations

from evalbot.records import GateStatus, MetricComparison, SuiteResult

__all__ = ["extra_rows"]


def extra_rows(suite: SuiteResult) -> list[MetricComparison]:
    rows: list[MetricComparison] = []
    if suite.drift is not None:
        since = f" since {suite.drift.baseline_rev}"
        rows += [c.model_copy(update={"metric": c.metric + since}) for c in suite.drift.comparisons]
    rows += [
        s.comparison.model_copy(update={"metric": f"{s.comparison.metric}@{s.slice}"})
        for s in suite.slices
        if s.comparison.gate == GateStatus.FAIL
    ]
    return rows

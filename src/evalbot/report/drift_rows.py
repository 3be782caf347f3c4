"""The drift comparisons of a suite, named so a one-line summary cannot mistake them for the
per-PR ones ("correct since v1.0")."""

from __future__ import annotations

from evalbot.records import MetricComparison, SuiteResult

__all__ = ["drift_rows"]


def drift_rows(suite: SuiteResult) -> list[MetricComparison]:
    if suite.drift is None:
        return []
    since = f" since {suite.drift.baseline_rev}"
    return [c.model_copy(update={"metric": c.metric + since}) for c in suite.drift.comparisons]

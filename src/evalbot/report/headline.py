"""The one-line answers: what failed where, counted once and worded the same everywhere."""

from __future__ import annotations

from dataclasses import dataclass, field

from evalbot.records import (
    AbsoluteCheck,
    GateStatus,
    MetricComparison,
    MetricKind,
    RunResult,
    SuiteResult,
    SuiteStatus,
)
from evalbot.report.escape import plain
from evalbot.report.extra_rows import extra_rows
from evalbot.report.formatting import format_p, plural, scale_for, unit_of

__all__ = ["Tally", "absolute_text", "short_description", "tally"]

STATUS_DESCRIPTION_LIMIT = 140


@dataclass
class Tally:
    evaluated: list[SuiteResult] = field(default_factory=list)
    """Suites with results (``evaluated`` and ``new``)."""
    skipped: list[SuiteResult] = field(default_factory=list)
    errored: list[SuiteResult] = field(default_factory=list)
    regressions: list[tuple[SuiteResult, MetricComparison]] = field(default_factory=list)
    """Blocking metrics that fail the gate."""
    crossed: list[tuple[SuiteResult, AbsoluteCheck]] = field(default_factory=list)
    inconclusive: list[tuple[SuiteResult, MetricComparison]] = field(default_factory=list)
    """Blocking metrics that only warn."""
    stopped: bool = False
    """The run ended in error before any suite result (git, a fetch, the endpoint)."""

    def phrases(self) -> list[str]:
        parts = []
        if self.regressions:
            parts.append(plural(len(self.regressions), "regression"))
        if self.crossed:
            parts.append(plural(len(self.crossed), "threshold crossed", "thresholds crossed"))
        if self.inconclusive:
            parts.append(f"{len(self.inconclusive)} inconclusive")
        if self.errored:
            parts.append(plural(len(self.errored), "suite errored", "suites errored"))
        if not parts and self.stopped:
            parts.append("evaluation could not complete")
        if not parts:
            parts.append("no regressions" if self.evaluated else "nothing to evaluate")
        return parts

    def counts(self) -> str:
        text = f"{plural(len(self.evaluated), 'suite')} evaluated"
        return f"{text}, {len(self.skipped)} skipped" if self.skipped else text


def tally(result: RunResult) -> Tally:
    t = Tally(stopped=result.verdict == "error")
    for suite in result.suites:
        if suite.status == SuiteStatus.SKIPPED:
            t.skipped.append(suite)
            continue
        if suite.status == SuiteStatus.ERROR or suite.gate == GateStatus.ERROR:
            t.errored.append(suite)
        if suite.status != SuiteStatus.ERROR:
            t.evaluated.append(suite)
        for c in [*suite.comparisons, *extra_rows(suite)]:
            if c.gate == GateStatus.FAIL:
                t.regressions.append((suite, c))
            elif c.gate == GateStatus.WARN:
                t.inconclusive.append((suite, c))
        t.crossed.extend((suite, a) for a in suite.absolute if not a.passed)
    return t


def _kind_of(suite: SuiteResult, metric: str) -> MetricKind | None:
    kinds = {m.name: m.kind for m in suite.metrics} | {c.metric: c.kind for c in suite.comparisons}
    return kinds.get(metric)


def absolute_text(suite: SuiteResult, check: AbsoluteCheck) -> tuple[str, str]:
    """(value, "≥ limit" / "≤ limit") in the metric's unit."""
    scale = scale_for(unit_of(check.metric, _kind_of(suite, check.metric)), [check.limit])
    sign = "≥" if check.bound == "min" else "≤"
    return scale.value(check.value), f"{sign} {scale.value(check.limit)}"


def _names(suites: list[SuiteResult]) -> str:
    names = list(dict.fromkeys(s.name for s in suites))
    shown = ", ".join(names[:3])
    return shown if len(names) <= 3 else f"{shown} +{len(names) - 3} more"


def _regression_detail(c: MetricComparison) -> str:
    scale = scale_for(unit_of(c.metric, c.kind), [c.base_mean, c.head_mean, c.delta])
    p = c.p_adjusted if c.p_adjusted is not None else c.p_value
    p = p if p is not None else c.p_two_sided
    shown = format_p(p)
    p_text = f"p{shown}" if shown.startswith("<") else f"p={shown}"
    return f"{c.metric} {scale.delta(c.delta)}, {p_text}"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def short_description(result: RunResult) -> str:
    """≤ 140 characters, one line of plain text (commit-status description, check title).

    E.g. "1 regression in support-answers (correct −7.5 pts, p=0.004)".
    """
    t = tally(result)
    if result.verdict == "error" or t.errored:
        where = _names(t.errored) if t.errored else ""
        text = f"Evaluation error in {where}" if where else "Evaluation error"
        reason = result.summary or next((n for s in t.errored for n in s.notes), "")
        if reason:
            text += f": {reason}"
    elif t.regressions:
        suites = [s for s, _ in t.regressions]
        text = f"{plural(len(t.regressions), 'regression')} in {_names(suites)}"
        text += f" ({_regression_detail(t.regressions[0][1])})"
        if t.crossed:
            text += f"; {plural(len(t.crossed), 'threshold')} crossed"
    elif t.crossed:
        suite, check = t.crossed[0]
        value, limit = absolute_text(suite, check)
        suites = [s for s, _ in t.crossed]
        text = f"{plural(len(t.crossed), 'threshold')} crossed in {_names(suites)}"
        text += f" ({check.metric} {value}, needs {limit})"
    elif not t.evaluated:
        text = f"Nothing to evaluate ({len(t.skipped)} skipped)"
    else:
        text = f"No regressions: {t.counts()}"
        if t.inconclusive:
            text += f"; {len(t.inconclusive)} inconclusive"
    return _clip(plain(text, limit=1000), STATUS_DESCRIPTION_LIMIT)

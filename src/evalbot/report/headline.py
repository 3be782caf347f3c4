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
    Verdict,
)
from evalbot.report.escape import plain
from evalbot.report.extra_rows import extra_rows
from evalbot.report.formatting import format_p, plural, scale_for, unit_of

__all__ = ["Tally", "absolute_text", "regressed_rows", "short_description", "tally"]

STATUS_DESCRIPTION_LIMIT = 140
DRY_RUN_NOTE = "Not evaluated: dry run"
"""How pipeline.diff marks a suite that ``--dry-run`` selected but did not evaluate."""


@dataclass
class Tally:
    evaluated: list[SuiteResult] = field(default_factory=list)
    """Suites with results (``evaluated`` and ``new``)."""
    skipped: list[SuiteResult] = field(default_factory=list)
    errored: list[SuiteResult] = field(default_factory=list)
    regressions: list[tuple[SuiteResult, MetricComparison]] = field(default_factory=list)
    """Every metric row whose verdict is ``regressed`` (``regressed_rows``), blocking or not:
    the one meaning of "regression" in the headline, the table and the action's output."""
    crossed: list[tuple[SuiteResult, AbsoluteCheck]] = field(default_factory=list)
    inconclusive: list[tuple[SuiteResult, MetricComparison]] = field(default_factory=list)
    """Blocking metrics that warn or fail the gate without being shown to regress
    (inconclusive, or nothing to compare)."""

    @property
    def blocking_regressions(self) -> list[tuple[SuiteResult, MetricComparison]]:
        return [(s, c) for s, c in self.regressions if c.blocking]

    would_run: list[SuiteResult] = field(default_factory=list)
    """A dry run's suites that a real run would evaluate (skipped, with the dry-run note)."""
    stopped: bool = False
    """The run ended in error before any suite result (git, a fetch, the endpoint)."""

    def phrases(self) -> list[str]:
        parts = []
        if self.regressions:
            text = plural(len(self.regressions), "regression")
            blocking = len(self.blocking_regressions)
            if blocking == 0:
                text += " (not blocking)"
            elif blocking < len(self.regressions):
                text += f" ({blocking} blocking)"
            parts.append(text)
        if self.crossed:
            parts.append(plural(len(self.crossed), "threshold crossed", "thresholds crossed"))
        if self.inconclusive:
            parts.append(f"{len(self.inconclusive)} inconclusive")
        if self.errored:
            parts.append(plural(len(self.errored), "suite errored", "suites errored"))
        if not parts and self.would_run:
            parts.append("dry run (no model call)")
        if not parts and self.stopped:
            parts.append("evaluation could not complete")
        if not parts:
            parts.append("no regressions" if self.evaluated else "nothing to evaluate")
        return parts

    def counts(self) -> str:
        if self.would_run and not self.evaluated:
            rest = len(self.skipped) - len(self.would_run)
            return f"{plural(len(self.would_run), 'suite')} would run, {rest} skipped"
        text = f"{plural(len(self.evaluated), 'suite')} evaluated"
        return f"{text}, {len(self.skipped)} skipped" if self.skipped else text


def tally(result: RunResult) -> Tally:
    t = Tally(stopped=result.verdict == "error")
    for suite in result.suites:
        if suite.status == SuiteStatus.SKIPPED:
            t.skipped.append(suite)
            if any(n.startswith(DRY_RUN_NOTE) for n in suite.notes):
                t.would_run.append(suite)
            continue
        if suite.status == SuiteStatus.ERROR or suite.gate == GateStatus.ERROR:
            t.errored.append(suite)
        if suite.status != SuiteStatus.ERROR:
            t.evaluated.append(suite)
        for c in [*suite.comparisons, *extra_rows(suite)]:
            if _regressed(c):
                t.regressions.append((suite, c))
            elif c.gate in (GateStatus.FAIL, GateStatus.WARN):
                t.inconclusive.append((suite, c))
        t.crossed.extend((suite, a) for a in suite.absolute if not a.passed)
    return t


def _regressed(c: MetricComparison) -> bool:
    return c.verdict == Verdict.REGRESSED and c.gate != GateStatus.ERROR


def regressed_rows(result: RunResult) -> list[tuple[SuiteResult, MetricComparison]]:
    """The regressions of a run: metric rows whose verdict is ``regressed`` (the table's ❌ and
    🔻 rows), in every suite that was evaluated. The headline, the ``regressions`` output and
    the check title all count these."""
    return [
        (suite, c)
        for suite in result.suites
        if suite.status != SuiteStatus.SKIPPED
        for c in [*suite.comparisons, *extra_rows(suite)]
        if _regressed(c)
    ]


def _kind_of(suite: SuiteResult, metric: str) -> MetricKind | None:
    kinds = {m.name: m.kind for m in suite.metrics} | {v.metric: v.kind for v in suite.values}
    kinds |= {c.metric: c.kind for c in suite.comparisons}
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
        text = f"{t.phrases()[0]} in {_names(suites)}"
        first = (t.blocking_regressions or t.regressions)[0][1]
        text += f" ({_regression_detail(first)})"
        if t.crossed:
            text += f"; {plural(len(t.crossed), 'threshold')} crossed"
    elif t.crossed:
        suite, check = t.crossed[0]
        value, limit = absolute_text(suite, check)
        suites = [s for s, _ in t.crossed]
        text = f"{plural(len(t.crossed), 'threshold')} crossed in {_names(suites)}"
        text += f" ({check.metric} {value}, needs {limit})"
    elif not t.evaluated and t.would_run:
        text = f"Dry run: {t.counts()}"
    elif not t.evaluated:
        text = f"Nothing to evaluate ({len(t.skipped)} skipped)"
    else:
        text = f"No regressions: {t.counts()}"
        if t.inconclusive:
            text += f"; {len(t.inconclusive)} inconclusive"
    return _clip(plain(text, limit=1000), STATUS_DESCRIPTION_LIMIT)

"""The Markdown pieces of the comment and the job summary: suite sections, notes, flipped examples.

Every string that came from a model, a golden set, a file path or the PR's config goes through
``escape_cell`` (inline) or ``fenced`` (blocks); figures we computed ourselves do not need it.
"""

from __future__ import annotations

import json
import math

from evalbot.records import (
    Completion,
    GateStatus,
    MetricComparison,
    MetricKind,
    SideRun,
    SuiteResult,
    SuiteStatus,
)
from evalbot.report.escape import escape_cell, fenced
from evalbot.report.flaky import flaky_mark
from evalbot.report.formatting import (
    DASH,
    Unit,
    format_p,
    gate_marker,
    scale_for,
    unit_of,
    verdict_marker,
    verdict_word,
)
from evalbot.report.headline import absolute_text
from evalbot.report.rows import (
    METRIC_HEADERS,
    USAGE_HEADERS,
    metric_figures,
    show_mde,
    suite_notes,
    usage_figures,
)
from evalbot.report.values import values_block

__all__ = [
    "Examples",
    "bullets",
    "details",
    "suite_core",
    "suite_heading",
    "suite_notes_block",
    "table",
]


def table(headers: tuple[str, ...] | list[str], rows: list[list[str]]) -> str:
    from tabulate import tabulate  # (loaded when a table is drawn: a no-op PR's report has none)

    # disable_numparse: tabulate would otherwise reformat cells such as "1e5" or "007".
    return tabulate(rows, headers=list(headers), tablefmt="github", disable_numparse=True)


def bullets(items: list[str], *, limit: int = 500) -> str:
    return "\n".join(f"- {escape_cell(item, limit=limit)}" for item in items)


def _verdict_cell(c: MetricComparison) -> str:
    word = verdict_word(c)
    if c.gate == GateStatus.FAIL:
        head, _, rest = word.partition(" ")
        word = f"**{head}** {rest}".rstrip()
    return f"{verdict_marker(c)} {word}"


def _metric_table(suite: SuiteResult) -> str:
    mde = show_mde(suite)
    headers = list(METRIC_HEADERS if mde else METRIC_HEADERS[:-1])
    rows = []
    for c in suite.comparisons:
        f = metric_figures(c)
        row = [escape_cell(c.metric, limit=60), f.base, f.head, f.delta, f.ci, f.p]
        row += [_verdict_cell(c), f.n] + ([f.mde] if mde else [])
        rows.append(row)
    return table(headers, rows)


def _method(c: MetricComparison) -> str:
    parts = [escape_cell(c.test or "test", limit=60)]
    if c.samples > 1:
        parts.append(f"{c.samples} samples averaged per example")
    if c.clusters is not None:
        parts.append(f"{c.clusters:,} clusters")
    return ", ".join(parts)


def _test_note(c: MetricComparison) -> str:
    parts = []
    if c.n_discordant is not None:
        parts.append(f"{c.n_discordant:,} discordant")
    if c.blocking:
        p = c.p_adjusted if c.p_adjusted is not None else c.p_value
        adjusted = ", Holm-adjusted" if c.p_adjusted is not None else ""
        parts.append(f"gate p {format_p(p)} (one-sided{adjusted})")
        scale = scale_for(unit_of(c.metric, c.kind), [c.base_mean, c.head_mean])
        parts.append(f"margin {scale.magnitude(c.max_drop)}")
    return f"{escape_cell(c.metric, limit=60)}: {', '.join(parts)}" if parts else ""


def _tests_footnote(suite: SuiteResult) -> str:
    # One line per distinct method (usually one for the whole table), then the gate figures.
    methods: dict[str, list[str]] = {}
    for c in suite.comparisons:
        methods.setdefault(_method(c), []).append(escape_cell(c.metric, limit=60))
    if len(methods) == 1:
        notes = [f"Test: {next(iter(methods))}"]
    else:
        notes = [f"{', '.join(names)}: {method}" for method, names in methods.items()]
    notes += [n for n in (_test_note(c) for c in suite.comparisons) if n]
    confidence = suite.comparisons[0].confidence
    notes.append(
        f"CI: {confidence:.0%} two-sided, Δ = head − base, each end the one-sided bound of the "
        "test that decides; p: two-sided, for Δ = 0; the verdict of a blocking metric follows "
        "its gate p; MDE: the drop this run flags as beyond max_drop with 80 % power"
    )
    return f"<sub>{' · '.join(notes)}</sub>"


def _absolute_table(suite: SuiteResult) -> str:
    rows = []
    for check in suite.absolute:
        value, limit = absolute_text(suite, check)
        result = "✅ pass" if check.passed else "❌ **fail**"
        if check.note:
            result += f" ({escape_cell(check.note, limit=120)})"
        rows.append([escape_cell(check.metric, limit=60), limit, value, result])
    return table(["Threshold", "Limit", "Head", "Result"], rows)


def _usage_table(suite: SuiteResult) -> str:
    rows = []
    for run in (suite.base, suite.head):
        if run is None:
            continue
        u = usage_figures(run)
        model = escape_cell(u.model, limit=60)
        figures = [u.calls, u.errors, u.tokens, u.cost, u.latency, u.judge_tokens, u.judge_cost]
        rows.append([u.side, model, *figures])
    return table(USAGE_HEADERS, rows)


def suite_heading(suite: SuiteResult, *, single: bool = False) -> str:
    """``single``: ``evalbot run`` (one revision), where no suite is "new"."""
    status = "error" if suite.status == SuiteStatus.ERROR else str(suite.gate)
    new = " (new suite)" if suite.status == SuiteStatus.NEW and not single else ""
    return f"#### {gate_marker(suite)} {escape_cell(suite.name, limit=100)}: {status}{new}"


def _triggers(suite: SuiteResult, cap: int) -> str:
    shown = [escape_cell(t, limit=150) for t in suite.triggers[:cap]]
    more = len(suite.triggers) - len(shown)
    if more > 0:
        shown.append(f"and {more:,} more")
    return f"<sub>Triggered by: {', '.join(shown)}</sub>"


def suite_core(suite: SuiteResult, *, trigger_cap: int, single: bool = False) -> str:
    """What is never trimmed: heading, triggers, tables, and an errored suite's reason.
    ``single``: ``evalbot run``, whose suites all run ("--all, new suite" says nothing)."""
    parts = [suite_heading(suite, single=single)]
    if suite.triggers and not single:
        parts.append(_triggers(suite, trigger_cap))
    if suite.status == SuiteStatus.ERROR and suite.notes:
        parts.append(bullets(suite.notes))
    if suite.comparisons:
        parts += [_metric_table(suite), _tests_footnote(suite)]
    parts += values_block(suite)  # no base side: each value with its interval
    if suite.absolute:
        parts += ["**Thresholds**", _absolute_table(suite)]
    if suite.base is not None or suite.head is not None:
        parts += ["**Usage**", _usage_table(suite)]
    return "\n\n".join(parts)


def suite_notes_block(suite: SuiteResult) -> str:
    notes = suite_notes(suite)
    if suite.status == SuiteStatus.ERROR:
        notes = [n for n in notes if n not in suite.notes]  # already in the core
    return f"**Notes**\n\n{bullets(notes)}" if notes else ""


# --- flipped examples -------------------------------------------------------------------------


def _score_text(value: float | None, unit: Unit, *, higher_is_better: bool = True) -> str:
    if value is None:
        return DASH
    if unit == Unit.PERCENT:
        # A 1 is a pass only where higher is better; for `error` a 1 means the call failed.
        words = {1.0: "pass", 0.0: "fail"} if higher_is_better else {1.0: "yes", 0.0: "no"}
        return words.get(value, f"{value:.0%}")
    return scale_for(unit, [value]).value(value)


def _mean(row: list[float | None]) -> float | None:
    values = [v for v in row if v is not None and math.isfinite(v)]
    return sum(values) / len(values) if values else None


class Examples:
    """Renders a suite's flipped examples: scores on both sides, the input, both outputs
    (sample 1). The parts that do not depend on the output length are computed once, because the
    comment is fitted by rendering the same examples at several lengths."""

    def __init__(self, suite: SuiteResult) -> None:
        self.suite = suite
        self.sides = [run for run in (suite.base, suite.head) if run is not None]
        self.index = {run.side: {e: i for i, e in enumerate(run.example_ids)} for run in self.sides}
        kinds: dict[str, MetricKind] = {m.name: m.kind for m in suite.metrics}
        self.higher_is_better = {m.name: m.higher_is_better for m in suite.metrics}
        self.higher_is_better.update({c.metric: c.higher_is_better for c in suite.comparisons})
        kinds.update({c.metric: c.kind for c in suite.comparisons})
        names = [c.metric for c in suite.comparisons] + [m.name for m in suite.metrics]
        names += [name for run in self.sides for name in run.scores]
        self.metrics = [(name, unit_of(name, kinds.get(name))) for name in dict.fromkeys(names)]
        self._heads: dict[str, str] = {}

    def _score(self, run: SideRun | None, metric: str, eid: str) -> float | None:
        if run is None or metric not in run.scores:
            return None
        i = self.index[run.side].get(eid)
        rows = run.scores[metric]
        return _mean(rows[i]) if i is not None and i < len(rows) else None

    def _head(self, eid: str, number: int) -> str:
        key = f"{number}\0{eid}"
        if key not in self._heads:
            rows = []
            for metric, unit in self.metrics:
                values = [
                    self._score(run, metric, eid) for run in (self.suite.base, self.suite.head)
                ]
                if any(v is not None for v in values):
                    better = self.higher_is_better.get(metric, True)
                    rows.append(
                        [escape_cell(metric, limit=60)]
                        + [_score_text(v, unit, higher_is_better=better) for v in values]
                    )
            head = f"**{number}. {escape_cell(eid, limit=100)}**{flaky_mark(self.suite, eid)}"
            if rows:
                head += "\n\n" + table(["Metric", "Base", "Head"], rows)
            self._heads[key] = head
        return self._heads[key]

    def _output(self, run: SideRun, eid: str, chars: int) -> str:
        label = f"**{run.side.capitalize()} output**"
        if self.suite.samples > 1:
            label += f" (sample 1 of {self.suite.samples})"
        i = self.index[run.side].get(eid)
        completion: Completion | None = None
        if i is not None and i < len(run.outputs) and run.outputs[i]:
            completion = run.outputs[i][0]
        elif i is not None and len(run.outputs) != len(run.example_ids):
            # Results read back without their outputs file: the first samples of the flipped
            # examples were read from it, or it could not be (a note says why).
            completion = self.suite.flipped_outputs.get(run.side, {}).get(eid)
            if completion is None:
                return f"{label}: not shown here (it is in the results' outputs.jsonl.gz)"
        if completion is None:
            return f"{label}: not run on this side"
        if completion.ok:
            return f"{label}\n\n{fenced(completion.text, limit=chars, wrap=100)}"
        return f"{label}: error\n\n{fenced(completion.error or 'no output', limit=chars)}"

    def block(self, eid: str, number: int, *, chars: int) -> str:
        """One example, each input and output cut to ``chars`` characters."""
        parts = [self._head(eid, number)]
        inputs = dict(self.suite.flipped_inputs.get(eid) or {})
        if inputs.get("expected", "") is None:
            del inputs["expected"]  # the pipeline adds the key even when the example has none
        if inputs:
            text = json.dumps(inputs, indent=2, ensure_ascii=False, default=str)
            parts.append(f"**Input**\n\n{fenced(text, limit=chars)}")
        parts += [self._output(run, eid, chars) for run in self.sides]
        return "\n\n".join(parts)

    def blocks(self, *, chars: int) -> list[str]:
        return [self.block(eid, n, chars=chars) for n, eid in enumerate(self.suite.flipped, 1)]


def details(summary: str, blocks: list[str]) -> str:
    """A collapsed section; GitHub needs the blank line after ``<summary>`` to render Markdown."""
    body = "\n\n".join(blocks)
    return f"<details><summary>{summary}</summary>\n\n{body}\n\n</details>"

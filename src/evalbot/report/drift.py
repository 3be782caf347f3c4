"""The comment's "since the baseline" section: head against the pinned ``gate.baseline``."""

from __future__ import annotations

from evalbot.records import GateStatus, SuiteResult
from evalbot.report.escape import escape_cell, plain
from evalbot.report.formatting import scale_for, unit_of, verdict_marker
from evalbot.report.markdown import bullets, table
from evalbot.report.rows import metric_figures

__all__ = ["drift_lines", "drift_section"]

HEADERS = ("Metric", "Baseline", "Head", "Δ since baseline", "CI", "Budget", "Verdict", "n")


def drift_section(suite: SuiteResult) -> str:
    """A table of head − baseline per budgeted metric, or the note saying why there is none."""
    drift = suite.drift
    if drift is None:
        return ""
    rev = escape_cell(drift.baseline_rev, limit=60)
    title = f"**Since the baseline `{rev}`** ({drift.baseline_sha[:7]}, drift budget)"
    parts = [title]
    rows = []
    for c in drift.comparisons:
        f = metric_figures(c)
        scale = scale_for(unit_of(c.metric, c.kind), [c.base_mean, c.head_mean])
        word = str(c.verdict)
        if c.gate == GateStatus.FAIL:
            word = f"**{word}** (over budget)"
        verdict = f"{verdict_marker(c)} {word}"
        budget = f"max_total_drop {scale.magnitude(c.max_drop)}"
        rows.append(
            [escape_cell(c.metric, limit=60), f.base, f.head, f.delta, f.ci, budget, verdict, f.n]
        )
    if rows:
        parts.append(table(HEADERS, rows))
        parts.append(
            "<sub>Same test and interval as the table above, with the baseline as the base side "
            "and max_total_drop as the margin; an inconclusive drift comparison warns.</sub>"
        )
    if drift.notes:
        parts.append(bullets(drift.notes))
    return "\n\n".join(parts)


def drift_lines(suite: SuiteResult) -> list[str]:
    """The terminal's lines for the drift comparison (plain text)."""
    drift = suite.drift
    if drift is None:
        return []
    lines = [f"  since baseline {plain(drift.baseline_rev, limit=60)} ({drift.baseline_sha[:7]}):"]
    for c in drift.comparisons:
        f = metric_figures(c)
        scale = scale_for(unit_of(c.metric, c.kind), [c.base_mean, c.head_mean])
        fail = " FAIL" if c.gate == GateStatus.FAIL else ""
        lines.append(
            f"    {plain(c.metric, limit=60)} {f.base} -> {f.head} ({f.delta}, CI {f.ci}, "
            f"max_total_drop {scale.magnitude(c.max_drop)}): {c.verdict}{fail}"
        )
    lines += [f"    note: {plain(n, limit=300)}" for n in drift.notes]
    return lines

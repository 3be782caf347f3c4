"""report.html's slice and drift sections: the comment's "Slices" and "Since the baseline"
tables (``report/slices.py``, ``report/drift.py``), as markup.

The page's escaping and table helpers are passed in (``html.py`` owns them), so every text that
came from the run (slice names, metric names, revisions, notes) goes through the page's ``esc``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from evalbot.records import GateStatus, SuiteResult
from evalbot.report import drift as drift_comment
from evalbot.report import slices as slices_comment
from evalbot.report.formatting import format_p, scale_for, unit_of, verdict_marker
from evalbot.report.rows import metric_figures

__all__ = ["drift_html", "slices_html"]

Escape = Callable[[object], str]
Table = Callable[[Iterable[str], list[list[str]], str], str]


def slices_html(suite: SuiteResult, esc: Escape, table: Table) -> str:
    """Each blocking metric per slice of the golden set, worst first (as in the comment)."""
    if not suite.slices:
        return ""
    rows = []
    for s in suite.slices[: slices_comment.MAX_ROWS]:
        c, f = s.comparison, metric_figures(s.comparison)
        marker, word, emphasised = slices_comment.slice_verdict(s)
        verdict = esc(f"{marker} {word}")
        if emphasised or c.gate == GateStatus.FAIL:
            verdict = f"<strong>{verdict}</strong>"
        cells = [esc(x) for x in (s.slice, c.metric, f.n, f.base, f.head, f.delta, f.ci)]
        rows.append([*cells, esc(format_p(c.p_adjusted)), verdict])
    flagged = sum(1 for s in suite.slices if s.flagged)
    more = len(suite.slices) - slices_comment.MAX_ROWS
    tail = f'<p class="caption">… and {more:,} more slice rows in results.json</p>' * (more > 0)
    return (
        f"<div><h3>Slices: {flagged} flagged of {len(suite.slices)} (worst first)</h3>"
        + table(slices_comment.HEADERS, rows, "verdicts")
        + tail
        + '<p class="caption">Per slice of the golden set, worst first; same test and margin as '
        "the suite (or the metric@slice threshold's); p: one-sided, Holm-adjusted over the "
        "metric's slices.</p></div>"
    )


def drift_html(suite: SuiteResult, esc: Escape, table: Table) -> str:
    """Head against the pinned ``gate.baseline``, per budgeted metric, and its notes."""
    drift = suite.drift
    if drift is None:
        return ""
    rows = []
    for c in drift.comparisons:
        f = metric_figures(c)
        scale = scale_for(unit_of(c.metric, c.kind), [c.base_mean, c.head_mean])
        verdict = esc(f"{verdict_marker(c)} {c.verdict}")
        if c.gate == GateStatus.FAIL:
            verdict = f"<strong>{verdict} (over budget)</strong>"
        budget = f"max_total_drop {scale.magnitude(c.max_drop)}"
        cells = [esc(x) for x in (c.metric, f.base, f.head, f.delta, f.ci, budget)]
        rows.append([*cells, verdict, esc(f.n)])
    parts = [
        f"<div><h3>Since the baseline {esc(drift.baseline_rev)} "
        f"({esc(drift.baseline_sha[:7])}, drift budget)</h3>"
    ]
    if rows:
        parts.append(table(drift_comment.HEADERS, rows, "verdicts"))
    if drift.notes:
        parts.append('<ul class="notes">' + "".join(f"<li>{esc(n)}</li>" for n in drift.notes))
        parts.append("</ul>")
    parts.append("</div>")
    return "".join(parts)

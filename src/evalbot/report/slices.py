"""The comment's slice table: each blocking metric per slice of the golden set, worst first."""

from __future__ import annotations

from evalbot.records import GateStatus, SliceResult, SuiteResult
from evalbot.report.escape import escape_cell
from evalbot.report.formatting import format_p, verdict_marker
from evalbot.report.markdown import details, table
from evalbot.report.rows import metric_figures

__all__ = ["slice_section", "slice_verdict"]

HEADERS = ("Slice", "Metric", "n", "Base", "Head", "Δ", "CI", "p (Holm)", "Verdict")
OPEN_ROWS = 6
"""Up to this many rows the table is shown open; more go in a collapsed section."""
MAX_ROWS = 50


def slice_verdict(s: SliceResult) -> tuple[str, str, bool]:
    """(marker, word, emphasised) of one slice row, for the comment and report.html alike."""
    # A flagged slice says "beyond margin", not "regressed": the word "regressed" (and the
    # regression count) belongs to the suite's own table, so one drop is not counted per slice.
    c = s.comparison
    word = str(c.verdict)
    if s.flagged:
        word = "beyond margin" + (" (slice threshold)" if s.named else " (flagged)")
    elif s.named:
        word += " (slice threshold)"
    marker = "❌" if c.gate == GateStatus.FAIL else "⚠️" if s.flagged else verdict_marker(c)
    return marker, word, s.flagged


def _verdict(s: SliceResult) -> str:
    marker, word, emphasised = slice_verdict(s)
    if emphasised:  # the emphasis covers "beyond margin", not the parenthesis after it
        head, sep, tail = word.partition(" (")
        word = f"**{head}**{sep}{tail}"
    return f"{marker} {word}"


def slice_section(suite: SuiteResult) -> str:
    if not suite.slices:
        return ""
    rows = []
    for s in suite.slices[:MAX_ROWS]:
        c = s.comparison
        f = metric_figures(c)
        rows.append(
            [
                escape_cell(s.slice, limit=60),
                escape_cell(c.metric, limit=60),
                f.n,
                f.base,
                f.head,
                f.delta,
                f.ci,
                format_p(c.p_adjusted),
                _verdict(s),
            ]
        )
    flagged = sum(1 for s in suite.slices if s.flagged)
    body = [table(HEADERS, rows)]
    if len(suite.slices) > MAX_ROWS:
        body.append(f"… and {len(suite.slices) - MAX_ROWS:,} more slice rows in results.json")
    body.append(
        "<sub>Per slice of the golden set (rows' `tags` / `slice`), worst first. Same test and "
        "margin as the suite (or the `metric@slice` threshold's); p: one-sided regression p, "
        "Holm-adjusted over the metric's slices. A flagged slice makes the suite warn; a slice "
        "named by a threshold fails it.</sub>"
    )
    title = f"Slices: {flagged} flagged of {len(suite.slices)} (worst first)"
    if len(rows) <= OPEN_ROWS:
        return "\n\n".join([f"**{title}**", *body])
    return details(title, body)

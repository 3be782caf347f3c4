"""The head-only table of the comment: each metric's value with its interval, for ``evalbot run``
and for a suite that has no base side (``diff`` of a new suite)."""

from __future__ import annotations

from evalbot.records import SuiteResult
from evalbot.report.escape import escape_cell
from evalbot.report.rows import VALUE_HEADERS, value_figures, values_footnote

__all__ = ["values_block"]


def values_block(suite: SuiteResult) -> list[str]:
    """[table, footnote], or [] when the suite has paired comparisons instead."""
    if not suite.values:
        return []
    from tabulate import tabulate  # (loaded when a table is drawn: a no-op PR's report has none)

    rows = []
    for v in suite.values:
        f = value_figures(v)
        rows.append([escape_cell(v.metric, limit=60), f.value, f.ci, f.n])
    table = tabulate(rows, headers=list(VALUE_HEADERS), tablefmt="github", disable_numparse=True)
    return [table, f"<sub>{values_footnote(suite.values)}</sub>"]

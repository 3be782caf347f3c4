"""The comment's trend line: each metric's last values on main as a sparkline, this PR's head
marked after ``▸``, and a link to the SVG trend chart on the data branch."""

from __future__ import annotations

import re

from evalbot.records import SuiteResult
from evalbot.report.escape import escape_cell
from evalbot.report.formatting import plural, scale_for, unit_of
from evalbot.report.markdown import table

__all__ = ["trend_section"]


def _chart(where: str | None) -> str:
    if not where:
        return "—"
    # Built from the runner's GITHUB_SERVER_URL / GITHUB_REPOSITORY and names limited to
    # [A-Za-z0-9_.-]: anything else is shown as text, never as a link.
    if len(where) < 400 and re.fullmatch(r"https://[A-Za-z0-9._/:-]+", where):
        return f"[SVG]({where})"
    if len(where) < 400 and re.fullmatch(r"[A-Za-z0-9._/:-]+", where):
        return f"`{where}`"  # a code span shows it as is (escapes would show)
    return escape_cell(where, limit=200)


def trend_section(suite: SuiteResult) -> str:
    from evalbot.history.trend import sparkline

    if not suite.trends:
        return ""
    kinds = {m.name: m.kind for m in suite.metrics}
    blocking = {c.metric for c in suite.comparisons if c.blocking}
    order = sorted(suite.trends, key=lambda t: (t.metric not in blocking, t.metric))
    rows = []
    for trend in order:
        scale = scale_for(unit_of(trend.metric, kinds.get(trend.metric)), [*trend.values])
        spark = sparkline(trend.values, trend.head)
        rows.append(
            [
                escape_cell(trend.metric, limit=60),
                f"`{spark}`",
                scale.value(trend.values[-1]) if trend.values else "—",
                scale.value(trend.head),
                _chart(trend.chart),
            ]
        )
    runs = max(len(t.values) for t in suite.trends)
    return "\n\n".join(
        [
            f"**Trend on main** (last {plural(runs, 'run')}, ▸ this PR's head)",
            table(["Metric", "Main → this PR", "Main (latest)", "This PR", "Chart"], rows),
        ]
    )

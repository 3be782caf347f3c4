"""The comment's trend line: each metric's last values on main as a sparkline, this PR's head
marked after ``▸``, and a link to the SVG trend chart on the data branch."""

from __future__ import annotations

import re

from evalbot.records import SuiteResult
from evalbot.report.escape import escape_cell
from evalbot.report.formatting import plural, scale_for, unit_of
from evalbot.report.markdown import table

__all__ = ["trend_section"]


def _link(where: str | None) -> str | None:
    """A Markdown link to the chart, only for URLs built from the runner's GITHUB_SERVER_URL /
    GITHUB_REPOSITORY and names limited to [A-Za-z0-9_.-]; anything else is not linked."""
    if where and len(where) < 400 and re.fullmatch(r"https://[A-Za-z0-9._/:-]+", where):
        return f"[SVG]({where})"
    return None


def _where(suite: SuiteResult) -> str:
    """Where the charts are when there is no URL (the CLI): one line under the table."""
    sample = next((t.chart for t in suite.trends if t.chart), None)
    if not sample or _link(sample):
        return ""
    folder = sample.rsplit("/", 1)[0]
    if len(folder) < 300 and re.fullmatch(r"[A-Za-z0-9._/:-]+", folder):
        return f"<sub>SVG trend charts: `{folder}/METRIC.svg` on the data branch</sub>"
    return ""


def trend_section(suite: SuiteResult) -> str:
    from evalbot.history.trend import sparkline

    if not suite.trends:
        return ""
    kinds = {m.name: m.kind for m in suite.metrics}
    blocking = {c.metric for c in suite.comparisons if c.blocking}
    order = sorted(suite.trends, key=lambda t: (t.metric not in blocking, t.metric))
    links = any(_link(t.chart) for t in suite.trends)
    rows = []
    for trend in order:
        scale = scale_for(unit_of(trend.metric, kinds.get(trend.metric)), [*trend.values])
        # No code span (monospace fonts often lack the block glyphs) and a no-break space
        # before the head's mark, so a narrow cell never wraps it onto its own line.
        spark = sparkline(trend.values, trend.head).replace(" ▸", "\u00a0▸")
        row = [
            escape_cell(trend.metric, limit=60),
            spark,
            scale.value(trend.values[-1]) if trend.values else "—",
            scale.value(trend.head),
        ]
        rows.append(row + ([_link(trend.chart) or "—"] if links else []))
    runs = max(len(t.values) for t in suite.trends)
    headers = ["Metric", "Main → this PR", "Main (latest)", "This PR"]
    parts = [
        f"**Trend on main** (last {plural(runs, 'run')}, ▸ this PR's head)",
        table(headers + (["Chart"] if links else []), rows),
    ]
    return "\n\n".join(p for p in [*parts, _where(suite)] if p)

"""What a run sent and what it saved: requests by source (sent, cache hits per side, left out by
an early stop), and what the fixed design (every example) would have cost.

The footer of the comment keeps the money already spent ("… spent this run") and the cost of the
evaluated calls; this block adds the counts behind them and the early stop's savings.
"""

from __future__ import annotations

from evalbot.records import RunResult, SuiteStatus
from evalbot.report.escape import escape_cell
from evalbot.report.formatting import usd_total

__all__ = ["spend_lines", "spend_section"]


def spend_lines(result: RunResult) -> list[str]:
    """Plain lines (no Markdown): one per sequential suite, then one on requests and cost."""
    suites = [s for s in result.suites if s.status != SuiteStatus.SKIPPED]
    lines: list[str] = []
    saved = 0
    saved_usd = 0.0
    for suite in suites:
        record = suite.sequential
        if record is None:
            continue
        what = "groups" if record.unit == "group" else "examples"
        counts = f"{record.units_evaluated:,} of {record.units_total:,} {what}"
        verb = "stopped after" if record.stopped_early else "evaluated all"
        lines.append(f"{suite.name}: {verb} {counts} ({record.reason})")
        saved += record.requests_saved
        saved_usd += record.cost_saved_usd
    usage, judge = result.usage, result.judge_usage
    if not (usage.requests or judge.requests):
        return lines
    hits = {"base": 0, "head": 0}
    for suite in suites:
        for side in (suite.base, suite.head):
            if side is not None:
                hits[side.side] += side.usage.cache_hits + side.judge_usage.cache_hits
    parts = [f"requests: {usage.sent + judge.sent:,} sent"]
    cached = usage.cache_hits + judge.cache_hits
    parts.append(
        f"{cached:,} answered from the cache (base side {hits['base']:,}, head side "
        f"{hits['head']:,})"
    )
    if saved:
        text = f"{saved:,} requests saved by the early stop"
        evaluated = usage.cost_usd + judge.cost_usd
        if saved_usd > 0:  # unpriced models have no cost to speak of
            text += (
                f" (about {usd_total(saved_usd)}); the fixed design would have cost "
                f"{usd_total(evaluated + saved_usd)}"
            )
        parts.append(text)
    lines.append(" · ".join(parts))
    return lines


def spend_section(result: RunResult) -> str:
    """The comment's block: the early stops, then the request counts (empty when nothing ran)."""
    lines = spend_lines(result)
    if not lines:
        return ""
    shown = [escape_cell(line, limit=400) for line in lines]
    return "⏱️ " + "<br>\n".join(shown)

"""The CLI's summary: plain text, one table per suite, the verdict, where the files went."""

from __future__ import annotations

from pathlib import Path

from evalbot.records import GateStatus, MetricComparison, RunResult, SuiteResult, SuiteStatus
from evalbot.report.drift import drift_lines
from evalbot.report.escape import plain
from evalbot.report.formatting import DASH, usd_total
from evalbot.report.headline import absolute_text, tally
from evalbot.report.rows import (
    METRIC_HEADERS,
    VALUE_HEADERS,
    metric_figures,
    show_mde,
    suite_notes,
    usage_figures,
    value_figures,
    values_footnote,
)

__all__ = ["render_terminal"]

_RED, _GREEN, _YELLOW, _BOLD, _RESET = "\033[31m", "\033[32m", "\033[33m", "\033[1m", "\033[0m"
_COLORS = {
    "pass": _GREEN,
    "fail": _RED,
    "error": _RED,
    "warn": _YELLOW,
    "neutral": _YELLOW,
    "improved": _GREEN,
    "unchanged": _GREEN,
    "inconclusive": _YELLOW,
    "regressed": _RED,
}


def _paint(word: str, key: str, color: bool) -> str:
    code = _COLORS.get(key)
    return f"{code}{word}{_RESET}" if color and code else word


def _verdict(c: MetricComparison, color: bool) -> str:
    key = "error" if c.gate == GateStatus.ERROR else str(c.verdict)
    word = _paint(key, key, color)
    if c.gate == GateStatus.FAIL:
        word += " FAIL"
    elif c.gate == GateStatus.WARN:
        word += " warn"
    return word + (" (blocking)" if c.blocking else "")


def _suite(suite: SuiteResult, color: bool, *, single: bool = False) -> list[str]:
    """``single``: ``evalbot run`` (one revision): no triggers, no "new suite", no sides."""
    status = "error" if suite.status == SuiteStatus.ERROR else str(suite.gate)
    is_new = suite.status == SuiteStatus.NEW and not single
    new = " (new suite: absolute thresholds only)" if is_new else ""
    lines = [f"{plain(suite.name, limit=100)}: {_paint(status.upper(), status, color)}{new}"]
    if suite.triggers and not single:
        shown = ", ".join(plain(t, limit=120) for t in suite.triggers[:10])
        more = len(suite.triggers) - 10
        lines.append(f"  triggered by: {shown}" + (f" and {more} more" if more > 0 else ""))
    if suite.comparisons:
        from tabulate import tabulate  # (loaded when a table is drawn: a no-op PR's has none)

        mde = show_mde(suite)
        rows = []
        for c in suite.comparisons:
            f = metric_figures(c)
            row = [plain(c.metric, limit=60), f.base, f.head, f.delta, f.ci, f.p]
            rows.append([*row, _verdict(c, color), f.n] + ([f.mde] if mde else []))
        headers = list(METRIC_HEADERS if mde else METRIC_HEADERS[:-1])
        table = tabulate(rows, headers=headers, tablefmt="simple", disable_numparse=True)
        lines += ["", *("  " + line for line in table.splitlines()), ""]
    if suite.values:
        lines += _values_table(suite)
    for check in suite.absolute:
        value, limit = absolute_text(suite, check)
        ok = _paint("pass", "pass", color) if check.passed else _paint("FAIL", "fail", color)
        lines.append(f"  threshold {plain(check.metric, limit=60)} {limit}: {value} {ok}")
    for run in (suite.base, suite.head):
        if run is not None:
            u = usage_figures(run)
            side = "usage" if single else u.side
            line = (
                f"  {side}: {plain(u.model, limit=60)}, {u.calls} calls, {u.errors} errors, "
                f"tokens {u.tokens}, {u.cost}, latency p50/p95 {u.latency}"
            )
            if u.judge_tokens != DASH:
                line += f", judge {u.judge_tokens} tokens {u.judge_cost}"
            lines.append(line)
    lines += drift_lines(suite)
    notes = suite_notes(suite)
    if single:  # the headline already says it once for the run
        notes = [n for n in notes if "absolute thresholds only" not in n]
    lines += [f"  note: {plain(n, limit=300)}" for n in notes]
    return lines


def _values_table(suite: SuiteResult) -> list[str]:
    """The head-only table: each metric's value with its interval (no base to compare with)."""
    from tabulate import tabulate

    headers = list(VALUE_HEADERS)
    rows = []
    for v in suite.values:
        f = value_figures(v)
        rows.append([plain(v.metric, limit=60), f.value, f.ci, f.n])
    table = tabulate(rows, headers=headers, tablefmt="simple", disable_numparse=True)
    return [
        "",
        *("  " + line for line in table.splitlines()),
        f"  {values_footnote(suite.values)}",
        "",
    ]


def render_terminal(result: RunResult, *, color: bool = False, out_dir: Path | None = None) -> str:
    """A readable plain-text summary for the terminal (ANSI colours only when ``color``).

    ``out_dir``: where ``write_outputs`` put the files, to say so on the last line.
    """
    t = tally(result)
    verdict = _paint(result.verdict.upper(), result.verdict, color)
    head = f"evalbot: {verdict} - {', '.join(t.phrases())} - {t.counts()}"
    lines = [_BOLD + head + _RESET if color else head]
    if result.verdict == "error" and result.summary:
        lines.append(f"error: {plain(result.summary, limit=500)}")
    lines += [f"note: {plain(n, limit=300)}" for n in result.notes]
    u, j = result.usage, result.judge_usage
    if u.requests or j.requests:
        lines.append(
            f"cost: {usd_total(u.spent_usd + j.spent_usd)} spent this run "
            f"({u.sent + j.sent:,} calls sent); {usd_total(u.cost_usd + j.cost_usd)} cost of "
            f"the evaluated calls ({u.requests + j.requests:,}, cached ones included)"
        )
    for suite in result.suites:
        if suite.status != SuiteStatus.SKIPPED:
            lines += ["", *_suite(suite, color, single=result.command == "run")]
    # A dry run selects suites without evaluating them (pipeline.diff notes it on each, with
    # the planned calls and cost).
    would = t.would_run
    for suite in would:
        why = ", ".join(plain(x, limit=120) for x in suite.triggers[:10])
        more = len(suite.triggers) - 10
        why += f" and {more} more" if more > 0 else ""
        why = "" if result.command == "run" else f" (triggered by: {why})"
        lines += ["", f"would run: {plain(suite.name, limit=100)}{why}"]
        plans = [n for n in suite.notes if n.startswith(("Planned:", "No plan:"))]
        lines += [f"  {plain(n[0].lower() + n[1:], limit=500)}" for n in plans]
    unchanged = [s for s in t.skipped if s not in would]
    if unchanged:
        names = ", ".join(plain(s.name, limit=100) for s in unchanged)
        lines += ["", f"skipped: {names}"]
    if out_dir is not None:
        where = plain(str(out_dir), limit=500)
        lines += ["", f"results: {where}/results.json, comment.md, junit.xml"]
    return "\n".join(lines) + "\n"

"""``report.html``: one self-contained page for a results directory, browsable from the artifact.

The verdict table of every suite (the comment's rows and wording: ``rows`` and ``formatting``),
a forest plot of every metric's Δ with its interval and margin (``forest``), and every example's
base and head outputs side by side with a word diff and the per-example scores, filtered by a
few lines of script (all, flipped, failed; a search box).

Everything that came from results.json (outputs, example ids, suite and metric names, notes) is
untrusted: it goes through ``esc`` (HTML-escaped, control and bidi characters dropped) and only
ever into text or quoted attributes; the script never writes markup (no ``innerHTML``). The page
carries a Content-Security-Policy that allows no network fetch at all, inline styles, and only
its own script (by hash), so a model output such as ``<script>`` is inert twice over.

Size: each output is cut to ``MAX_OUTPUT_CHARS`` and each suite shows at most
``MAX_EXAMPLES`` examples (flipped first, then failed, then the rest in golden-set order), each
cut said on the page; results.json keeps everything.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import math
import os
import re
import sys
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

from evalbot.errors import UserError
from evalbot.fsio import write_atomic
from evalbot.records import Completion, GateStatus, RunResult, SideRun, SuiteResult, SuiteStatus
from evalbot.report.forest import TONES, forest_svg, tone
from evalbot.report.formatting import (
    DASH,
    Unit,
    gate_marker,
    scale_for,
    unit_of,
    usd_total,
    verdict_marker,
    verdict_word,
)
from evalbot.report.headline import absolute_text, short_description, tally
from evalbot.report.html_sections import drift_html, slices_html
from evalbot.report.rows import (
    METRIC_HEADERS,
    USAGE_HEADERS,
    VALUE_HEADERS,
    metric_figures,
    show_mde,
    suite_notes,
    usage_figures,
    value_figures,
    values_footnote,
)

__all__ = [
    "MAX_EXAMPLES",
    "MAX_OUTPUT_CHARS",
    "REPORT_NAME",
    "ExampleRow",
    "esc",
    "example_rows",
    "load_example_rows",
    "load_results",
    "render_html",
    "report_command",
    "word_diff",
    "write_html",
]

REPORT_NAME = "report.html"
MAX_OUTPUT_CHARS = 2_000
"""Characters of each output shown (results.json has all of it)."""
MAX_EXAMPLES = 1_000
"""Examples shown per suite: at most ~2 × 1,000 × 2,000 characters of output text per suite,
a few MB of HTML, however large the golden set."""
OUTPUTS_JSONL = "outputs.jsonl.gz"
"""Per-example outputs next to results.json (format 2; ``evalbot.report.results_io``)."""

_UNSAFE = re.compile(
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
# A word ("we'll" is one) with the spaces after it, a punctuation mark with its spaces, or
# leading spaces: the diff marks whole words.
_TOKEN = re.compile(r"\w+(?:['’]\w+)*\s*|[^\w\s]\s*|\s+")
POPULAR = 8
"""A token more frequent than this in the head text cannot start a match (it can still extend
one): without it ``SequenceMatcher`` takes minutes on an output such as 2,000 "!"."""


def esc(text: object) -> str:
    """Untrusted text → inert HTML text or attribute value (quotes escaped too), without
    control or bidi-override characters ("Trojan source") and with one kind of line break."""
    raw = str(text).replace("\r\n", "\n").replace("\r", "\n")
    return html.escape(_UNSAFE.sub("", raw), quote=True)


# --- per-example data ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ExampleRow:
    """One example of one suite, as the report shows it: sample 1 of each side."""

    suite: str
    example_id: str
    base: Completion | None
    head: Completion | None
    scores: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)
    """Per metric, the mean over samples on (base, head); None where there is none."""
    flipped: bool = False
    failed: bool = False
    """A model call failed on either side (any sample)."""
    inputs: dict[str, Any] | None = None


def _mean(values: Iterable[float | None]) -> float | None:
    kept = [v for v in values if v is not None and math.isfinite(v)]
    return sum(kept) / len(kept) if kept else None


def _side_rows(run: SideRun | None) -> dict[str, tuple[list[Completion], dict[str, float | None]]]:
    if run is None:
        return {}
    rows: dict[str, tuple[list[Completion], dict[str, float | None]]] = {}
    for i, eid in enumerate(run.example_ids):
        outputs = run.outputs[i] if i < len(run.outputs) else []
        scores = {
            metric: _mean(values[i]) if i < len(values) else None
            for metric, values in run.scores.items()
        }
        rows[eid] = (outputs, scores)
    return rows


def _suite_rows(suite: SuiteResult) -> list[ExampleRow]:
    base, head = _side_rows(suite.base), _side_rows(suite.head)
    flipped = set(suite.flipped)
    ids = list(dict.fromkeys([*head, *base]))
    rows = []
    for eid in ids:
        b_out, b_scores = base.get(eid, ([], {}))
        h_out, h_scores = head.get(eid, ([], {}))
        metrics = dict.fromkeys([*b_scores, *h_scores])
        rows.append(
            ExampleRow(
                suite=suite.name,
                example_id=eid,
                base=b_out[0] if b_out else None,
                head=h_out[0] if h_out else None,
                scores={m: (b_scores.get(m), h_scores.get(m)) for m in metrics},
                flipped=eid in flipped,
                failed=any(c.error is not None for c in (*b_out, *h_out)),
                inputs=suite.flipped_inputs.get(eid),
            )
        )
    return rows


def example_rows(result: RunResult) -> list[ExampleRow]:
    """The examples of every evaluated suite, from the records in memory."""
    return [
        row
        for suite in result.suites
        if suite.status in (SuiteStatus.EVALUATED, SuiteStatus.NEW)
        for row in _suite_rows(suite)
    ]


def load_results(results_dir: Path) -> RunResult:
    """results.json of a results directory, with one clear line for each way it can be wrong
    (``results_io.load_results``: size-capped, parsed safely, validated)."""
    from evalbot.report import results_io

    return results_io.load_results(results_dir)


def load_example_rows(
    results_dir: Path, result: RunResult | None = None
) -> tuple[RunResult, list[ExampleRow]]:
    """The one place the report reads per-example data from a results directory.

    Through ``results_io``: outputs inline in results.json (format 1) or in the
    ``outputs.jsonl.gz`` next to it (format 2), checked against results.json. An outputs file
    that cannot be used is not an error for the page: the examples are then left out and the
    page says why.
    """
    from evalbot.report import results_io

    results_dir = Path(results_dir)
    result = result if result is not None else load_results(results_dir)
    try:
        result = results_io.hydrate(result, results_dir)
    except results_io.OutputsProblem as exc:
        note = f"Per-example outputs are in {OUTPUTS_JSONL}, which this page cannot read: {exc}"
        result = result.model_copy(update={"notes": [*result.notes, note]})
    return result, example_rows(result)


# --- rendering ----------------------------------------------------------------------------------


def word_diff(base: str, head: str) -> tuple[str, str]:
    """Both texts escaped, words only in base in ``<del>``, words only in head in ``<ins>``."""
    a, b = _TOKEN.findall(base), _TOKEN.findall(head)
    counts = Counter(b)
    matcher = SequenceMatcher(lambda token: counts[token] > POPULAR, a, b, autojunk=False)
    left: list[str] = []
    right: list[str] = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        old, new = "".join(a[i1:i2]), "".join(b[j1:j2])
        if op == "equal":
            left.append(esc(old))
            right.append(esc(new))
            continue
        left.append(_mark("del", old))
        right.append(_mark("ins", new))
    return "".join(left), "".join(right)


def _mark(tag: str, text: str) -> str:
    """``text`` escaped and marked, its trailing spaces left outside the mark."""
    words = text.rstrip()
    return f"<{tag}>{esc(words)}</{tag}>{esc(text[len(words) :])}" if words else esc(text)


def _cut(text: str) -> tuple[str, int]:
    return (text, 0) if len(text) <= MAX_OUTPUT_CHARS else (text[:MAX_OUTPUT_CHARS], len(text))


def _more(total: int) -> str:
    if not total:
        return ""
    return (
        f'<p class="cut">… {total - MAX_OUTPUT_CHARS:,} more characters '
        f"(the first {MAX_OUTPUT_CHARS:,} shown; results.json has all {total:,})</p>"
    )


def _outputs(row: ExampleRow, samples: int) -> str:
    texts = {}
    for side, completion in (("base", row.base), ("head", row.head)):
        texts[side] = completion.text if completion is not None and completion.ok else None
    base_text, base_total = _cut(texts["base"] or "")
    head_text, head_total = _cut(texts["head"] or "")
    if texts["base"] is not None and texts["head"] is not None:
        marked = dict(zip(("base", "head"), word_diff(base_text, head_text), strict=True))
    else:
        marked = {"base": esc(base_text), "head": esc(head_text)}
    totals = {"base": base_total, "head": head_total}
    label = f" · sample 1 of {samples}" if samples > 1 else ""
    cells = []
    for side, completion in (("base", row.base), ("head", row.head)):
        heading = f"<h4>{side.capitalize()}{label}</h4>"
        if completion is None:
            body = '<p class="none">not run on this side</p>'
        elif completion.ok:
            body = f"<pre>{marked[side]}</pre>{_more(totals[side])}"
        else:
            error, total = _cut(completion.error or "no output")
            body = f'<pre class="error">error: {esc(error)}</pre>{_more(total)}'
        cells.append(f'<div class="out {side}">{heading}{body}</div>')
    return f'<div class="cols">{"".join(cells)}</div>'


def _score_text(value: float | None, unit: Unit, higher_is_better: bool) -> str:
    if value is None:
        return DASH
    if unit == Unit.PERCENT:
        words = {1.0: "pass", 0.0: "fail"} if higher_is_better else {1.0: "yes", 0.0: "no"}
        return words.get(value, f"{value:.0%}")
    return scale_for(unit, [value]).value(value)


class _SuiteView:
    """What rendering a suite's examples needs to know about its metrics."""

    def __init__(self, suite: SuiteResult) -> None:
        self.suite = suite
        self.kinds = {m.name: m.kind for m in suite.metrics}
        self.kinds.update({c.metric: c.kind for c in suite.comparisons})
        self.better = {m.name: m.higher_is_better for m in suite.metrics}
        self.better.update({c.metric: c.higher_is_better for c in suite.comparisons})

    def scores(self, row: ExampleRow) -> str:
        if not row.scores:
            return ""
        head = "".join(f"<th>{esc(m)}</th>" for m in row.scores)
        cells: dict[str, list[str]] = {"base": [], "head": []}
        for metric, (base, head_value) in row.scores.items():
            unit = unit_of(metric, self.kinds.get(metric))
            better = self.better.get(metric, True)
            cells["base"].append(f"<td>{esc(_score_text(base, unit, better))}</td>")
            change = ""
            if base is not None and head_value is not None and not math.isclose(base, head_value):
                change = ' class="up"' if (head_value > base) == better else ' class="down"'
            cells["head"].append(f"<td{change}>{esc(_score_text(head_value, unit, better))}</td>")
        body = "".join(
            f"<tr><th>{side}</th>{''.join(cells[side])}</tr>"
            for side in ("base", "head")
            if (self.suite.base if side == "base" else self.suite.head) is not None
        )
        return f'<table class="scores"><tr><th></th>{head}</tr>{body}</table>'

    def example(self, row: ExampleRow) -> str:
        tags = []
        if row.flipped:
            tags.append('<span class="tag flip">flipped</span>')
        if row.failed:
            tags.append('<span class="tag fail">error</span>')
        parts = [
            f'<article class="ex" data-flipped="{row.flipped:d}" data-failed="{row.failed:d}">',
            f'<header><span class="eid">{esc(row.example_id)}</span>{"".join(tags)}</header>',
            self.scores(row),
        ]
        inputs = dict(row.inputs or {})
        if inputs.get("expected", "") is None:
            del inputs["expected"]
        if inputs:
            text, total = _cut(json.dumps(inputs, indent=2, ensure_ascii=False, default=str))
            parts.append(
                f"<details><summary>Input</summary><pre>{esc(text)}</pre>{_more(total)}</details>"
            )
        parts.append(_outputs(row, self.suite.samples))
        parts.append("</article>")
        return "".join(parts)


def _ordered(rows: list[ExampleRow], suite: SuiteResult) -> list[ExampleRow]:
    """Flipped first (worst first, as the suite lists them), then failed, then the rest."""
    rank = {eid: i for i, eid in enumerate(suite.flipped)}
    flipped = sorted((r for r in rows if r.flipped), key=lambda r: rank.get(r.example_id, 0))
    failed = [r for r in rows if r.failed and not r.flipped]
    rest = [r for r in rows if not r.flipped and not r.failed]
    return [*flipped, *failed, *rest]


def _table(headers: Iterable[str], rows: list[list[str]], cls: str = "") -> str:
    """Cells are markup already (escaped by the caller)."""
    th = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    attr = f' class="{cls}"' if cls else ""
    return f"<table{attr}><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _verdict_table(suite: SuiteResult) -> str:
    mde = show_mde(suite)
    headers = METRIC_HEADERS if mde else METRIC_HEADERS[:-1]
    rows = []
    for c in suite.comparisons:
        f = metric_figures(c)
        verdict = f"{verdict_marker(c)} {esc(verdict_word(c))}"
        verdict = f'<span class="v {tone(c)}">{verdict}</span>'
        if c.gate == GateStatus.FAIL:
            verdict = f"<strong>{verdict}</strong>"
        cells = [f'<span class="metric">{esc(c.metric)}</span>']
        cells += [esc(x) for x in (f.base, f.head, f.delta, f.ci, f.p)]
        cells += [verdict, esc(f.n)] + ([esc(f.mde)] if mde else [])
        rows.append(cells)
    return _table(headers, rows, "verdicts")


def _values_table(suite: SuiteResult) -> str:
    if not suite.values:
        return ""
    rows = []
    for v in suite.values:
        f = value_figures(v)
        rows.append(
            [f'<span class="metric">{esc(v.metric)}</span>', esc(f.value), esc(f.ci), esc(f.n)]
        )
    caption = f'<p class="caption">{esc(values_footnote(suite.values))}</p>'
    return _table(VALUE_HEADERS, rows, "verdicts") + caption


def _thresholds(suite: SuiteResult) -> str:
    if not suite.absolute:
        return ""
    rows = []
    for check in suite.absolute:
        value, limit = absolute_text(suite, check)
        result = "✅ pass" if check.passed else '<strong class="fail">❌ fail</strong>'
        if check.note:
            result += f" ({esc(check.note)})"
        rows.append([esc(check.metric), esc(limit), esc(value), result])
    return (
        "<div><h3>Thresholds</h3>"
        + _table(["Threshold", "Limit", "Head", "Result"], rows)
        + "</div>"
    )


def _usage(suite: SuiteResult) -> str:
    rows = []
    for run in (suite.base, suite.head):
        if run is not None:
            u = usage_figures(run)
            figures = [u.calls, u.errors, u.tokens, u.cost, u.latency, u.judge_tokens, u.judge_cost]
            rows.append([esc(x) for x in (u.side, u.model, *figures)])
    return f"<div><h3>Usage</h3>{_table(USAGE_HEADERS, rows, 'usage')}</div>" if rows else ""


def _suite_section(suite: SuiteResult) -> str:
    status = "error" if suite.status == SuiteStatus.ERROR else str(suite.gate)
    new = " (new suite)" if suite.status == SuiteStatus.NEW else ""
    parts = [
        f'<section class="suite"><h2>{gate_marker(suite)} {esc(suite.name)}: '
        f'<span class="status {esc(status)}">{esc(status)}</span>{esc(new)}</h2>'
    ]
    if suite.triggers:
        shown = ", ".join(esc(t) for t in suite.triggers[:20])
        more = len(suite.triggers) - 20
        shown += f" and {more:,} more" if more > 0 else ""
        parts.append(f'<p class="muted">Triggered by: {shown}</p>')
    if suite.comparisons:
        parts.append(_verdict_table(suite))
        confidence = suite.comparisons[0].confidence
        parts.append(
            f'<p class="caption">CI: {confidence:.0%} two-sided, Δ = head − base; p: two-sided, '
            "for Δ = 0; tests and gate p-values are in comment.md and results.json.</p>"
        )
        parts.append(f'<figure class="plot">{forest_svg(suite.comparisons, esc)}</figure>')
    parts.append(_values_table(suite))  # no base side: each value with its interval
    parts.append(drift_html(suite, esc, _table))
    parts.append(slices_html(suite, esc, _table))
    notes = suite_notes(suite)
    if notes:
        items = "".join(f"<li>{esc(n)}</li>" for n in notes)
        notes_html = f'<div class="grow"><h3>Notes</h3><ul class="notes">{items}</ul></div>'
    else:
        notes_html = ""
    parts.append(f'<div class="pair">{_thresholds(suite)}{notes_html}</div>')
    parts.append(_usage(suite))
    parts.append("</section>")
    return "".join(parts)


def _examples(result: RunResult, rows: list[ExampleRow]) -> tuple[str, dict[str, int]]:
    by_suite: dict[str, list[ExampleRow]] = {}
    for row in rows:
        by_suite.setdefault(row.suite, []).append(row)
    counts = {"all": 0, "flipped": 0, "failed": 0}
    parts = []
    for suite in result.suites:
        mine = by_suite.get(suite.name)
        if not mine:
            continue
        shown = _ordered(mine, suite)[:MAX_EXAMPLES]
        counts["all"] += len(shown)
        counts["flipped"] += sum(r.flipped for r in shown)
        counts["failed"] += sum(r.failed for r in shown)
        note = ""
        if len(mine) > len(shown):
            note = (
                f'<p class="cut">Showing {len(shown):,} of {len(mine):,} examples (at most '
                f"{MAX_EXAMPLES:,} per suite: flipped first, then failed, then the rest); "
                "results.json has them all.</p>"
            )
        view = _SuiteView(suite)
        body = "".join(view.example(r) for r in shown)
        parts.append(f'<section class="examples"><h3>{esc(suite.name)}</h3>{note}{body}</section>')
    return "".join(parts), counts


def _filters(counts: dict[str, int]) -> str:
    radios = "".join(
        f'<label><input type="radio" name="show" value="{key}"{" checked" if key == "all" else ""}>'
        f" {label} ({counts[key]:,})</label>"
        for key, label in (("all", "All"), ("flipped", "Flipped"), ("failed", "Failed (errors)"))
    )
    return (
        f'<div class="filters" role="group" aria-label="Filter examples">{radios}'
        '<input type="search" id="q" placeholder="Search ids and outputs" aria-label="Search">'
        '<output id="shown" aria-live="polite"></output></div>'
    )


# The only script on the page, allowed by its hash; it toggles ``hidden`` and sets textContent.
_SCRIPT = """
(function () {
  "use strict";
  var items = Array.prototype.slice.call(document.querySelectorAll("article.ex"));
  var lower = [];
  var search = document.getElementById("q");
  var shown = document.getElementById("shown");
  var radios = Array.prototype.slice.call(document.querySelectorAll("input[name=show]"));
  function apply() {
    var mode = "all";
    radios.forEach(function (r) { if (r.checked) { mode = r.value; } });
    var q = search.value.trim().toLowerCase();
    var n = 0;
    items.forEach(function (el, i) {
      if (q && lower[i] === undefined) { lower[i] = el.textContent.toLowerCase(); }
      var ok = (mode === "all" || el.getAttribute("data-" + mode) === "1") &&
        (!q || lower[i].indexOf(q) !== -1);
      el.hidden = !ok;
      if (ok) { n += 1; }
    });
    shown.textContent = n + " of " + items.length + " examples shown";
  }
  radios.forEach(function (r) { r.addEventListener("change", apply); });
  search.addEventListener("input", apply);
  apply();
})();
"""

_CSS = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; padding: 24px 28px 48px; color: #1f2328; background: #fff;
  font: 14px/1.5 -apple-system, BlinkMacSystemFont, "Segoe UI", "Noto Sans", Helvetica, Arial,
    sans-serif, "Apple Color Emoji", "Noto Color Emoji"; }
main { max-width: 1220px; margin: 0 auto; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 28px 0 6px; padding-bottom: 4px; border-bottom: 1px solid #d1d9e0; }
h3 { font-size: 15px; margin: 18px 0 6px; }
h4 { font-size: 12px; margin: 0 0 4px; color: #59636e; text-transform: uppercase;
  letter-spacing: .04em; }
.caption { color: #59636e; font-size: 12px; margin: -6px 0 4px; }
.muted, .meta { color: #59636e; margin: 2px 0; }
.verdict { display: inline-block; padding: 1px 10px; border-radius: 12px;
  font-weight: 600; margin-right: 10px; font-size: 16px; vertical-align: 2px; }
.verdict, .verdict.fail, .verdict.error { color: #fff; }
.verdict.pass { background: #1a7f37; } .verdict.fail, .verdict.error { background: #cf222e; }
.verdict.neutral { background: #6e7781; }
.status.fail, .status.error, .fail { color: #cf222e; } .status.warn { color: #9a6700; }
.status.pass { color: #1a7f37; }
table { border-collapse: collapse; margin: 6px 0 10px; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #d1d9e0; padding: 4px 9px; text-align: left; vertical-align: top; }
thead th { background: #f6f8fa; }
table.verdicts td:nth-child(n+2):nth-child(-n+6), table.verdicts td:nth-child(n+8) {
  text-align: right; white-space: nowrap; }
.metric { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 13px; }
.v.fail { color: #cf222e; } .v.worse { color: #bc4c00; } .v.warn { color: #9a6700; }
.v.improved { color: #1a7f37; } .v.unchanged { color: #0969da; } .v.na { color: #6e7781; }
figure.plot { margin: 6px 0 8px; overflow-x: auto; }
svg.forest text { font: 12px -apple-system, "Segoe UI", "Noto Sans", Helvetica, Arial, sans-serif; }
svg.forest text.metric { font: 12px ui-monospace, Menlo, Consolas, monospace; fill: #1f2328; }
svg.forest text.axis { fill: #59636e; font-size: 11px; }
svg.forest text.fig { font-variant-numeric: tabular-nums; }
svg.forest text.na { fill: #6e7781; font-style: italic; }
.pair { display: flex; gap: 28px; align-items: flex-start; } .pair .grow { flex: 1; }
ul.notes { margin: 4px 0; padding-left: 20px; color: #31363c; }
.filters { position: sticky; top: 0; z-index: 1; background: #f6f8fa; border: 1px solid #d1d9e0;
  border-radius: 6px; padding: 8px 12px; margin: 10px 0; display: flex; gap: 16px;
  align-items: center; flex-wrap: wrap; }
.filters input[type=search] { flex: 1; min-width: 200px; padding: 4px 8px;
  border: 1px solid #d1d9e0; border-radius: 6px; font: inherit; }
.filters output { color: #59636e; }
.legend { color: #59636e; margin: 4px 0; }
article.ex { border: 1px solid #d1d9e0; border-radius: 6px; margin: 10px 0; padding: 8px 12px; }
article.ex > header { display: flex; gap: 8px; align-items: center; margin-bottom: 6px; }
.eid { font-family: ui-monospace, Menlo, Consolas, monospace; font-weight: 600; }
.tag { font-size: 11px; padding: 0 7px; border-radius: 10px; border: 1px solid; }
.tag.flip { color: #9a6700; border-color: #d4a72c; background: #fff8c5; }
.tag.fail { color: #cf222e; border-color: #ff8182; background: #ffebe9; }
table.scores { font-size: 12px; margin: 0 0 8px; }
table.scores th, table.scores td { padding: 1px 7px; }
table.scores td.down { color: #cf222e; font-weight: 600; background: #ffebe9; }
table.scores td.up { color: #1a7f37; font-weight: 600; background: #dafbe1; }
.cols { display: grid; grid-template-columns: 1fr 1fr; gap: 12px; }
pre { margin: 0; padding: 8px 10px; background: #f6f8fa; border-radius: 6px; white-space: pre-wrap;
  overflow-wrap: anywhere; font: 12.5px/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas,
  monospace; }
pre.error { background: #ffebe9; color: #82071e; }
del { background: #ffcecb; color: #82071e; text-decoration: line-through; }
ins { background: #aceebb; color: #055d20; text-decoration: none; }
.cut { color: #9a6700; font-size: 12px; margin: 4px 0; }
.none { color: #6e7781; font-style: italic; margin: 0; }
details > summary { cursor: pointer; color: #59636e; margin-bottom: 4px; }
[hidden] { display: none !important; }
"""


def _csp() -> str:
    digest = base64.b64encode(hashlib.sha256(_SCRIPT.encode("utf-8")).digest()).decode()
    return (
        "default-src 'none'; style-src 'unsafe-inline'; "
        f"script-src 'sha256-{digest}'; img-src data:; base-uri 'none'; form-action 'none'"
    )


def _header(result: RunResult) -> str:
    t = tally(result)
    verdict = esc(result.verdict)
    head = f"{esc(result.head_rev or 'work tree')}"
    if result.head_sha:
        head += f" ({esc(result.head_sha[:12])})"
    revs = f"head {head}"
    if result.base_rev or result.base_sha:
        base = esc(result.base_rev or "")
        if result.merge_base or result.base_sha:
            base += f" ({esc((result.merge_base or result.base_sha or '')[:12])})"
        revs = f"base {base} → {revs}"
    u, j = result.usage, result.judge_usage
    cost = (
        f"{usd_total(u.spent_usd + j.spent_usd)} spent this run ({u.sent + j.sent:,} calls sent); "
        f"{usd_total(u.cost_usd + j.cost_usd)} cost of the evaluated calls"
    )
    lines = [
        "<header>",
        f'<h1><span class="verdict {verdict}">{verdict.upper()}</span>'
        f"{esc(short_description(result))}</h1>",
        f'<p class="meta">{esc(", ".join(t.phrases()))} · {esc(t.counts())}</p>',
        f'<p class="meta">{revs} · evalbot {esc(result.tool_version)} · '
        f"{esc(result.command)} · {esc(result.created_at)}</p>",
        f'<p class="meta">{esc(cost)}</p>',
    ]
    if result.verdict == "error" and result.summary:
        lines.append(f'<p class="fail">{esc(result.summary)}</p>')
    if result.notes:
        lines.append('<ul class="notes">' + "".join(f"<li>{esc(n)}</li>" for n in result.notes))
        lines.append("</ul>")
    lines.append("</header>")
    return "".join(lines)


def render_html(result: RunResult, rows: list[ExampleRow] | None = None) -> str:
    """The whole page. ``rows`` default to the examples held in ``result``."""
    rows = example_rows(result) if rows is None else rows
    sections = [_suite_section(s) for s in result.suites if s.status != SuiteStatus.SKIPPED]
    skipped = [s.name for s in result.suites if s.status == SuiteStatus.SKIPPED]
    if skipped:
        sections.append(f'<p class="muted">⏭️ Skipped: {", ".join(esc(n) for n in skipped)}</p>')
    examples, counts = _examples(result, rows)
    if examples:
        legend = (
            '<p class="legend">Base and head outputs side by side: <del>struck red</del> only in '
            "base, <ins>green</ins> only in head. Scores are per example (mean over samples); "
            f"a head score in red got worse. Each output is cut at {MAX_OUTPUT_CHARS:,} "
            "characters.</p>"
        )
        sections.append(f"<h2>Examples</h2>{legend}{_filters(counts)}{examples}")
    colours = "".join(f"--{k}: {v}; " for k, v in TONES.items())
    title = f"evalbot {esc(result.verdict)}: {esc(short_description(result))}"
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_csp()}">'
        '<meta name="referrer" content="no-referrer">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title}</title><style>:root {{ {colours}}}{_CSS}</style></head>"
        f"<body><main>{_header(result)}{''.join(sections)}</main>"
        f"<script>{_SCRIPT}</script></body></html>\n"
    )


def write_html(result: RunResult, out_dir: Path, rows: list[ExampleRow] | None = None) -> Path:
    """``report.html`` in ``out_dir`` (which the caller has checked), replaced atomically."""
    path = Path(out_dir) / REPORT_NAME
    write_atomic(path, render_html(result, rows), fsync=True)
    return path


def report_command(args: Any, *, emit: Callable[[str], None]) -> int:
    """``evalbot report [RESULTS] [--html] [-o FILE]``: the terminal summary of a results
    directory again, or (``--html``) its page. Exits 0: it reports a verdict, it is not one."""
    results = Path(args.results)
    if args.output is not None and not args.html:
        raise UserError("-o/--output names the HTML file", hint="add --html")
    result, rows = load_example_rows(results)
    if not args.html:
        from evalbot.report.terminal import render_terminal

        color = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
        emit(render_terminal(result, color=color).rstrip("\n"))
        return 0
    out = Path(args.output) if args.output is not None else results / REPORT_NAME
    if out.is_dir():
        out = out / REPORT_NAME
    if not out.parent.is_dir():
        raise UserError("the directory of the HTML file does not exist", file=str(out.parent))
    write_atomic(out, render_html(result, rows), fsync=True)
    emit(f"Report written to {out}")
    return 0

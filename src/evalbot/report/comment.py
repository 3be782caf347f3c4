"""The sticky PR comment, the job summary and the check-run text: one document, three budgets.

The document is assembled from pieces so it can be fitted to a size limit without cutting through
Markdown: flipped-example details go first (shorter outputs, then fewer examples), then notes,
then whole suite sections from the end; the verdict and every remaining table stay intact, and a
notice says what was left out and where the full report is.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote

from evalbot.options import check_name_problem
from evalbot.records import RunResult, SuiteResult, SuiteStatus
from evalbot.report.escape import escape_cell
from evalbot.report.extras import suite_extras
from evalbot.report.formatting import plural, usd_total
from evalbot.report.headline import short_description, tally
from evalbot.report.judge_notes import with_judge_notes
from evalbot.report.markdown import (
    Examples,
    bullets,
    details,
    suite_core,
    suite_notes_block,
)
from evalbot.report.spend import spend_section

__all__ = [
    "check_title_and_summary",
    "comment_marker",
    "render_comment",
    "render_summary",
]

COMMENT_LIMIT = 65_536
MIN_CHARS = 2_000
CHECK_SUMMARY_LIMIT = 65_535
SUMMARY_LIMIT_BYTES = 1_000_000
"""Under the 1 MiB step-summary limit, with room for anything else the job appends."""

_VERDICT_MARKERS = {"pass": "✅", "fail": "❌", "neutral": "⚪", "error": "❗"}


def comment_marker(check_name: str = "evalbot") -> str:
    """The hidden first line the publisher looks for: ``<!-- evalbot:{check_name} -->``."""
    if check_name_problem(check_name):
        raise ValueError(f"check name {check_name!r} cannot go in an HTML comment")
    return f"<!-- evalbot:{check_name} -->"


def _utf16_units(text: str) -> int:
    # GitHub counts characters; counting UTF-16 units is never less than its count.
    return len(text.encode("utf-16-le")) // 2


def _utf8_bytes(text: str) -> int:
    return len(text.encode("utf-8"))


COMMENT_MAX_EXAMPLES = 10


@dataclass(frozen=True)
class _Limits:
    budget: int
    """The rendered text must measure strictly less than this."""
    measure: Callable[[str], int]
    output_steps: tuple[int, ...]
    """Characters kept per output/input, tried in order; empty: no flipped-example details."""
    trigger_cap: int
    max_examples: int | None
    """Flipped examples shown per suite at most: a reviewer reads ten, not sixty."""
    limit_name: str
    full_report: str


def _safe_url(url: str | None) -> str | None:
    if not url or len(url) > 500 or not re.match(r"(?i)https?://", url):
        return None
    if re.search(r"[\x00-\x20\x7f]", url):
        return None
    return quote(url, safe=":/?#&=%+,;@!$*'~.-_")


class _Document:
    def __init__(
        self,
        result: RunResult,
        *,
        marker: str | None,
        check_name: str,
        details_url: str | None,
        limits: _Limits,
    ) -> None:
        self.result = result
        self.limits = limits
        self.url = _safe_url(details_url)
        self.marker = marker
        self.suites = [s for s in result.suites if s.status != SuiteStatus.SKIPPED]
        self.skipped = [s for s in result.suites if s.status == SuiteStatus.SKIPPED]
        self.head = self._headline(check_name)
        single = result.command == "run"
        self.cores = [
            suite_core(s, trigger_cap=limits.trigger_cap, single=single) + suite_extras(s)
            for s in self.suites
        ]
        self.notes = [with_judge_notes(suite_notes_block(s), s) for s in self.suites]
        self.examples = {
            i: Examples(s)
            for i, s in enumerate(self.suites)
            if s.flipped and (s.base is not None or s.head is not None)
        }
        self.global_notes = f"**Notes**\n\n{bullets(result.notes)}" if result.notes else ""
        self.tail = [p for p in (spend_section(result), self._skipped_line(), self._footer()) if p]

    def _headline(self, check_name: str) -> str:
        t = tally(self.result)
        verdict = self.result.verdict
        line = f"### {_VERDICT_MARKERS.get(verdict, '❔')} {escape_cell(check_name, limit=60)}: "
        line += f"{verdict} · {', '.join(t.phrases())} · {t.counts()}"
        if verdict == "error" and self.result.summary:
            line += f"\n\n**Error:** {escape_cell(self.result.summary, limit=1000)}"
        return line

    def _skipped_line(self) -> str:
        """One line per reason (usually one): "no changed file affects them", a dry run, …"""
        groups: dict[str, list[str]] = {}
        for suite in self.skipped:
            reason = " ".join(suite.notes) or "no changed file affects them"
            groups.setdefault(reason, []).append(suite.name)
        lines = []
        for reason, names in groups.items():
            shown = [escape_cell(n, limit=100) for n in names[:100]]
            if len(names) > 100:
                shown.append(f"and {len(names) - 100:,} more")
            why = escape_cell(reason.rstrip("."), limit=200)
            lines.append(f"⏭️ Skipped ({why}): {', '.join(shown)}")
        return "<br>\n".join(lines)

    def _footer(self) -> str:
        r = self.result
        parts = [f"evalbot {escape_cell(r.tool_version, limit=40)}"]
        if r.base_sha or r.head_sha:
            base = escape_cell((r.base_sha or "—")[:7], limit=7)
            head = escape_cell((r.head_sha or "—")[:7], limit=7)
            parts.append(f"base {base} → head {head}")
        usage, judge = r.usage, r.judge_usage
        if usage.requests or judge.requests:
            cost = usd_total(usage.cost_usd)
            tokens = usage.input_tokens + usage.output_tokens
            text = f"{tokens:,} tokens, {cost}"
            if judge.requests:
                jcost = usd_total(judge.cost_usd)
                text += f" (judge {judge.input_tokens + judge.output_tokens:,} tokens, {jcost})"
            spent = usd_total(usage.spent_usd + judge.spent_usd)
            text += f" evaluated, {spent} spent this run"
            parts.append(text)
        if self.url:
            parts.append(f"[details]({self.url})")
        parts.append(f"Full report: {self.limits.full_report}")
        return f"<sub>{' · '.join(parts)}</sub>"

    def notice(self, trimmed: list[str]) -> str:
        if not trimmed:
            return ""
        text = f"✂️ **Trimmed to fit {self.limits.limit_name}:** {', '.join(trimmed)}. "
        text += f"Full report: {self.limits.full_report}"
        return text + (f" ([details]({self.url}))." if self.url else ".")

    def example_blocks(self, chars: int) -> dict[int, list[str]]:
        cap = self.limits.max_examples
        return {i: examples.blocks(chars=chars)[:cap] for i, examples in self.examples.items()}

    def assemble(
        self,
        blocks: dict[int, list[str]],
        *,
        notes: bool = True,
        trimmed: list[str] | None = None,
        suites: int | None = None,
    ) -> str:
        parts = [self.head, self.notice(trimmed or [])]
        if notes:
            parts.append(self.global_notes)
        shown = self.suites if suites is None else self.suites[:suites]
        for i, suite in enumerate(shown):
            parts.append(self.cores[i])
            if notes:
                parts.append(self.notes[i])
            if blocks.get(i):
                parts.append(details(_details_summary(suite, len(blocks[i])), blocks[i]))
        if suites is not None and suites < len(self.suites):
            rest = [escape_cell(s.name, limit=100) for s in self.suites[suites : suites + 50]]
            if len(self.suites) - suites > 50:
                rest.append(f"and {len(self.suites) - suites - 50:,} more")
            parts.append(f"Not shown here (see the full report): {', '.join(rest)}")
        parts += self.tail
        body = "\n\n".join(p for p in parts if p) + "\n"
        return f"{self.marker}\n{body}" if self.marker else body

    def fits(self, text: str) -> bool:
        return self.limits.measure(text) < self.limits.budget


def _details_summary(suite: SuiteResult, shown: int) -> str:
    total = len(suite.flipped)
    count = f"all {total}" if shown == total else f"{shown} of {total}"
    return f"Flipped examples ({count}, worst first)"


def _greedy(doc: _Document, blocks: dict[int, list[str]], trimmed: list[str]) -> str | None:
    """As many examples as fit, taken round-robin across suites (each suite's worst first)."""
    total = sum(len(b) for b in blocks.values())

    def render(chosen: dict[int, list[str]]) -> str:
        kept = sum(len(b) for b in chosen.values())
        shown = f"{kept:,} of {total:,} flipped examples shown"
        return doc.assemble(chosen, trimmed=[*trimmed, shown])

    skeleton = render({})
    if not doc.fits(skeleton):
        return None
    room = doc.limits.budget - doc.limits.measure(skeleton) - 64
    chosen: dict[int, list[str]] = {i: [] for i in blocks}
    order: list[int] = []
    open_suites = set(blocks)
    for rank in range(max(len(b) for b in blocks.values())):
        for i, suite_blocks in blocks.items():
            if i not in open_suites or rank >= len(suite_blocks):
                continue
            wrapper = 0 if chosen[i] else 120
            cost = doc.limits.measure(suite_blocks[rank]) + 2 + wrapper
            if cost > room:
                open_suites.discard(i)  # keep each suite's worst-first order: no skipping
                continue
            chosen[i].append(suite_blocks[rank])
            order.append(i)
            room -= cost
    text = render(chosen)
    while not doc.fits(text) and order:
        chosen[order.pop()].pop()
        text = render(chosen)
    return text


def _hard_cut(doc: _Document, trimmed: list[str]) -> str:
    """Last resort (hundreds of suites): cut at a line boundary, keep the notice and footer."""
    tail = "\n\n" + doc.notice([*trimmed, "the rest of the report"]) + "\n\n" + doc.tail[-1] + "\n"
    text = doc.assemble({}, notes=False, trimmed=trimmed, suites=0)
    room = doc.limits.budget - doc.limits.measure(tail) - 1
    while text and doc.limits.measure(text) > room:
        text = text[: int(len(text) * 0.9)].rsplit("\n", 1)[0]
    return text + tail


def _fit(doc: _Document) -> str:
    steps = doc.limits.output_steps
    blocks: dict[int, list[str]] = {}
    trimmed: list[str] = []
    for chars in steps:
        blocks = doc.example_blocks(chars)
        if not blocks:
            break
        trimmed = [] if chars == steps[0] else [f"outputs shortened to {chars:,} characters"]
        text = doc.assemble(blocks, trimmed=trimmed)
        if doc.fits(text):
            return text
    if blocks:
        greedy = _greedy(doc, blocks, trimmed)
        if greedy is not None:
            return greedy
        trimmed = ["flipped examples omitted"]
    else:
        text = doc.assemble({})
        if doc.fits(text):
            return text
    trimmed.append("notes omitted")

    def without_notes(shown: int) -> str:
        cut = [*trimmed]
        if shown < len(doc.suites):
            cut.append(f"{plural(len(doc.suites) - shown, 'suite section')} omitted")
        return doc.assemble({}, notes=False, trimmed=cut, suites=shown)

    # The most suite sections that fit (binary search: the size grows with the count).
    low, high = -1, len(doc.suites)
    while low < high:
        middle = (low + high + 1) // 2
        if doc.fits(without_notes(middle)):
            low = middle
        else:
            high = middle - 1
    if low >= 0:
        return without_notes(low)
    return _hard_cut(doc, trimmed)


def render_comment(
    result: RunResult,
    *,
    check_name: str = "evalbot",
    details_url: str | None = None,
    max_chars: int = COMMENT_LIMIT,
) -> str:
    """The sticky PR comment: marker line, verdict, per-suite tables, notes, flipped examples.

    Always shorter than ``max_chars`` (GitHub rejects bodies over 65,536 characters), which
    must leave room for the marker, the verdict and the notice (at least ``MIN_CHARS``).
    """
    if max_chars < MIN_CHARS:
        raise ValueError(f"max_chars={max_chars} is below the minimum of {MIN_CHARS}")
    limits = _Limits(
        budget=max_chars,
        measure=_utf16_units,
        output_steps=(2_000, 1_000, 500, 250),
        trigger_cap=20,
        max_examples=COMMENT_MAX_EXAMPLES,
        limit_name=f"the {max_chars:,}-character comment limit",
        full_report="job summary / results artifact",
    )
    doc = _Document(
        result,
        marker=comment_marker(check_name),
        check_name=check_name,
        details_url=details_url,
        limits=limits,
    )
    return _fit(doc)


def render_summary(result: RunResult, *, check_name: str = "evalbot") -> str:
    """The job summary: the comment's content in full detail, under 1 MiB (no marker)."""
    limits = _Limits(
        budget=SUMMARY_LIMIT_BYTES,
        measure=_utf8_bytes,
        output_steps=(20_000, 5_000, 2_000, 1_000, 600, 300),
        trigger_cap=1_000,
        max_examples=None,
        limit_name="the 1 MiB job-summary limit",
        full_report="results.json in the results artifact",
    )
    doc = _Document(result, marker=None, check_name=check_name, details_url=None, limits=limits)
    return _fit(doc)


def check_title_and_summary(result: RunResult) -> tuple[str, str]:
    """Check-run output: the one-line title and a Markdown summary (tables, no examples)."""
    limits = _Limits(
        budget=CHECK_SUMMARY_LIMIT + 1,
        measure=_utf16_units,
        output_steps=(),
        trigger_cap=20,
        max_examples=0,
        limit_name="the check-run summary limit",
        full_report="PR comment / job summary / results artifact",
    )
    doc = _Document(result, marker=None, check_name="evalbot", details_url=None, limits=limits)
    return short_description(result), _fit(doc)

"""The comment's "Judge calibration" section: per judged metric, whether its row is corrected to
human units, from how many labels, the judge's sensitivity (J or slope) with its interval, the
raw judge delta, the examples worth labelling next, and the judge bias checks."""

from __future__ import annotations

import math
from typing import Any

from evalbot.records import MetricComparison, MetricKind, SideRun, SuiteResult
from evalbot.report.escape import escape_cell

__all__ = ["LABELS_DOCS", "MAX_TO_LABEL", "judge_notes_block", "to_label_next", "with_judge_notes"]

LABELS_DOCS = "docs/judges.md, “Adding labels”"
MAX_TO_LABEL = 5


def _num(value: Any, digits: int = 2) -> str:
    if value is None or not isinstance(value, int | float) or not math.isfinite(value):
        return "—"
    return f"{value:+.{digits}f}" if digits < 0 else f"{value:.{digits}f}"


def _signed(value: Any) -> str:
    if value is None or not isinstance(value, int | float) or not math.isfinite(value):
        return "—"
    return f"{value:+.2f}".replace("-", "−")


def _interval(low: Any, high: Any) -> str:
    return f"[{_signed(low)}, {_signed(high)}]"


def _sensitivity_text(sens: dict[str, Any]) -> str:
    what = "J = se + sp − 1" if sens.get("kind") == "binary" else "slope"
    bounds = f"[{_num(sens.get('low'))}, {_num(sens.get('high'))}]"
    text = f"{what} {_num(sens.get('estimate'))} {bounds}"
    if sens.get("kind") == "binary":
        d = sens.get("details") or {}
        text += f" (se {_num(d.get('se'))}, sp {_num(d.get('sp'))})"
    else:
        text += " judge points per human point"
    return text


def _record_line(entry: dict[str, Any]) -> str:
    """One record's status; its path, reason and date come from the PR: escaped."""
    path = escape_cell(entry.get("path"), limit=120)
    where = f"{escape_cell(entry.get('source'), limit=8)} record {path}"
    date = escape_cell((entry.get("created_at") or "")[:10], limit=10)
    if entry.get("status") == "stale":
        return f"{where}: stale: {escape_cell(entry.get('reason'), limit=200)}"
    labels = f"{int(entry.get('labels') or 0)} labels"
    sens = entry.get("sensitivity")
    if not sens:
        return f"{where} ({labels})"
    text = f"{where} ({labels}{', ' + date if date else ''}): {_sensitivity_text(sens)}"
    if entry.get("status") == "uncalibrated":
        text += " — too weak to divide by (its bound reaches 0)"
    return text


def _metric_line(c: MetricComparison) -> str:
    correction = c.extra.get("judge_correction") or {}
    raw = correction.get("raw") or {}
    records = [_record_line(e) for e in correction.get("records") or []]
    name = f"`{escape_cell(c.metric, limit=80)}`"
    raw_verdict = escape_cell(raw.get("verdict"), limit=20)
    raw_ci = _interval(raw.get("ci_low"), raw.get("ci_high"))
    raw_text = f"raw judge Δ {_signed(raw.get('delta'))} {raw_ci} ({raw_verdict} in judge units)"
    if correction.get("status") == "legacy":
        return (
            f"{name}: not corrected: its calibration record was made before corrections "
            "(re-run `evalbot calibrate` to add the judge's value per label)"
        )
    if correction.get("status") == "corrected":
        head = (
            f"{name}: **corrected** to human units, Δ {_signed(c.delta)} "
            f"{_interval(c.ci_low, c.ci_high)}; {raw_text}"
        )
    else:
        head = f"{name}: **uncalibrated**, not corrected ({raw_text}); it cannot read unchanged"
    return "; ".join([head, *records])


def to_label_next(suite: SuiteResult, metric: str, limit: int = MAX_TO_LABEL) -> list[str]:
    """Examples whose labels would shrink the interval most: where the judge's score moved most
    between base and head (the discordant pairs carry the correction's uncertainty)."""
    if suite.base is None or suite.head is None:
        return []
    base, head = _means(suite.base, metric), _means(suite.head, metric)
    if base is None or head is None or len(base) != len(head):
        return []
    moved = [
        abs(h - b) if h is not None and b is not None else None
        for b, h in zip(base, head, strict=True)
    ]
    # Largest move first; ties keep the golden set's order (sorted() is stable).
    order = sorted(
        (i for i, m in enumerate(moved) if m is not None and m > 0), key=lambda i: -(moved[i] or 0)
    )
    return [suite.head.example_ids[i] for i in order[:limit]]


def _means(side: SideRun, metric: str) -> list[float | None] | None:
    """Per-example mean over samples (None where no sample scored). Plain Python: the comment
    must not import numpy, since the no-op path renders it too."""
    rows = side.scores.get(metric)
    if rows is None:
        return None
    out: list[float | None] = []
    for row in rows:
        values = [v for v in row if v is not None and math.isfinite(v)]
        out.append(sum(values) / len(values) if values else None)
    return out


def _bias_lines(c: MetricComparison) -> list[str]:
    bias = c.extra.get("judge_bias") or {}
    name = f"`{escape_cell(c.metric, limit=80)}`"
    lines = []
    length = bias.get("length") or {}
    if length.get("flagged"):
        lines.append(
            f"{name}: ⚠️ **length bias?** the judge's score change follows the answer's length "
            f"change within the same example (Spearman ρ {_signed(length.get('rho'))}, "
            f"p {_num(length.get('p'), 3)}, {int(length.get('n') or 0)} examples whose length "
            "changed). Read a few flipped examples, or ask the rubric to ignore length"
        )
    same = bias.get("self_preference")
    if same:
        generators = ", ".join(escape_cell(g, limit=60) for g in same.get("generators") or [])
        lines.append(
            f"{name}: ⚠️ **self-preference risk**: the judge "
            f"{escape_cell(same.get('judge'), limit=60)} and the answers' model ({generators}) "
            f"are both {escape_cell(same.get('family'), limit=40)}; judges tend to favour their "
            "own family's text. A judge from another vendor avoids it"
        )
    return lines


def judge_notes_block(suite: SuiteResult) -> str:
    """Markdown for one suite, or "" when it has no judge metric comparison."""
    judged = [
        c for c in suite.comparisons if "judge_correction" in c.extra or "judge_bias" in c.extra
    ]
    lines = []
    for c in judged:
        if "judge_correction" in c.extra:
            lines.append(_metric_line(c))
        elif c.kind != MetricKind.PAIRWISE:
            lines.append(
                f"`{escape_cell(c.metric, limit=80)}`: not corrected (no calibration record for "
                "it): Δ is in the judge's own units"
            )
        lines += _bias_lines(c)
    for c in judged:
        ids = to_label_next(suite, c.metric) if c.kind != MetricKind.PAIRWISE else []
        if ids:
            shown = ", ".join(f"`{escape_cell(i, limit=60)}`" for i in ids)
            lines.append(
                f"Label next for `{escape_cell(c.metric, limit=80)}` (the judge moved most "
                f"between base and head there; labels of both sides shrink the interval most): "
                f"{shown}"
            )
    if not lines:
        return ""
    lines.append(
        f"How to add labels and re-run `evalbot calibrate`: {LABELS_DOCS}. A record is used only "
        "while the judge model, rubric, judge prompts and labels it was made with are unchanged."
    )
    return "**Judge calibration**\n\n" + "\n".join(f"- {line}" for line in lines)


def with_judge_notes(notes_block: str, suite: SuiteResult) -> str:
    """A suite's notes block followed by its judge calibration section (the comment's hook)."""
    return "\n\n".join(part for part in (notes_block, judge_notes_block(suite)) if part)

"""The forest plot of the HTML report: every metric's Δ with its interval, as inline SVG.

Metrics come in different units (points, seconds, dollars), so each row has its own scale,
centred on Δ = 0: the zero line is shared, and each row marks its own margin (``max_drop``) on
the side that is worse for that metric, which is tinted. Colours follow the verdict (and the
gate: a blocking failure is red, a non-blocking regression orange). The numbers printed beside
each row are the comment's own (``rows.metric_figures``). Every string that came from the PR or
a model is escaped by ``esc`` before it is placed in the markup.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from evalbot.records import GateStatus, MetricComparison, Verdict
from evalbot.report.formatting import verdict_word
from evalbot.report.rows import metric_figures

__all__ = ["TONES", "forest_svg", "tone"]

TONES = {
    "fail": "#cf222e",
    "worse": "#bc4c00",
    "warn": "#9a6700",
    "improved": "#1a7f37",
    "unchanged": "#0969da",
    "na": "#6e7781",
}
"""Colour per tone: the verdict, with the gate winning where it decides."""

LABEL_W, PLOT_W, FIGURES_W = 150, 380, 330
ROW_H, TOP, BOTTOM = 30, 34, 10
WIDTH = LABEL_W + PLOT_W + FIGURES_W


def tone(c: MetricComparison) -> str:
    """The colour key of a row, in the same order as ``formatting.verdict_marker``."""
    if c.gate in (GateStatus.FAIL, GateStatus.ERROR):
        return "fail"
    if c.gate == GateStatus.WARN or c.verdict == Verdict.INCONCLUSIVE:
        return "warn"
    if c.verdict == Verdict.REGRESSED:
        return "worse"
    if c.verdict == Verdict.IMPROVED:
        return "improved"
    if c.verdict == Verdict.UNCHANGED:
        return "unchanged"
    return "na"


def _finite(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None


def _half_width(c: MetricComparison) -> float:
    """Half the row's axis: room for the interval, the point and the margin."""
    refs = [_finite(v) for v in (c.ci_low, c.ci_high, c.delta, c.max_drop)]
    span = max((abs(v) for v in refs if v is not None), default=0.0)
    return span * 1.15 if span > 0 else 1.0


def _row(c: MetricComparison, y: float, esc: Callable[[object], str]) -> str:
    centre = LABEL_W + PLOT_W / 2
    half = _half_width(c)

    def x(value: float) -> float:
        return round(centre + value / half * (PLOT_W / 2 - 6), 1)

    colour = TONES[tone(c)]
    mid = y + ROW_H / 2
    # The worse side: Δ < 0 where higher is better, Δ > 0 where lower is better.
    worse_x = LABEL_W if c.higher_is_better else centre
    parts = [
        f'<g class="mark" data-verdict="{esc(verdict_word(c))}">',
        f"<title>{esc(c.metric)}: {esc(verdict_word(c))}</title>",
        f'<rect x="{worse_x}" y="{y + 3}" width="{PLOT_W / 2}" height="{ROW_H - 6}" '
        'fill="#fff1f0"/>',
        f'<text x="{LABEL_W - 8}" y="{mid + 4}" text-anchor="end" class="metric">'
        f"{esc(_clip(c.metric, 22))}</text>",
    ]
    drop = _finite(c.max_drop)
    if drop:
        margin = x(-drop if c.higher_is_better else drop)
        parts.append(
            f'<line x1="{margin}" x2="{margin}" y1="{y + 3}" y2="{y + ROW_H - 3}" '
            'stroke="#57606a" stroke-width="1.5" stroke-dasharray="3 2" class="margin"/>'
        )
    low, high, delta = _finite(c.ci_low), _finite(c.ci_high), _finite(c.delta)
    if low is not None and high is not None:
        parts.append(
            f'<line x1="{x(low)}" x2="{x(high)}" y1="{mid}" y2="{mid}" stroke="{colour}" '
            'stroke-width="3" stroke-linecap="round"/>'
        )
    if delta is not None:
        parts.append(
            f'<circle cx="{x(delta)}" cy="{mid}" r="5" fill="{colour}" stroke="#fff" '
            'stroke-width="1.5"/>'
        )
    else:
        parts.append(f'<text x="{centre + 8}" y="{mid + 4}" class="na">not compared</text>')
    f = metric_figures(c)
    figures = f"{f.delta}  {f.ci}" if f.ci != "—" else f.delta
    parts.append(
        f'<text x="{LABEL_W + PLOT_W + 10}" y="{mid + 4}" class="fig" fill="{colour}">'
        f"{esc(figures)}</text>"
    )
    parts.append("</g>")
    return "".join(parts)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def forest_svg(comparisons: list[MetricComparison], esc: Callable[[object], str]) -> str:
    """One ``<g class="mark">`` per comparison, in table order; "" when there is none."""
    if not comparisons:
        return ""
    height = TOP + ROW_H * len(comparisons) + BOTTOM
    centre = LABEL_W + PLOT_W / 2
    rows = [_row(c, TOP + i * ROW_H, esc) for i, c in enumerate(comparisons)]
    header = (
        f'<text x="{centre}" y="14" text-anchor="middle" class="axis">'
        "Δ = head − base · each row on its own scale · tinted: the worse side</text>"
        f'<text x="{centre}" y="28" text-anchor="middle" class="axis">'
        "dashed: the margin (max_drop) · bar: the CI · dot: Δ</text>"
        f'<text x="{LABEL_W + PLOT_W + 10}" y="28" class="axis">Δ and CI</text>'
    )
    zero = (
        f'<line x1="{centre}" x2="{centre}" y1="{TOP - 2}" y2="{height - BOTTOM + 2}" '
        'stroke="#1f2328" stroke-width="1" class="zero"/>'
    )
    return (
        f'<svg class="forest" role="img" '
        f'viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}">'
        f"<title>Forest plot: Δ and interval of each metric</title>"
        f"{header}{''.join(rows)}{zero}</svg>"
    )

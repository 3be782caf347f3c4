"""Main's history: one compact record per suite and metric per run on the default branch, the
PR's sparkline, and the SVG trend chart.

Layout of the data branch::

    history/<suite>.jsonl        one HistoryRecord per line, oldest first
    flakiness/<suite>.json       the latest Flakiness of the suite (``evalbot run --samples K``)
    charts/<suite>/<metric>.svg  value with its interval band over time, baseline and threshold
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from html import escape

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError

from evalbot import __version__
from evalbot.pipeline.analyze import _matrix, _row_means
from evalbot.records import Flakiness, MetricKind, RunResult, SuiteStatus
from evalbot.stats.intervals import t_interval, wilson_interval

__all__ = [
    "SPARK_LENGTH",
    "HistoryRecord",
    "append_records",
    "chart_path",
    "flakiness_path",
    "history_path",
    "parse_history",
    "records_of",
    "sparkline",
    "suite_flakiness",
    "trend_svg",
]

SPARK_LENGTH = 20
_BARS = "▁▂▃▄▅▆▇█"
MAX_LINES = 5_000
"""Records kept per suite file (the oldest are dropped): the branch stays small."""


class HistoryRecord(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)

    suite: str
    metric: str
    value: float
    ci_low: float | None = None
    ci_high: float | None = None
    n: int
    sha: str
    date: str
    evalbot: str
    config_sha256: str | None = None
    samples: int = 1
    baseline: float | None = None
    """The baseline's value on this run's golden set (drift budget), when pinned."""
    threshold: float | None = None
    """The metric's absolute ``min`` (or ``max``) threshold at the time."""


def history_path(suite: str) -> str:
    return f"history/{suite}.jsonl"


def chart_path(suite: str, metric: str) -> str:
    return f"charts/{suite}/{metric}.svg"


def flakiness_path(suite: str) -> str:
    return f"flakiness/{suite}.json"


def _interval(values: np.ndarray, confidence: float) -> tuple[float | None, float | None]:
    if values.size < 2:
        return None, None
    if np.all(np.isin(values, (0.0, 1.0))):
        return wilson_interval(float(values.mean()), int(values.size), confidence)
    if np.all(values == values[0]):
        return float(values[0]), float(values[0])
    low, high, _ = t_interval(values, confidence)
    return low, high


def records_of(result: RunResult, *, date: str | None = None) -> list[HistoryRecord]:
    """One record per evaluated suite and non-pairwise metric of the head side."""
    when = date or result.finished_at or datetime.now(UTC).isoformat(timespec="seconds")
    confidence = 1 - 2 * result.alpha
    out: list[HistoryRecord] = []
    for suite in result.suites:
        if suite.status in (SuiteStatus.SKIPPED, SuiteStatus.ERROR) or suite.head is None:
            continue
        baselines = {
            c.metric: c.base_mean for c in (suite.drift.comparisons if suite.drift else [])
        }
        for info in suite.metrics:
            if info.kind == MetricKind.PAIRWISE:
                continue
            per_example = _row_means(_matrix(suite.head, info.name))
            values = per_example[np.isfinite(per_example)]
            if not values.size:
                continue
            low, high = _interval(values, confidence)
            limits = suite.thresholds.get(info.name, {})
            out.append(
                HistoryRecord(
                    suite=suite.name,
                    metric=info.name,
                    value=float(values.mean()),
                    ci_low=low,
                    ci_high=high,
                    n=int(values.size),
                    sha=result.head_sha or "",
                    date=when,
                    evalbot=result.tool_version or __version__,
                    config_sha256=result.config_sha256,
                    samples=suite.samples,
                    baseline=baselines.get(info.name),
                    threshold=limits.get("min", limits.get("max")),
                )
            )
    return out


def parse_history(text: str | None) -> list[HistoryRecord]:
    """The records of a history file; lines that do not parse are skipped (a file written by a
    newer evalbot, or edited by hand, still shows what it can)."""
    out: list[HistoryRecord] = []
    for line in (text or "").splitlines():
        if not line.strip():
            continue
        try:
            out.append(HistoryRecord.model_validate(json.loads(line)))
        except (ValueError, ValidationError):
            continue
    return out


def append_records(
    reader: Callable[[str], str | None],
    records: list[HistoryRecord],
    flakiness: Mapping[str, Flakiness] | None = None,
) -> dict[str, str]:
    """The files to write: each suite's history with the new records appended (re-applied on
    the branch's current tip at every attempt), its charts, and its flakiness record."""
    files: dict[str, str] = {}
    for suite in dict.fromkeys(r.suite for r in records):
        path = history_path(suite)
        old = [line for line in (reader(path) or "").splitlines() if line.strip()]
        new = [r.model_dump_json(exclude_none=True) for r in records if r.suite == suite]
        lines = (old + new)[-MAX_LINES:]
        files[path] = "\n".join(lines) + "\n"
        every = parse_history(files[path])
        for metric in dict.fromkeys(r.metric for r in every):
            series = [r for r in every if r.metric == metric]
            files[chart_path(suite, metric)] = trend_svg(series, title=f"{suite} · {metric}")
    for suite, record in (flakiness or {}).items():
        files[flakiness_path(suite)] = record.model_dump_json(indent=1) + "\n"
    return files


def sparkline(values: list[float], head: float | None = None) -> str:
    """The last ``SPARK_LENGTH`` values as block characters, then ``▸`` and the head's bar on
    the same scale (so a drop below main's range reads at a glance)."""
    shown = [v for v in values[-SPARK_LENGTH:] if math.isfinite(v)]
    scale = shown + ([head] if head is not None and math.isfinite(head) else [])
    if not scale:
        return ""
    low, high = min(scale), max(scale)

    def bar(v: float) -> str:
        if high - low < 1e-12:
            return _BARS[len(_BARS) // 2]
        return _BARS[min(len(_BARS) - 1, int((v - low) / (high - low) * (len(_BARS) - 1) + 0.5))]

    text = "".join(bar(v) for v in shown)
    if head is not None and math.isfinite(head):
        text += " ▸" + bar(head)
    return text


def trend_svg(
    records: list[HistoryRecord], *, title: str, width: int = 640, height: int = 240
) -> str:
    """A self-contained SVG: the value over runs with its interval band, the latest baseline
    and threshold as dashed lines. Plain text and numbers only (escaped), no script."""
    pad_l, pad_r, pad_t, pad_b = 56, 16, 28, 36
    values = [r.value for r in records]
    lows = [r.ci_low if r.ci_low is not None else r.value for r in records]
    highs = [r.ci_high if r.ci_high is not None else r.value for r in records]
    baseline = next((r.baseline for r in reversed(records) if r.baseline is not None), None)
    threshold = next((r.threshold for r in reversed(records) if r.threshold is not None), None)
    extent = lows + highs + [v for v in (baseline, threshold) if v is not None]
    y_min, y_max = (min(extent), max(extent)) if extent else (0.0, 1.0)
    if y_max - y_min < 1e-9:
        y_min, y_max = y_min - 0.5, y_max + 0.5
    margin = (y_max - y_min) * 0.08
    y_min, y_max = y_min - margin, y_max + margin
    plot_w, plot_h = width - pad_l - pad_r, height - pad_t - pad_b
    count = max(len(records) - 1, 1)

    def x(i: int) -> float:
        return pad_l + plot_w * i / count

    def y(v: float) -> float:
        return pad_t + plot_h * (1 - (v - y_min) / (y_max - y_min))

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
        f'<text x="{pad_l}" y="18" font-size="13" font-weight="bold">{escape(title)}</text>',
        f'<line x1="{pad_l}" y1="{pad_t + plot_h}" x2="{width - pad_r}" y2="{pad_t + plot_h}" '
        'stroke="#888"/>',
        f'<line x1="{pad_l}" y1="{pad_t}" x2="{pad_l}" y2="{pad_t + plot_h}" stroke="#888"/>',
    ]
    for v in (y_min + margin, y_max - margin):
        parts.append(f'<text x="{pad_l - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{v:.4g}</text>')
    if records:
        band = [f"{x(i):.1f},{y(h):.1f}" for i, h in enumerate(highs)]
        band += [f"{x(i):.1f},{y(lo):.1f}" for i, lo in reversed(list(enumerate(lows)))]
        parts.append(f'<polygon points="{" ".join(band)}" fill="#9ecae1" opacity="0.5"/>')
        line = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
        parts.append(f'<polyline points="{line}" fill="none" stroke="#08519c" stroke-width="2"/>')
        for i, v in enumerate(values):
            parts.append(f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="2.5" fill="#08519c"/>')
        parts.append(
            f'<text x="{pad_l}" y="{height - 10}">{escape(records[0].date[:10])} '
            f"({escape(records[0].sha[:7])})</text>"
        )
        parts.append(
            f'<text x="{width - pad_r}" y="{height - 10}" text-anchor="end">'
            f"{escape(records[-1].date[:10])} ({escape(records[-1].sha[:7])})</text>"
        )
    for value, colour, label in (
        (baseline, "#6a51a3", "baseline"),
        (threshold, "#cb181d", "threshold"),
    ):
        if value is None:
            continue
        parts.append(
            f'<line x1="{pad_l}" y1="{y(value):.1f}" x2="{width - pad_r}" y2="{y(value):.1f}" '
            f'stroke="{colour}" stroke-dasharray="6 4"/>'
        )
        parts.append(
            f'<text x="{width - pad_r - 4}" y="{y(value) - 4:.1f}" text-anchor="end" '
            f'fill="{colour}">{label} {value:.4g}</text>'
        )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def suite_flakiness(result: RunResult) -> dict[str, Flakiness]:
    """Each suite's flakiness record from a run with samples > 1, stamped with its revision."""
    out: dict[str, Flakiness] = {}
    for suite in result.suites:
        if suite.flakiness is not None:
            source = f"main {(result.head_sha or '')[:7]}".strip()
            out[suite.name] = suite.flakiness.model_copy(update={"source": source})
    return out

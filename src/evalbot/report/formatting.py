"""Numbers and verdicts as reviewers read them: 82.5 %, −7.5 pts, [−12.1, −2.9], p 0.004, ❌.

Every figure of a row shares one ``Scale`` (unit and decimals), chosen from the row's magnitude,
so Base, Head, Δ, CI and MDE line up: proportions in percent with Δ in points, scores to three
significant digits, latency in ms or s, cost in dollars, tokens as counts.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from evalbot.records import GateStatus, MetricComparison, MetricKind, SuiteResult, SuiteStatus
from evalbot.records import Verdict as V

__all__ = [
    "DASH",
    "MINUS",
    "Scale",
    "Unit",
    "format_p",
    "gate_marker",
    "plural",
    "scale_for",
    "unit_of",
    "usd_total",
    "verdict_marker",
    "verdict_word",
]

MINUS = "\u2212"
DASH = "—"


class Unit(StrEnum):
    PERCENT = "percent"
    SCORE = "score"
    MS = "ms"
    USD = "usd"
    TOKENS = "tokens"


def unit_of(metric: str, kind: MetricKind | None = None) -> Unit:
    """The display unit of a metric, from its kind and (for built-ins) its name."""
    name = metric.lower()
    if "latency" in name or name.endswith("_ms"):
        return Unit.MS
    if "cost" in name or name.endswith("usd"):
        return Unit.USD
    if "token" in name:
        return Unit.TOKENS
    if kind == MetricKind.BINARY or name in {"error", "error_rate"}:
        return Unit.PERCENT
    return Unit.SCORE


def _finite(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None


def _decimals(ref: float, significant: int = 3) -> int:
    if ref == 0:
        return 2
    return min(max(significant - 1 - math.floor(math.log10(ref)), 0), 8)


@dataclass(frozen=True)
class Scale:
    """How one row's numbers are written: ``factor`` × value, fixed decimals, units."""

    factor: float = 1.0
    decimals: int = 2
    prefix: str = ""
    suffix: str = ""
    delta_suffix: str = ""
    interval_suffix: str = ""

    def _number(self, x: float | None, *, signed: bool) -> str:
        x = _finite(x)
        if x is None:
            return DASH
        v = x * self.factor
        digits = f"{abs(v):,.{self.decimals}f}"
        if not any(c in "123456789" for c in digits):
            sign = ""  # never "−0.0"
        else:
            sign = MINUS if v < 0 else ("+" if signed else "")
        return f"{sign}{self.prefix}{digits}"

    def value(self, x: float | None) -> str:
        text = self._number(x, signed=False)
        return text if text == DASH else text + self.suffix

    def delta(self, x: float | None) -> str:
        text = self._number(x, signed=True)
        return text if text == DASH else text + self.delta_suffix

    def magnitude(self, x: float | None) -> str:
        text = self._number(None if x is None else abs(x), signed=False)
        return text if text == DASH else text + self.delta_suffix

    def interval(self, low: float | None, high: float | None) -> str:
        if _finite(low) is None or _finite(high) is None:
            return DASH
        lo, hi = self._number(low, signed=False), self._number(high, signed=False)
        return f"[{lo}, {hi}]{self.interval_suffix}"


def scale_for(unit: Unit, refs: Iterable[float | None]) -> Scale:
    """A scale suited to the largest finite magnitude among ``refs``."""
    ref = max((abs(f) for x in refs if (f := _finite(x)) is not None), default=0.0)
    if unit == Unit.PERCENT:
        return Scale(factor=100, decimals=1, suffix="%", delta_suffix=" pts")
    if unit == Unit.MS:
        if ref >= 1000:
            return Scale(0.001, 2, suffix=" s", delta_suffix=" s", interval_suffix=" s")
        return Scale(1, 0, suffix=" ms", delta_suffix=" ms", interval_suffix=" ms")
    if unit == Unit.USD:
        if 0 < ref < 0.01:
            # Per-call costs are fractions of a cent: per 1,000 calls they stay readable.
            k = 1000.0
            return Scale(
                factor=k,
                decimals=max(2, _decimals(ref * k)),
                prefix="$",
                suffix=" /1k calls",
                delta_suffix=" /1k calls",
                interval_suffix=" /1k calls",
            )
        return Scale(decimals=max(2, _decimals(ref)), prefix="$")
    if unit == Unit.TOKENS:
        return Scale(decimals=0 if ref >= 100 else 1)
    return Scale(decimals=_decimals(ref))


def usd_total(amount: float) -> str:
    """A total in dollars, as it is, to three significant digits under $1 ($0.000124, $0.0310),
    never a per-1k figure (that scale is for per-call metrics, labelled so by ``scale_for``)."""
    if not math.isfinite(amount) or amount == 0:
        return "$0.00"
    if abs(amount) >= 1:
        return f"${amount:,.2f}"
    decimals = max(2, -math.floor(math.log10(abs(amount))) + 2)
    return f"${amount:.{decimals}f}"


def format_p(p: float | None) -> str:
    p = _finite(p)
    if p is None:
        return DASH
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n} {word if n == 1 else (many or word + 's')}"


_VERDICT_MARKERS = {
    V.IMPROVED: "✅",
    V.UNCHANGED: "✅",
    V.INCONCLUSIVE: "⚠️",
    V.REGRESSED: "❌",
    V.NOT_COMPARED: "➖",
}

_GATE_MARKERS = {
    GateStatus.PASS: "✅",
    GateStatus.FAIL: "❌",
    GateStatus.WARN: "⚠️",
    GateStatus.INFO: "ℹ️",
    GateStatus.ERROR: "❗",
}


def verdict_marker(c: MetricComparison) -> str:
    """The row's marker: the gate wins over the verdict (a failed ``min`` on an unchanged metric
    is still a failure)."""
    if c.gate in (GateStatus.FAIL, GateStatus.ERROR, GateStatus.WARN):
        return _GATE_MARKERS[c.gate]
    if c.verdict == V.REGRESSED and not c.blocking:
        return "🔻"  # worse, but informational: must not read like the failure that blocks
    return _VERDICT_MARKERS[c.verdict]


def verdict_word(c: MetricComparison) -> str:
    word = "error" if c.gate == GateStatus.ERROR else str(c.verdict)
    return f"{word} (blocking)" if c.blocking else word


def gate_marker(suite: SuiteResult) -> str:
    if suite.status == SuiteStatus.SKIPPED:
        return "⏭️"
    if suite.status == SuiteStatus.ERROR:
        return _GATE_MARKERS[GateStatus.ERROR]
    return _GATE_MARKERS[suite.gate]

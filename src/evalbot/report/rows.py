"""Table contents shared by the Markdown and terminal renderers (numbers only; names are escaped
by the caller, each for its own medium)."""

from __future__ import annotations

from dataclasses import dataclass

from evalbot.records import MetricComparison, MetricValue, SideRun, SuiteResult, SuiteStatus
from evalbot.report.formatting import (
    DASH,
    Unit,
    format_p,
    scale_for,
    unit_of,
    usd_total,
)

__all__ = [
    "METRIC_HEADERS",
    "USAGE_HEADERS",
    "VALUE_HEADERS",
    "MetricFigures",
    "UsageFigures",
    "ValueFigures",
    "error_reasons",
    "metric_figures",
    "model_text",
    "reason_note",
    "show_mde",
    "suite_notes",
    "usage_figures",
    "value_figures",
    "values_footnote",
]

METRIC_HEADERS = ("Metric", "Base", "Head", "Δ", "CI", "p", "Verdict", "n", "MDE")
USAGE_HEADERS = (
    "Side",
    "Model",
    "Calls",
    "Errors",
    "Tokens in / out",
    "Cost",
    "Latency p50 / p95",
    "Judge tokens",
    "Judge cost",
)


@dataclass(frozen=True)
class MetricFigures:
    base: str
    head: str
    delta: str
    ci: str
    p: str
    n: str
    mde: str


def metric_figures(c: MetricComparison) -> MetricFigures:
    refs = [c.base_mean, c.head_mean]
    if c.base_mean is None and c.head_mean is None:
        refs = [c.delta, c.ci_low, c.ci_high]
    scale = scale_for(unit_of(c.metric, c.kind), refs)
    return MetricFigures(
        base=scale.value(c.base_mean),
        head=scale.value(c.head_mean),
        delta=scale.delta(c.delta),
        ci=scale.interval(c.ci_low, c.ci_high),
        p=format_p(c.p_two_sided),
        n=str(c.n),
        mde=scale.magnitude(c.mde),
    )


VALUE_HEADERS = ("Metric", "Value", "CI", "n")
"""The head-only table (``evalbot run``, a new suite): "Value" reads as "Head" in a diff."""


@dataclass(frozen=True)
class ValueFigures:
    value: str
    ci: str
    n: str


def value_figures(v: MetricValue) -> ValueFigures:
    scale = scale_for(unit_of(v.metric, v.kind), [v.value, v.low, v.high])
    if scale.suffix == "%":  # a rate's interval in percent, not in points
        ci = (
            DASH
            if v.low is None or v.high is None
            else f"[{scale.value(v.low)}, {scale.value(v.high)}]"
        )
    else:
        ci = scale.interval(v.low, v.high)
    samples = f" × {v.samples}" if v.samples > 1 else ""
    return ValueFigures(value=scale.value(v.value), ci=ci, n=f"{v.n}{samples}")


def values_footnote(values: list[MetricValue]) -> str:
    """What the CI column of the head-only table is, in one line."""
    if not values:
        return ""
    level = f"{values[0].confidence:.0%}"
    methods = list(dict.fromkeys(v.method for v in values if v.method not in ("", "none")))
    how = f" ({', '.join(methods)})" if methods else ""
    return (
        f"CI: {level} two-sided interval of the value{how}; n: examples with a value "
        "(× samples averaged per example)"
    )


def show_mde(suite: SuiteResult) -> bool:
    return any(c.mde is not None for c in suite.comparisons)


@dataclass(frozen=True)
class UsageFigures:
    side: str
    model: str
    """Untrusted (from a model config the PR can change): escape before use."""
    calls: str
    errors: str
    tokens: str
    cost: str
    latency: str
    judge_tokens: str
    judge_cost: str


def _usd(x: float) -> str:
    return usd_total(x)


def model_text(run: SideRun) -> str:
    """The model asked for and, when a gateway or the endpoint says another one answered,
    that one too (``fake-model → openai/fake-model-2025``)."""
    others = [m for m in run.served_by if m != run.model]
    if not others:
        return run.model
    shown = ", ".join(others[:3]) + (f" +{len(others) - 3}" if len(others) > 3 else "")
    return f"{run.model} → {shown}"


def usage_figures(run: SideRun) -> UsageFigures:
    u, j = run.usage, run.judge_usage
    latency = [u.latency_p50_ms, u.latency_p95_ms]
    ms = scale_for(Unit.MS, latency)
    # The cache share is shown always: a side answered from the cache was not evaluated now.
    share = f" ({u.cache_hits / u.requests:.0%} cached)" if u.requests else ""
    calls = f"{u.requests:,}{share}"
    judged = j.requests or j.input_tokens or j.output_tokens
    return UsageFigures(
        side=run.side,
        model=f"{run.provider} · {model_text(run)}",
        calls=calls,
        errors=f"{run.error_rate:.1%}",
        tokens=f"{u.input_tokens:,} / {u.output_tokens:,}",
        cost=_usd(u.cost_usd),
        latency=f"{ms.value(latency[0])} / {ms.value(latency[1])}",
        judge_tokens=f"{j.input_tokens + j.output_tokens:,}" if judged else DASH,
        judge_cost=_usd(j.cost_usd) if judged else DASH,
    )


def error_reasons(run: SideRun) -> list[tuple[str, int, str]]:
    """The distinct reasons the side's model calls failed: (reason, calls, one example id),
    most frequent first. A rate says how often; this says why."""
    if len(run.outputs) != len(run.example_ids):  # read back compact: the kept reasons
        return [(r.reason, r.calls, r.example) for r in run.error_reasons]
    seen: dict[str, list] = {}
    for example_id, row in zip(run.example_ids, run.outputs, strict=False):
        for completion in row:
            if completion.error:
                entry = seen.setdefault(completion.error, [0, example_id])
                entry[0] += 1
    ranked = sorted(seen.items(), key=lambda item: -item[1][0])
    return [(reason, count, example) for reason, (count, example) in ranked]


def reason_note(run: SideRun, *, shown: int = 3) -> str:
    """``error_reasons`` as one note ("" when nothing failed)."""
    reasons = error_reasons(run)
    if not reasons:
        return ""
    parts = [f"{count:,}× {reason} (e.g. example {example})" for reason, count, example in reasons]
    more = max(len(parts), run.error_reason_kinds) - shown
    text = "; ".join(parts[:shown]) + (f"; and {more} other reasons" if more > 0 else "")
    return f"Why {run.side} calls failed: {text}."


def suite_notes(suite: SuiteResult) -> list[str]:
    """Caveats in reading order, without repeats: suite-level, error rates, then per metric."""
    notes: list[str] = []
    if suite.status == SuiteStatus.NEW and not any(
        "absolute thresholds only" in n for n in suite.notes
    ):
        notes.append("New suite: no base side, absolute thresholds only.")
    notes.extend(suite.notes)
    rates = [(r.side, r.error_rate) for r in (suite.base, suite.head) if r is not None]
    if any(rate > 0 for _, rate in rates):
        shown = ", ".join(f"{side} {rate:.1%}" for side, rate in rates)
        notes.append(f"Errored examples ({shown}) are excluded from the tests, never scored.")
    notes.extend(reason_note(r) for r in (suite.base, suite.head) if r is not None)
    # The same caveat (e.g. "clustered by group") often holds for every metric: say it once,
    # naming the metrics it applies to, so the real warnings are not drowned.
    by_note: dict[str, list[str]] = {}
    for c in suite.comparisons:
        if c.n_dropped:
            by_note.setdefault(f"{c.n_dropped} examples dropped (no value on one side).", [])
            by_note[f"{c.n_dropped} examples dropped (no value on one side)."].append(c.metric)
        for note in c.notes:
            by_note.setdefault(note, []).append(c.metric)
    every = len(suite.comparisons)
    notes.extend(
        f"{'All metrics' if every > 2 and len(metrics) == every else ', '.join(metrics)}: {note}"
        for note, metrics in by_note.items()
    )
    return [n for n in dict.fromkeys(notes) if n]

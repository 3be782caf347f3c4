"""Hand-built records for report tests (and any other stage's tests that need a RunResult).

Every factory takes keyword overrides for any record field, and fills the rest with a small,
plausible support-bot eval: "correct" (binary, blocking) and "helpful" (a 1–5 judge score).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from evalbot.records import (
    AbsoluteCheck,
    Completion,
    GateStatus,
    MetricComparison,
    MetricKind,
    MetricValue,
    RunResult,
    SideRun,
    SuiteResult,
    SuiteStatus,
    Usage,
    Verdict,
)

__all__ = ["example_result", "make_comparison", "make_result", "make_side", "make_suite"]

_TESTS = {
    MetricKind.BINARY: "McNemar mid-p",
    MetricKind.CONTINUOUS: "sign-flip permutation",
    MetricKind.HEAVY_TAILED: "Wilcoxon signed-rank",
    MetricKind.PAIRWISE: "sign test",
}


def _default_gate(verdict: Verdict, blocking: bool) -> GateStatus:
    if not blocking:
        return GateStatus.INFO
    return {
        Verdict.REGRESSED: GateStatus.FAIL,
        Verdict.INCONCLUSIVE: GateStatus.WARN,
    }.get(verdict, GateStatus.PASS)


def make_comparison(
    metric: str = "correct",
    *,
    kind: MetricKind = MetricKind.BINARY,
    base: float | None = 0.9,
    head: float | None = 0.825,
    ci: tuple[float | None, float | None] = (-0.121, -0.029),
    p: float | None = 0.004,
    verdict: Verdict = Verdict.REGRESSED,
    blocking: bool = True,
    **overrides: Any,
) -> MetricComparison:
    """A comparison; ``delta`` defaults to head − base and ``gate`` follows verdict/blocking."""
    delta = head - base if head is not None and base is not None else None
    fields: dict[str, Any] = {
        "metric": metric,
        "kind": kind,
        "test": _TESTS[kind],
        "n": 120,
        "base_mean": base,
        "head_mean": head,
        "delta": delta,
        "ci_low": ci[0],
        "ci_high": ci[1],
        "p_value": p,
        "p_two_sided": p,
        "p_adjusted": p,
        "verdict": verdict,
        "blocking": blocking,
        "gate": _default_gate(verdict, blocking),
        "max_drop": 0.02 if blocking else 0.0,
        "mde": 0.05,
    }
    fields.update(overrides)
    return MetricComparison(**fields)


def make_side(
    side: str = "head",
    *,
    outputs: Mapping[str, str | None] | None = None,
    scores: Mapping[str, Sequence[float | None]] | None = None,
    errors: Mapping[str, str] | None = None,
    **overrides: Any,
) -> SideRun:
    """One side. ``outputs`` maps example id → text (one sample each); ``scores`` maps metric →
    one value per example in the same order; ``errors`` maps example id → error message."""
    outputs = dict(outputs if outputs is not None else {"ex-1": "Hello.", "ex-2": "Refund: 30d."})
    errors = dict(errors or {})
    ids = list(outputs)
    completions = [
        [
            Completion(error=errors[i], latency_ms=None)
            if i in errors
            else Completion(text=outputs[i], input_tokens=50, output_tokens=20, latency_ms=800.0)
        ]
        for i in ids
    ]
    if scores is None:
        scores = {"correct": [1.0] * len(ids)}
    fields: dict[str, Any] = {
        "side": side,
        "rev": "main" if side == "base" else "feature",
        "sha": ("a" if side == "base" else "b") * 40,
        "prompt_path": "prompts/support.yaml",
        "prompt_sha256": "0" * 64,
        "model_path": "models/support.yaml",
        "model_sha256": "1" * 64,
        "model": "gpt-4o-mini",
        "provider": "openai",
        "example_ids": ids,
        "outputs": completions,
        "scores": {m: [[v] for v in values] for m, values in scores.items()},
        "usage": Usage(
            requests=len(ids),
            sent=len(ids),
            input_tokens=50 * len(ids),
            output_tokens=20 * len(ids),
            cost_usd=0.0012 * len(ids),
            latency_p50_ms=800.0,
            latency_p95_ms=2300.0,
        ),
        "error_rate": len(errors) / len(ids) if ids else 0.0,
    }
    fields.update(overrides)
    return SideRun(**fields)


def make_suite(
    name: str = "support-answers",
    *,
    status: SuiteStatus = SuiteStatus.EVALUATED,
    comparisons: Sequence[MetricComparison] | None = None,
    absolute: Sequence[AbsoluteCheck] = (),
    **overrides: Any,
) -> SuiteResult:
    """A suite; ``gate`` defaults to the worst of its comparisons and absolute checks."""
    if comparisons is None:
        comparisons = [
            make_comparison(),
            make_comparison(
                "helpful",
                kind=MetricKind.CONTINUOUS,
                base=4.12,
                head=4.2,
                ci=(-0.05, 0.21),
                p=0.31,
                verdict=Verdict.UNCHANGED,
                blocking=False,
                mde=0.18,
            ),
        ]
    gates = [c.gate for c in comparisons] + [
        GateStatus.PASS if a.passed else GateStatus.FAIL for a in absolute
    ]
    gate = GateStatus.PASS
    for candidate in (GateStatus.WARN, GateStatus.FAIL, GateStatus.ERROR):
        if candidate in gates:
            gate = candidate
    fields: dict[str, Any] = {
        "name": name,
        "status": status,
        "triggers": ["prompts/support.yaml"],
        "comparisons": list(comparisons),
        "absolute": list(absolute),
        "gate": gate,
    }
    if status in (SuiteStatus.EVALUATED, SuiteStatus.NEW):
        fields["head"] = make_side("head")
    if status == SuiteStatus.EVALUATED:
        fields["base"] = make_side("base")
    fields.update(overrides)
    return SuiteResult(**fields)


def make_result(*suites: SuiteResult, **overrides: Any) -> RunResult:
    """A run; ``verdict`` follows the suites' gates (as the pipeline computes it)."""
    if not suites:
        suites = (make_suite(),)
    gates = [s.gate for s in suites if s.status != SuiteStatus.SKIPPED]
    if any(g == GateStatus.ERROR for g in gates) or any(
        s.status == SuiteStatus.ERROR for s in suites
    ):
        verdict = "error"
    elif GateStatus.FAIL in gates:
        verdict = "fail"
    else:
        verdict = "pass" if gates else "neutral"
    fields: dict[str, Any] = {
        "tool_version": "0.1.0",
        "command": "diff",
        "created_at": "2025-01-01T00:00:00+00:00",
        "config_path": "evalbot.yml",
        "base_rev": "main",
        "base_sha": "a" * 40,
        "head_rev": "feature",
        "head_sha": "b" * 40,
        "suites": list(suites),
        "verdict": verdict,
    }
    fields.update(overrides)
    return RunResult(**fields)


def example_result() -> RunResult:
    """The illustration in docs/comment.md: a regression, a new suite and a skipped suite."""
    judge = Usage(requests=240, input_tokens=96_000, output_tokens=4_800, cost_usd=0.031)
    support = make_suite(
        comparisons=[
            make_comparison(),
            make_comparison(
                "helpful",
                kind=MetricKind.CONTINUOUS,
                base=4.12,
                head=3.98,
                ci=(-0.27, -0.01),
                p=0.08,
                p_adjusted=0.16,
                verdict=Verdict.INCONCLUSIVE,
                max_drop=0.25,
                mde=0.21,
            ),
            make_comparison(
                "latency_ms",
                kind=MetricKind.HEAVY_TAILED,
                base=850.0,
                head=910.0,
                ci=(20.0, 95.0),
                p=0.01,
                blocking=False,
                mde=40.0,
            ),
        ],
        absolute=[
            AbsoluteCheck(metric="latency_p95_ms", bound="max", limit=4000, value=2300, passed=True)
        ],
        base=make_side(
            "base",
            outputs={
                "refund-07": "You can request a refund within 30 days of purchase.",
                "ship-12": "Orders ship in 2 days.",
            },
            scores={"correct": [1.0, 1.0], "helpful": [5.0, 4.0]},
            judge_usage=judge,
        ),
        head=make_side(
            "head",
            outputs={
                "refund-07": "Refunds are handled case by case; contact support.",
                "ship-12": "Orders ship in 2 days.",
            },
            scores={"correct": [0.0, 1.0], "helpful": [2.0, 4.0]},
            judge_usage=judge,
        ),
        flipped=["refund-07"],
        flipped_inputs={
            "refund-07": {"question": "Can I get my money back?", "expected": "30 days"}
        },
        notes=[
            "Judge gpt-4o-mini agrees with 120 human labels at κ = 0.71 (calibrated 2025-01-10)."
        ],
    )
    onboarding = make_suite(
        "onboarding",
        status=SuiteStatus.NEW,
        triggers=["suite definition changed"],
        comparisons=[],
        values=[
            MetricValue(
                metric="correct",
                kind=MetricKind.BINARY,
                value=0.91,
                low=0.858,
                high=0.944,
                n=120,
                method="Wilson",
            )
        ],
        absolute=[
            AbsoluteCheck(metric="correct", bound="min", limit=0.85, value=0.91, passed=True)
        ],
        notes=["No base side: absolute thresholds only."],
    )
    faq = make_suite("faq", status=SuiteStatus.SKIPPED, comparisons=[])
    return make_result(
        support,
        onboarding,
        faq,
        usage=Usage(requests=720, input_tokens=300_000, output_tokens=60_000, cost_usd=0.12),
        judge_usage=Usage(requests=480, input_tokens=192_000, output_tokens=9_600, cost_usd=0.062),
    )


EXAMPLE_DETAILS_URL = "https://github.com/acme/app/actions/runs/123"

if (
    __name__ == "__main__"
):  # python -m tests.report.factories > regenerates docs/comment.md's example
    from evalbot.report import render_comment

    print(render_comment(example_result(), details_url=EXAMPLE_DETAILS_URL), end="")

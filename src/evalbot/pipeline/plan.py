"""The plan of a run, counted before the first call: calls per suite, how many are cached, and
a rough cost, so that a person sees what is about to be spent (``report.progress`` prints it)."""

from __future__ import annotations

from evalbot.pipeline.suite import PreparedSuite
from evalbot.report.progress import SuitePlan
from evalbot.run.providers import cost_of, provider_spec
from evalbot.run.runner import ModelRunner, build_request

__all__ = ["plan_suites"]

CHARS_PER_TOKEN = 4
DEFAULT_OUTPUT_TOKENS = 256
"""Output tokens assumed per call when the model config sets no ``max_tokens``."""


def plan_suites(prepared: list[PreparedSuite], runner: ModelRunner) -> list[SuitePlan]:
    return [_plan(suite, runner) for suite in prepared]


def _plan(suite: PreparedSuite, runner: ModelRunner) -> SuitePlan:
    cached: int | None = 0
    estimated: float | None = 0.0
    for plan in suite.plans:
        params = plan.model.params
        out_tokens = params.get("max_tokens") or params.get("max_completion_tokens")
        out_tokens = out_tokens if isinstance(out_tokens, int) else DEFAULT_OUTPUT_TOKENS
        for i, messages in enumerate(plan.messages):
            in_tokens = sum(len(m.content) for m in messages) // CHARS_PER_TOKEN + 1
            for k in range(suite.samples):
                request = build_request(plan.model, messages, sample=k, vars=suite.examples[i].vars)
                hit = runner.is_cached(plan.model, request)
                if hit is None:
                    cached = None
                elif cached is not None:
                    cached += hit
                cost = cost_of(plan.model.price, in_tokens, out_tokens)
                if not provider_spec(plan.model.provider).cached:  # mock: no model is called
                    cost = 0.0
                if cost is None:
                    estimated = None
                elif estimated is not None and not hit:
                    estimated += cost
    return SuitePlan(
        name=suite.selection.suite.name,
        examples=len(suite.examples),
        samples=suite.samples,
        sides=len(suite.plans),
        cached=cached,
        estimated_usd=estimated,
    )

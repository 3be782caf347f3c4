"""The plan of a run, counted before the first call: calls per suite, how many are cached, and
a rough cost, so that a person sees what is about to be spent (``report.progress`` prints it)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from evalbot.errors import EvalbotError
from evalbot.inputs.config import EvalbotConfig
from evalbot.inputs.detect import SuiteSelection
from evalbot.inputs.tree import FileTree
from evalbot.options import DiffOptions
from evalbot.pipeline.suite import PreparedSuite, prepare_suite
from evalbot.report.progress import SuitePlan, plan_text
from evalbot.run.cache import ResponseCache
from evalbot.run.providers import cost_of, provider_spec
from evalbot.run.runner import ModelRunner, build_request

__all__ = ["dry_run_plans", "plan_suites"]

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


def dry_run_plans(
    chosen: list[SuiteSelection],
    *,
    config: EvalbotConfig,
    head_tree: FileTree,
    base_tree: FileTree | None,
    options: DiffOptions,
    env: Mapping[str, str],
) -> dict[str, str]:
    """``--dry-run``: per suite that would run, the plan as one sentence ("Planned: 74 examples
    × …"), or why there is none. The runner is offline: nothing can be sent. A suite that cannot
    be prepared gets its reason (the real run would stop on it), never an exception: the dry run
    still lists every suite."""

    async def plans() -> dict[str, str]:
        cache_dir = options.cache_dir or options.repo_root / ".evalbot" / "cache"
        cache = ResponseCache(cache_dir, secret=options.policy.cache_secret)
        runner = ModelRunner(cache=cache, offline=True, env=env, policy=options.policy)
        out: dict[str, str] = {}
        try:
            for selection in chosen:
                name = selection.suite.name
                try:
                    prepared = prepare_suite(
                        selection,
                        config=config,
                        head_tree=head_tree,
                        base_tree=base_tree,
                        runner=runner,
                        options=options,
                    )
                    out[name] = f"Planned: {plan_text(_plan(prepared, runner))}."
                except EvalbotError as exc:
                    out[name] = f"No plan: {exc}"
        finally:
            await runner.aclose()
        return out

    return asyncio.run(plans())

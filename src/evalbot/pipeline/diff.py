"""Composition of the stages: detect → render → run → score → stats → report.

The only module that knows every stage. Side effects (git, the model runner, the clock) are built
here from options or passed in; results are written before any error propagates.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from evalbot import __version__
from evalbot.errors import EvalbotError, UserError
from evalbot.inputs.config import (
    EvalbotConfig,
    ModelConfig,
    load_config,
    load_config_and_sha,
    load_model_config,
)
from evalbot.inputs.detect import select_suites
from evalbot.inputs.git import Git
from evalbot.inputs.tree import FileTree, GitTree, WorkTree
from evalbot.options import DiffOptions
from evalbot.pipeline.strictest import hold_to_base
from evalbot.records import (
    GateStatus,
    RunResult,
    SuiteResult,
    SuiteStatus,
    Usage,
)
from evalbot.report import write_outputs
from evalbot.safe_paths import safe_output_dir
from evalbot.scrub import Scrubber
from evalbot.startup import collect_for_a_run
from evalbot.trust import code_environment

if TYPE_CHECKING:
    from evalbot.pipeline.drift import DriftPlan
    from evalbot.pipeline.suite import PreparedSuite
    from evalbot.report.progress import Progress

__all__ = ["finish_run", "run_diff", "verdict_of"]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def verdict_of(suites: list[SuiteResult]) -> str:
    gates = [s.gate for s in suites if s.status != SuiteStatus.SKIPPED]
    if any(g == GateStatus.ERROR for g in gates) or any(
        s.status == SuiteStatus.ERROR for s in suites
    ):
        return "error"
    if any(g == GateStatus.FAIL for g in gates):
        return "fail"
    return "pass"


def _try_base_config(tree: FileTree, path: str, notes: list[str]) -> EvalbotConfig | None:
    if not tree.exists(path):
        notes.append(f"{path} does not exist on the base side: every suite is new.")
        return None
    try:
        return load_config(tree, path)
    except UserError as exc:
        notes.append(f"The base side's config is invalid ({exc}); every suite is treated as new.")
        return None


def _base_judge(
    suite: PreparedSuite, base_config: EvalbotConfig | None, base_tree: FileTree | None
) -> ModelConfig | None:
    """The judge model the base side's config gave this suite, when it had one."""
    base_suite = suite.selection.base_suite
    if base_config is None or base_tree is None or base_suite is None:
        return None
    judge = base_config.judge_for(base_suite)
    if judge is None or not base_tree.exists(judge.model):
        return None
    try:
        return load_model_config(base_tree, judge.model)[0]
    except UserError:
        return None


def _admit(
    prepared: list[PreparedSuite],
    options: DiffOptions,
    env: Mapping[str, str],
    *,
    base_config: EvalbotConfig | None,
    base_tree: FileTree | None,
) -> None:
    """The workflow's policy on every model file and golden set, before the first call."""
    policy = options.policy
    for suite in prepared:
        if policy.max_examples is not None and len(suite.examples) > policy.max_examples:
            raise UserError(
                f"suite {suite.selection.suite.name}: {len(suite.examples):,} examples, more "
                f"than this workflow allows ({policy.max_examples:,})",
                file=suite.head_plan.tree.label(suite.selection.suite.dataset),
                hint="raise the action input max-examples, or shard the run (input shard)",
            )
        head = suite.head_plan
        head_label = head.tree.label(head.model_path)
        for plan in suite.plans:
            policy.check_model(
                plan.model, label=plan.tree.label(plan.model_path), env=env, side=plan.side
            )
        if suite.base_plan is not None:
            policy.check_provider_change(suite.base_plan.model, head.model, label=head_label)
        else:
            policy.check_new_suite(head.model, label=head_label)
        if suite.judge is not None:
            label = head.tree.label(suite.judge.model_path)
            policy.check_model(suite.judge.model, label=label, env=env, side="judge")
            # The head's judge scores both sides: switching it (say to mock) is a provider change.
            base_judge = _base_judge(suite, base_config, base_tree)
            if base_judge is not None:
                policy.check_provider_change(base_judge, suite.judge.model, label=label)


def finish_run(
    result: RunResult,
    options: DiffOptions,
    scrubber: Scrubber | None = None,
    *,
    spent: dict[str, Usage] | None = None,
) -> RunResult:
    """Stamp, total the usage, scrub and write the outputs. ``spent`` (the runner's own
    counters) replaces the per-side totals after a stop: requests sent by suites that never
    finished have no side to be counted in, yet they reached the endpoint."""
    evaluated = [s for s in result.suites if s.status != SuiteStatus.SKIPPED]
    sides = [side for s in evaluated for side in (s.base, s.head, s.drift) if side is not None]
    usage = Usage.total([s.usage for s in sides])
    judge_usage = Usage.total([s.judge_usage for s in sides])
    if spent is not None:
        usage, judge_usage = spent["generate"], spent["judge"]
    result = result.model_copy(
        update={"finished_at": _now(), "usage": usage, "judge_usage": judge_usage}
    )
    if scrubber:
        result = scrubber.model(result)
    write_outputs(result, options.out_dir, check_name=options.check_name, root=options.repo_root)
    return result


def run_diff(
    options: DiffOptions, *, env: Mapping[str, str], progress: Progress | None = None
) -> RunResult:
    """Detect, evaluate both sides, test, report. Writes results before raising any error.

    ``progress`` (built at the entrypoint) is shown the plan before the first call and told of
    every call as it resolves."""
    safe_output_dir(options.out_dir, root=options.repo_root)  # refused before any work
    scrubber = Scrubber.from_env(env)
    git = Git(options.repo_root)
    head_tree: FileTree = (
        WorkTree(options.repo_root, git=git) if options.head is None else GitTree(git, options.head)
    )
    notes = list(options.extra_notes)
    config, config_sha256 = load_config_and_sha(head_tree, options.config_path)
    base_tree: FileTree | None = None
    base_config: EvalbotConfig | None = None
    changes = []
    merge_base = None
    if options.base is not None:
        merge_base = git.merge_base(options.base, options.head or "HEAD", head_sha=head_tree.sha)
        base_tree = GitTree(git, options.base, sha=merge_base)
        base_config = _try_base_config(base_tree, options.config_path, notes)
        changes = git.changes(merge_base, head_tree.sha)
    selections = select_suites(
        config,
        base_config,
        changes,
        config_path=options.config_path,
        requested=options.suites,
        run_all=options.run_all or options.base is None,
    )
    if options.policy.hold_to_base and base_tree is not None:
        held = hold_to_base(
            config,
            base_config,
            selections,
            base_tree=base_tree,
            head_tree=head_tree,
            changes=changes,
            config_path=options.config_path,
            requested=options.suites,
            run_all=options.run_all,
        )
        config, selections = held.config, held.selections
        notes.extend(held.notes)
    if options.base is None:
        notes.append("Single-side run: absolute thresholds only.")
    result = RunResult(
        tool_version=__version__,
        command="diff" if options.base is not None else "run",
        created_at=_now(),
        repo_root=str(options.repo_root),
        config_path=options.config_path,
        config_sha256=config_sha256,
        base_rev=options.base,
        base_sha=base_tree.sha if base_tree else None,
        head_rev=options.head or "WORKTREE",
        head_sha=head_tree.sha,
        merge_base=merge_base,
        changed_files=sorted({p for c in changes for p in c.paths()}),
        shard=options.shard,
        alpha=config.gate.alpha,
        seed=options.seed,
        notes=notes,
        gate_config=config.gate.model_dump(),
    )
    skipped = [
        SuiteResult(name=s.suite.name, status=SuiteStatus.SKIPPED, triggers=[])
        for s in selections
        if not s.selected
    ]
    chosen = [s for s in selections if s.selected]
    if options.dry_run:
        # The action's dry runs (a fork PR, no key) read nothing past detection; a person's
        # dry run also gets each suite's planned calls and cost.
        plans: dict[str, str] = {}
        if not options.policy.hold_to_base:
            from evalbot.pipeline.plan import dry_run_plans

            plans = dry_run_plans(
                chosen,
                config=config,
                head_tree=head_tree,
                base_tree=base_tree,
                options=options,
                env=env,
            )
        planned = [
            SuiteResult(
                name=s.suite.name,
                status=SuiteStatus.SKIPPED,
                triggers=s.reasons,
                notes=["Not evaluated: dry run (no model call).", plans.get(s.suite.name, "")],
            )
            for s in chosen
        ]
        result = result.model_copy(update={"suites": planned + skipped, "verdict": "neutral"})
        return finish_run(result, options, scrubber)
    if not chosen:  # a PR touching no eval input: no runner, so no model SDK, numpy or scipy
        result = result.model_copy(update={"suites": skipped, "verdict": verdict_of(skipped)})
        return finish_run(result, options, scrubber)

    # Only a run that evaluates something loads the runner and the statistics.
    collect_for_a_run()  # a run allocates for long: collect, in larger steps (evalbot.startup)
    import asyncio

    from evalbot.history.attach import open_history
    from evalbot.pipeline.drift import evaluate_drift, open_baseline, prepare_drift
    from evalbot.pipeline.flaky import observed_noise, with_flakiness
    from evalbot.pipeline.plan import plan_suites
    from evalbot.pipeline.power_warning import with_power_warning
    from evalbot.pipeline.slices import slice_members, with_slices
    from evalbot.pipeline.suite import finish_suite, generate_suite, prepare_suite
    from evalbot.run.cache import ResponseCache
    from evalbot.run.runner import ModelRunner

    # The drift budget's baseline (an unknown revision stops the run before any call) and
    # main's history (read only).
    baseline_notes: list[str] = []
    baseline = open_baseline(config.gate, git, options.config_path, baseline_notes)
    if baseline_notes:
        result = result.model_copy(update={"notes": [*result.notes, *baseline_notes]})
    history = open_history(options.repo_root, env)

    policy = options.policy
    cache_dir = options.cache_dir or options.repo_root / ".evalbot" / "cache"
    cache = ResponseCache(cache_dir, secret=policy.cache_secret)
    done: list[SuiteResult] = []
    spent: dict[str, Usage] = {}

    async def evaluate_all(code_home: Path) -> None:
        code_env = None
        if policy.code_env is not None:
            code_env = code_environment(env, policy.code_env, code_home)
        runner = ModelRunner(
            cache=cache,
            concurrency=options.concurrency,
            offline=options.offline,
            env=env,
            allowed_hosts=options.allowed_hosts,
            max_cost_usd=options.max_cost_usd,
            max_retries=(
                options.max_retries if options.max_retries is not None else config.max_retries
            ),
            max_requests=policy.max_requests,
            price_floor=policy.price_floor,
            policy=policy,
            code_env=code_env,
            scrubber=scrubber,
        )
        try:
            prepared = [
                prepare_suite(
                    s,
                    config=config,
                    head_tree=head_tree,
                    base_tree=base_tree,
                    runner=runner,
                    options=options,
                    base_config=base_config if policy.hold_to_base else None,
                )
                for s in chosen
            ]
            drift_of = {id(p): prepare_drift(p, baseline, options, env) for p in prepared}
            _admit(prepared, options, env, base_config=base_config, base_tree=base_tree)

            async def beyond(
                suite: PreparedSuite, finished: SuiteResult, drift: DriftPlan | None
            ) -> SuiteResult:
                """Slices, flaky examples, main's trend, the power warning, the drift budget."""
                finished = with_slices(
                    finished,
                    slice_members(suite.examples),
                    suite.selection.suite.thresholds,
                    gate=config.gate,
                    seed=options.seed,
                )
                main_flaky = history.flakiness(finished.name)
                finished = history.with_trends(with_flakiness(finished, main_flaky))
                finished = with_power_warning(
                    finished,
                    suite.selection.suite.thresholds,
                    alpha=config.gate.alpha,
                    observed=observed_noise(main_flaky, finished),
                )
                return await evaluate_drift(
                    finished,
                    suite,
                    drift,
                    baseline=baseline,
                    runner=runner,
                    gate=config.gate,
                    seed=options.seed,
                )

            if progress is not None:
                progress.plan(plan_suites(prepared, runner), max_cost_usd=options.max_cost_usd)
                runner.on_call = lambda purpose: progress.call_done(purpose, runner)
            if options.sequential or config.gate.sequential:  # batch by batch, suite by suite
                from evalbot.pipeline.judge_calibration import SEQUENTIAL_CALIBRATION_NOTE
                from evalbot.pipeline.sequential import evaluate_sequentially

                fixed_n = [p for p in prepared if p.calibrations]  # judge correction: fixed n
                for one in fixed_n:
                    one.notes.append(SEQUENTIAL_CALIBRATION_NOTE)
                for one in (p for p in prepared if not p.calibrations):
                    stopped = await evaluate_sequentially(
                        one, config=config, head_tree=head_tree, runner=runner, options=options
                    )
                    done.append(await beyond(one, stopped, drift_of[id(one)]))
                prepared = fixed_n
            generated = await asyncio.gather(*(generate_suite(p, runner) for p in prepared))
            for suite, suite_generated in zip(prepared, generated, strict=True):
                finished = await finish_suite(
                    suite,
                    suite_generated,
                    config=config,
                    head_tree=head_tree,
                    runner=runner,
                    options=options,
                )
                done.append(await beyond(suite, finished, drift_of[id(suite)]))
        finally:
            if progress is not None:
                progress.close()
            await runner.aclose()
            spent.update(generate=runner.usage("generate"), judge=runner.usage("judge"))

    try:
        # The user's code (python/exec providers) gets a private HOME and TMPDIR, removed after.
        with tempfile.TemporaryDirectory(prefix="evalbot-code-") as code_home:
            asyncio.run(evaluate_all(Path(code_home)))
    except EvalbotError as exc:
        failed = [s.suite.name for s in chosen[len(done) :]]
        errored = [
            SuiteResult(name=n, status=SuiteStatus.ERROR, gate=GateStatus.ERROR, notes=[str(exc)])
            for n in failed
        ]
        result = result.model_copy(
            update={"suites": done + errored + skipped, "verdict": "error", "summary": str(exc)}
        )
        finish_run(result, options, scrubber, spent=spent or None)
        raise
    suites = done + skipped
    result = result.model_copy(update={"suites": suites, "verdict": verdict_of(suites)})
    return finish_run(result, options, scrubber)

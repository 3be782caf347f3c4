"""Composition of the stages: detect → render → run → score → stats → report.

The only module that knows every stage. Side effects (git, the model runner, the clock) are built
here from options or passed in; results are written before any error propagates.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from evalbot import __version__
from evalbot.analyze import analyze_suite
from evalbot.config import (
    EvalbotConfig,
    SuiteConfig,
    load_config,
    load_model_config,
    sha256_text,
)
from evalbot.detect import SuiteSelection, select_suites
from evalbot.errors import EvalbotError, UserError
from evalbot.evaluate import (
    generate,
    metric_info,
    plan_side,
    score_pairs,
    score_side,
    usage_delta,
)
from evalbot.git import Git
from evalbot.golden import load_golden
from evalbot.options import DiffOptions
from evalbot.records import (
    Example,
    GateStatus,
    MetricKind,
    RunResult,
    SideRun,
    SuiteResult,
    SuiteStatus,
    Usage,
)
from evalbot.report import write_outputs
from evalbot.run.cache import ResponseCache
from evalbot.run.runner import ModelRunner
from evalbot.score.base import JUDGED_TYPES, JudgeRuntime, ScoreSetup, build_scorer
from evalbot.score.metrics import builtin_scorers
from evalbot.tree import FileTree, GitTree, WorkTree

__all__ = ["run_diff", "verdict_of"]


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


def _in_shard(example: Example, shard: str | None) -> bool:
    if not shard:
        return True
    k, n = (int(x) for x in shard.split("/"))
    bucket = int(hashlib.sha256(example.id.encode()).hexdigest()[:8], 16) % n
    return bucket == k - 1


def _try_base_config(tree: FileTree, path: str, notes: list[str]) -> EvalbotConfig | None:
    if not tree.exists(path):
        notes.append(f"{path} does not exist on the base side: every suite is new.")
        return None
    try:
        return load_config(tree, path)
    except UserError as exc:
        notes.append(f"The base side's config is invalid ({exc}); every suite is treated as new.")
        return None


def _judge_runtime(
    config: EvalbotConfig, selection: SuiteSelection, tree: FileTree, runner: ModelRunner
) -> JudgeRuntime | None:
    judged = [m for m in selection.suite.metrics if m.type in JUDGED_TYPES]
    if not judged:
        return None
    judge = config.judge_for(selection.suite)
    # Without a suite or top-level judge, a metric's own `judge:` model config serves as default.
    model_path = (
        judge.model
        if judge
        else next(
            (m.options["judge"] for m in judged if isinstance(m.options.get("judge"), str)), None
        )
    )
    if model_path is None:
        return None  # the scorer factory raises the one-line "needs an LLM judge" error
    model, _ = load_model_config(tree, model_path)
    calibration: dict[str, Any] | None = None
    if judge and judge.calibration and tree.exists(judge.calibration):
        try:
            calibration = json.loads(tree.read_text(judge.calibration))
        except json.JSONDecodeError:
            calibration = None
    return JudgeRuntime(runner=runner, model=model, model_path=model_path, calibration=calibration)


async def _evaluate_suite(
    selection: SuiteSelection,
    *,
    config: EvalbotConfig,
    head_tree: FileTree,
    base_tree: FileTree | None,
    runner: ModelRunner,
    options: DiffOptions,
) -> SuiteResult:
    suite = selection.suite
    golden = load_golden(head_tree, suite.dataset)
    examples = [e for e in golden.examples if _in_shard(e, options.shard)]
    samples = options.samples or suite.samples
    notes: list[str] = []
    head_plan = plan_side("head", head_tree, suite, examples)
    base_plan = None
    if selection.base_suite is not None and base_tree is not None:
        try:
            base_plan = plan_side("base", base_tree, selection.base_suite, examples)
        except UserError as exc:
            notes.append(f"Base side could not be prepared ({exc}); head evaluated alone.")
    if base_plan is None:
        notes.append("No base side: absolute thresholds only.")

    judge = _judge_runtime(config, selection, head_tree, runner)
    setup = ScoreSetup(tree=head_tree, judge=judge, cache_dir=options.cache_dir)
    where = head_tree.label(options.config_path)
    built = [(build_scorer(m, setup, where=where), m.type) for m in suite.metrics]
    built += [(s, "built-in") for s in builtin_scorers()]
    scorers = [s for s, _ in built if not hasattr(s, "compare")]
    pair_scorers = [s for s, _ in built if hasattr(s, "compare")]
    infos = [metric_info(s, t) for s, t in built]
    for scorer, _ in built:
        check = getattr(scorer, "check", None)
        if check is not None:
            for example in examples:
                check(example)  # metric values render now, before anything is spent

    plans = [head_plan] + ([base_plan] if base_plan else [])
    outputs = await asyncio.gather(
        *(generate(p, examples, samples=samples, runner=runner) for p in plans)
    )
    head = await score_side(head_plan, examples, outputs[0], scorers=scorers, runner=runner)
    base: SideRun | None = None
    if base_plan is not None:
        base = await score_side(base_plan, examples, outputs[1], scorers=scorers, runner=runner)
    if base is not None and pair_scorers:
        judge_before = runner.usage("judge")
        pair_values, pair_details = await score_pairs(
            pair_scorers, examples, outputs[1], outputs[0]
        )
        pair_usage = usage_delta(judge_before, runner.usage("judge"))
        head = head.model_copy(
            update={
                "scores": {**head.scores, **pair_values},
                "score_details": {**head.score_details, **pair_details},
                "judge_usage": _sum_usage([head.judge_usage, pair_usage]),
            }
        )
    if base is None:
        infos = [i for i in infos if i.kind != MetricKind.PAIRWISE]
    if judge is not None:
        note = _calibration_note(judge, [s for s, _ in built])
        if note:
            notes.append(note)

    analysis = analyze_suite(
        base=base,
        head=head,
        metrics=infos,
        thresholds=suite.thresholds,
        gate=config.gate,
        seed=options.seed,
    )
    comparisons = _with_pairwise_diagnostics(analysis.comparisons, head)
    by_id = {e.id: e for e in examples}
    return SuiteResult(
        name=suite.name,
        status=SuiteStatus.EVALUATED if base is not None else SuiteStatus.NEW,
        triggers=selection.reasons,
        samples=samples,
        base=base,
        head=head,
        comparisons=comparisons,
        absolute=analysis.absolute,
        gate=analysis.gate,
        notes=notes,
        flipped=analysis.flipped,
        flipped_inputs={
            i: {**by_id[i].vars, "expected": by_id[i].expected} for i in analysis.flipped
        },
        metrics=infos,
        thresholds={k: v.model_dump(exclude_none=True) for k, v in suite.thresholds.items()},
        files=_head_file_hashes(suite, head_tree, golden.sha256),
    )


def _head_file_hashes(suite: SuiteConfig, tree: FileTree, golden_sha: str) -> dict[str, str]:
    """Provenance: sha256 of every head-side input of the suite (prompt, model, golden set,
    rubrics, schemas); the base side's prompt and model hashes are in its SideRun."""
    hashes = {suite.dataset: golden_sha}
    for path in suite.files():
        if path not in hashes and tree.exists(path):
            hashes[path] = sha256_text(tree.read_text(path))
    return hashes


def _calibration_note(judge: JudgeRuntime, scorers: list) -> str | None:
    from evalbot.calibrate import calibration_note

    rubric_shas = {s.name: s.rubric_sha256 for s in scorers if hasattr(s, "rubric_sha256")}
    metric = (judge.calibration or {}).get("metric")
    rubric_sha = rubric_shas.get(metric) or next(iter(rubric_shas.values()), None)
    return calibration_note(
        judge.calibration, judge_model=judge.model.model, rubric_sha256=rubric_sha
    )


def _with_pairwise_diagnostics(comparisons: list, head: SideRun) -> list:
    from evalbot.score.pairwise import pairwise_diagnostics

    out = []
    for comparison in comparisons:
        if comparison.kind == MetricKind.PAIRWISE and comparison.metric in head.score_details:
            flat = [d for row in head.score_details[comparison.metric] for d in row if d]
            extra = {**comparison.extra, "diagnostics": pairwise_diagnostics(flat)}
            comparison = comparison.model_copy(update={"extra": extra})
        out.append(comparison)
    return out


def _sum_usage(usages: list[Usage]) -> Usage:
    fields = ("requests", "sent", "cache_hits", "errors", "input_tokens", "output_tokens")
    total = {f: sum(getattr(u, f) for u in usages) for f in fields}
    return Usage(**total, cost_usd=sum(u.cost_usd for u in usages))


def _finish(result: RunResult, options: DiffOptions) -> RunResult:
    evaluated = [s for s in result.suites if s.status != SuiteStatus.SKIPPED]
    sides = [side for s in evaluated for side in (s.base, s.head) if side is not None]
    result = result.model_copy(
        update={
            "finished_at": _now(),
            "usage": _sum_usage([s.usage for s in sides]),
            "judge_usage": _sum_usage([s.judge_usage for s in sides]),
        }
    )
    write_outputs(result, options.out_dir, check_name=options.check_name)
    return result


def run_diff(options: DiffOptions, *, env: Mapping[str, str]) -> RunResult:
    """Detect, evaluate both sides, test, report. Writes results before raising any error."""
    git = Git(options.repo_root)
    head_tree: FileTree = (
        WorkTree(options.repo_root, git=git) if options.head is None else GitTree(git, options.head)
    )
    notes = list(options.extra_notes)
    config = load_config(head_tree, options.config_path)
    base_tree: FileTree | None = None
    base_config: EvalbotConfig | None = None
    changes = []
    merge_base = None
    if options.base is not None:
        merge_base = git.merge_base(options.base, options.head or "HEAD")
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
    if options.base is None:
        notes.append("Single-side run: absolute thresholds only.")
    result = RunResult(
        tool_version=__version__,
        command="diff" if options.base is not None else "run",
        created_at=_now(),
        repo_root=str(options.repo_root),
        config_path=options.config_path,
        config_sha256=sha256_text(head_tree.read_text(options.config_path)),
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
        planned = [
            SuiteResult(
                name=s.suite.name,
                status=SuiteStatus.SKIPPED,
                triggers=s.reasons,
                notes=["Not evaluated: dry run (no model call)."],
            )
            for s in chosen
        ]
        result = result.model_copy(update={"suites": planned + skipped, "verdict": "neutral"})
        return _finish(result, options)

    cache = ResponseCache(options.cache_dir or options.repo_root / ".evalbot" / "cache")
    done: list[SuiteResult] = []

    async def evaluate_all() -> None:
        runner = ModelRunner(
            cache=cache,
            concurrency=options.concurrency,
            offline=options.offline,
            env=env,
            allowed_hosts=options.allowed_hosts,
            max_cost_usd=options.max_cost_usd,
        )
        try:
            for selection in chosen:
                done.append(
                    await _evaluate_suite(
                        selection,
                        config=config,
                        head_tree=head_tree,
                        base_tree=base_tree,
                        runner=runner,
                        options=options,
                    )
                )
        finally:
            await runner.aclose()

    try:
        asyncio.run(evaluate_all())
    except EvalbotError as exc:
        failed = [s.suite.name for s in chosen[len(done) :]]
        errored = [
            SuiteResult(name=n, status=SuiteStatus.ERROR, gate=GateStatus.ERROR, notes=[str(exc)])
            for n in failed
        ]
        result = result.model_copy(
            update={"suites": done + errored + skipped, "verdict": "error", "summary": str(exc)}
        )
        _finish(result, options)
        raise
    suites = done + skipped
    result = result.model_copy(update={"suites": suites, "verdict": verdict_of(suites)})
    return _finish(result, options)

"""One suite's evaluation in three steps: prepare (render and check everything, no spend),
generate (both sides; suites generate concurrently), finish (score, compare, gate)."""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass, field
from typing import Any

from evalbot.errors import UserError
from evalbot.inputs.config import EvalbotConfig, SuiteConfig, load_model_config, sha256_text
from evalbot.inputs.detect import SuiteSelection
from evalbot.inputs.golden import load_golden
from evalbot.inputs.tree import FileTree
from evalbot.options import DiffOptions, parse_shard
from evalbot.parsing import ParseProblem, load_json
from evalbot.pipeline.analyze import analyze_suite, errored_out
from evalbot.pipeline.evaluate import (
    SidePlan,
    generate,
    metric_info,
    plan_side,
    score_pairs,
    score_side,
    with_error_rate,
)
from evalbot.pipeline.judge_calibration import CalibrationUse, judged_metrics, resolve_calibrations
from evalbot.records import (
    Completion,
    Example,
    MetricKind,
    SideRun,
    SuiteResult,
    SuiteStatus,
    Usage,
)
from evalbot.run.runner import ModelRunner
from evalbot.score.base import (
    JudgeRuntime,
    PairScorer,
    Scorer,
    ScoreSetup,
    build_scorer,
    judged_types,
)
from evalbot.score.builtins import builtin_scorers

__all__ = [
    "Generated",
    "PreparedSuite",
    "finish_suite",
    "generate_suite",
    "in_shard",
    "prepare_suite",
    "with_pairwise_diagnostics",
]


def in_shard(example: Example, shard: str | None) -> bool:
    """Shard K/N holds the examples whose id hashes to bucket K-1 (stable across machines)."""
    if not shard:
        return True
    k, n = parse_shard(shard)
    bucket = int(hashlib.sha256(example.id.encode()).hexdigest()[:8], 16) % n
    return bucket == k - 1


def _judge_runtime(
    config: EvalbotConfig, selection: SuiteSelection, tree: FileTree, runner: ModelRunner
) -> JudgeRuntime | None:
    judged = [m for m in selection.suite.metrics if m.type in judged_types()]
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
            calibration = load_json(tree.read_text(judge.calibration))
        except ParseProblem:
            calibration = None
    return JudgeRuntime(runner=runner, model=model, model_path=model_path, calibration=calibration)


@dataclass
class PreparedSuite:
    """Everything a suite needs before its first model call: rendered, validated, scorers built."""

    selection: SuiteSelection
    examples: list[Example]
    samples: int
    golden_sha256: str
    head_plan: SidePlan
    base_plan: SidePlan | None
    judge: JudgeRuntime | None
    built: list[tuple[Scorer | PairScorer, str]]
    notes: list[str] = field(default_factory=list)
    positions: list[int] = field(default_factory=list)
    """Index of each example in the whole golden set (``SideRun.positions``)."""
    calibrations: list[CalibrationUse] = field(default_factory=list)
    """Judge calibration records that apply (``evalbot.pipeline.judge_calibration``)."""

    @property
    def plans(self) -> list[SidePlan]:
        return [self.head_plan] + ([self.base_plan] if self.base_plan else [])


def prepare_suite(
    selection: SuiteSelection,
    *,
    config: EvalbotConfig,
    head_tree: FileTree,
    base_tree: FileTree | None,
    runner: ModelRunner,
    options: DiffOptions,
    base_config: EvalbotConfig | None = None,
) -> PreparedSuite:
    """Load, render and check everything of one suite; raises UserError before any spend.

    ``base_config`` (the action only) makes the base branch's judge calibration record count
    too: a PR cannot drop or edit its way out of it."""
    suite = selection.suite
    golden = load_golden(head_tree, suite.dataset)
    positions = [i for i, e in enumerate(golden.examples) if in_shard(e, options.shard)]
    examples = [golden.examples[i] for i in positions]
    notes: list[str] = []
    head_plan = plan_side("head", head_tree, suite, examples)
    base_plan = None
    if selection.base_suite is not None and base_tree is not None:
        try:
            base_plan = plan_side("base", base_tree, selection.base_suite, examples)
        except UserError as exc:
            if options.policy.hold_to_base:
                # Head alone would judge the PR by absolute thresholds only: fail closed.
                raise UserError(
                    f"suite {suite.name}: the base side cannot be prepared with this PR's golden "
                    f"set or definition ({exc.message})",
                    file=exc.file,
                    line=exc.line,
                    hint="land the golden-set change in its own PR first, or keep the variable "
                    "the base prompt uses",
                ) from exc
            notes.append(f"Base side could not be prepared ({exc}); head evaluated alone.")
    if base_plan is None and base_tree is not None:
        # Without a base revision at all (`evalbot run`) the run's own note says it once.
        new = options.policy.hold_to_base and selection.base_suite is None
        why = " (a new suite: its prompt did not exist on the base)" if new else ""
        notes.append(f"No base side: absolute thresholds only{why}.")

    judge = _judge_runtime(config, selection, head_tree, runner)
    setup = ScoreSetup(tree=head_tree, judge=judge, cache_dir=options.cache_dir)
    where = head_tree.label(options.config_path)
    built: list[tuple[Scorer | PairScorer, str]] = [
        (build_scorer(m, setup, where=where), m.type) for m in suite.metrics
    ]
    built += [(s, "built-in") for s in builtin_scorers()]
    for scorer, _ in built:
        check = getattr(scorer, "check", None)
        if check is not None:
            for example in examples:
                check(example)  # metric values render now, before anything is spent
    base_side = None
    if base_config is not None and base_tree is not None:
        base_side = (base_tree, base_config, selection.base_suite)
    calibrations = resolve_calibrations(
        judged_metrics(built), head=(head_tree, config, suite), base=base_side
    )
    return PreparedSuite(
        calibrations=calibrations,
        selection=selection,
        examples=examples,
        samples=options.samples or suite.samples,
        golden_sha256=golden.sha256,
        head_plan=head_plan,
        base_plan=base_plan,
        judge=judge,
        built=built,
        notes=notes,
        positions=positions,
    )


@dataclass(frozen=True)
class Generated:
    """Both sides' generations of one suite: ``head[i][k]`` is sample k of example i."""

    head: list[list[Completion]]
    base: list[list[Completion]] | None


async def generate_suite(prepared: PreparedSuite, runner: ModelRunner) -> Generated:
    """Both sides' generations; suites may generate concurrently (one shared semaphore)."""
    sides = await asyncio.gather(
        *(
            generate(p, prepared.examples, samples=prepared.samples, runner=runner)
            for p in prepared.plans
        )
    )
    return Generated(head=sides[0], base=sides[1] if prepared.base_plan is not None else None)


async def finish_suite(
    prepared: PreparedSuite,
    generated: Generated,
    *,
    config: EvalbotConfig,
    head_tree: FileTree,
    runner: ModelRunner,
    options: DiffOptions,
) -> SuiteResult:
    """Score (one side at a time, so judge usage is attributed), compare, gate."""
    suite, examples, built = prepared.selection.suite, prepared.examples, prepared.built
    scorers = [s for s, _ in built if not isinstance(s, PairScorer)]
    pair_scorers = [s for s, _ in built if isinstance(s, PairScorer)]
    infos = [metric_info(s, t) for s, t in built]
    notes = list(prepared.notes)
    head = await score_side(
        prepared.head_plan, examples, generated.head, scorers=scorers, runner=runner
    )
    base: SideRun | None = None
    if prepared.base_plan is not None and generated.base is not None:
        base = await score_side(
            prepared.base_plan, examples, generated.base, scorers=scorers, runner=runner
        )
    if base is not None and generated.base is not None and pair_scorers:
        judge_before = runner.usage("judge")
        pair_values, pair_details = await score_pairs(
            pair_scorers, examples, generated.base, generated.head
        )
        pair_usage = runner.usage("judge").since(judge_before)
        head = head.model_copy(
            update={
                "scores": {**head.scores, **pair_values},
                "score_details": {**head.score_details, **pair_details},
                "judge_usage": Usage.total([head.judge_usage, pair_usage]),
            }
        )
    if base is None:
        infos = [i for i in infos if i.kind != MetricKind.PAIRWISE]
    head = head.model_copy(update={"positions": prepared.positions})
    if base is not None:
        base = base.model_copy(update={"positions": prepared.positions})
    judged = {s.name for s, t in built if t in judged_types()}
    head = with_error_rate(head, judged, pairwise={s.name for s in pair_scorers}, other=base)
    if base is not None:
        base = with_error_rate(base, judged)
    if prepared.judge is not None:
        note = _calibration_note(prepared.judge, [s for s, _ in built])
        if note:
            notes.append(note)

    analysis = analyze_suite(
        base=base,
        head=head,
        metrics=infos,
        thresholds=suite.thresholds,
        gate=config.gate,
        seed=options.seed,
        calibrations=prepared.calibrations,
    )
    notes = _error_notes(base, head, infos, suite, config.gate.max_error_rate) + notes
    by_id = {e.id: e for e in examples}
    return SuiteResult(
        name=suite.name,
        status=SuiteStatus.EVALUATED if base is not None else SuiteStatus.NEW,
        triggers=prepared.selection.reasons,
        samples=prepared.samples,
        base=base,
        head=head,
        comparisons=with_pairwise_diagnostics(analysis.comparisons, head),
        absolute=analysis.absolute,
        gate=analysis.gate,
        notes=notes,
        flipped=analysis.flipped,
        values=analysis.values,
        flipped_inputs={
            i: {**by_id[i].vars, "expected": by_id[i].expected} for i in analysis.flipped
        },
        metrics=infos,
        thresholds={k: v.model_dump(exclude_none=True) for k, v in suite.thresholds.items()},
        files=_head_file_hashes(suite, head_tree, prepared.golden_sha256),
        judge_calibrations=[u.model_dump() for u in prepared.calibrations],
    )


def _first_error(side: SideRun, metrics: list[str]) -> str | None:
    """The first scoring error of ``metrics`` on ``side``, else the first failed output's."""
    for name in metrics:
        for row in side.score_details.get(name, []):
            for detail in row:
                if detail and detail.get("error") and "errored" not in str(detail["error"]):
                    return str(detail["error"])
    return next((c.error for row in side.outputs for c in row if c.error), None)


def _error_notes(
    base: SideRun | None,
    head: SideRun,
    infos: list,
    suite: SuiteConfig,
    max_error_rate: float,
) -> list[str]:
    """Why a suite's gate is ``error``: the error budget a side overran (outputs and judge
    calls counted apart), and blocking metrics left with no score; each quotes the first error."""
    notes: list[str] = []
    judged = [i.name for i in infos if i.type in judged_types()]
    over = set()
    for side in (s for s in (base, head) if s is not None):
        if side.error_rate <= max_error_rate:
            continue
        over.add(side.side)
        n = len(side.example_ids)
        failed = round(side.error_rate * n)
        parts = []
        if failed - side.judge_errors:
            parts.append(f"{failed - side.judge_errors} failed outputs")
        if side.judge_errors:
            parts.append(f"{side.judge_errors} failed judge calls")
        first = _first_error(side, judged if side.judge_errors else [])
        quoted = f"; first error: {first}" if first else ""
        notes.append(
            f"{side.side}: {failed} of {n} examples errored ({', '.join(parts)}), past "
            f"max_error_rate {max_error_rate:.0%}{quoted}"
        )
    for metric, side_name in errored_out(base, head, infos, suite.thresholds):
        if side_name in over:
            continue  # the error budget already says why
        side = head if side_name == "head" or base is None else base
        first = _first_error(side, [metric])
        quoted = f" ({first})" if first else ""
        notes.append(
            f"Blocking metric {metric!r} has no score on the {side_name} side: scoring failed "
            f"for every example{quoted}; the suite cannot be gated."
        )
    return notes


def _head_file_hashes(suite: SuiteConfig, tree: FileTree, golden_sha: str) -> dict[str, str]:
    """Provenance: sha256 of every head-side input of the suite (prompt, model, golden set,
    rubrics, schemas); the base side's prompt and model hashes are in its SideRun."""
    hashes = {suite.dataset: golden_sha}
    for path in suite.files():
        if path not in hashes and tree.exists(path):
            hashes[path] = sha256_text(tree.read_text(path))
    return hashes


def _calibration_note(judge: JudgeRuntime, scorers: list) -> str | None:
    from evalbot.pipeline.calibrate import calibration_note

    rubric_shas = {s.name: s.rubric_sha256 for s in scorers if hasattr(s, "rubric_sha256")}
    metric = (judge.calibration or {}).get("metric")
    rubric_sha = rubric_shas.get(metric) or next(iter(rubric_shas.values()), None)
    return calibration_note(
        judge.calibration, judge_model=judge.model.model, rubric_sha256=rubric_sha
    )


def with_pairwise_diagnostics(comparisons: list, head: SideRun) -> list:
    from evalbot.score.pairwise import pairwise_diagnostics

    out = []
    for comparison in comparisons:
        if comparison.kind == MetricKind.PAIRWISE and comparison.metric in head.score_details:
            flat = [d for row in head.score_details[comparison.metric] for d in row if d]
            extra = {**comparison.extra, "diagnostics": pairwise_diagnostics(flat)}
            comparison = comparison.model_copy(update={"extra": extra})
        out.append(comparison)
    return out

"""The drift budget: the head compared with a pinned baseline revision (``gate.baseline``).

A per-PR margin protects each PR, not the product: ten PRs that each drop a metric by 1.5 points
pass a 2-point margin and lose 15 together. So each run also evaluates the suite as it was at the
baseline revision (its prompt and model config from that revision's tree, its definition from
that revision's config) on the head's golden set, and tests head − baseline against each metric's
``max_total_drop`` with the same statistics as the per-PR margin. The baseline side is just one
more side: its requests are the same at every run, so after the first run they come from the
response cache.

Pairing is on example ids: when the golden set changed since the baseline, only the ids present
in both are compared, and a note says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np

from evalbot.errors import EvalbotError, InputError, UserError
from evalbot.inputs.config import EvalbotConfig, GateConfig, SuiteConfig, Threshold, load_config
from evalbot.inputs.git import Git
from evalbot.inputs.golden import load_golden
from evalbot.inputs.tree import GitTree
from evalbot.options import DiffOptions
from evalbot.pipeline.analyze import _matrix
from evalbot.pipeline.evaluate import SidePlan, generate, plan_side, score_side
from evalbot.pipeline.suite import PreparedSuite
from evalbot.records import (
    DriftResult,
    Example,
    GateStatus,
    MetricInfo,
    MetricKind,
    SideRun,
    SuiteResult,
    SuiteStatus,
    Usage,
    Verdict,
)
from evalbot.run.runner import ModelRunner
from evalbot.score.base import PairScorer
from evalbot.stats import apply_gate, compare_metric

__all__ = [
    "Baseline",
    "DriftPlan",
    "budgets",
    "drift_verdicts",
    "evaluate_drift",
    "merge_drift",
    "open_baseline",
    "prepare_drift",
    "with_drift",
]


@dataclass
class Baseline:
    """The pinned revision: its tree and (when it has one) its config."""

    rev: str
    tree: GitTree
    config: EvalbotConfig | None


def budgets(suite: SuiteConfig) -> dict[str, float]:
    """Metric → ``max_total_drop`` for every blocking threshold that sets one."""
    return {
        metric: float(t.max_total_drop)
        for metric, t in suite.thresholds.items()
        if t.blocking and t.max_total_drop is not None
    }


def open_baseline(
    gate: GateConfig, git: Git, config_path: str, notes: list[str]
) -> Baseline | None:
    """The baseline's tree and config, or None when no baseline is pinned. An unknown revision
    raises (a drift budget that cannot be checked must not pass silently)."""
    if gate.baseline is None:
        return None
    try:
        tree = GitTree(git, gate.baseline)
    except EvalbotError as exc:
        raise UserError(
            f"gate.baseline {gate.baseline!r}: {exc.message}",
            file=config_path,
            hint="fetch the baseline (actions/checkout: fetch-depth: 0 and fetch-tags: true), "
            "or fix gate.baseline",
        ) from exc
    config = None
    if tree.exists(config_path):
        try:
            config = load_config(tree, config_path)
        except UserError as exc:
            notes.append(
                f"The baseline {gate.baseline}'s config is invalid ({exc.message}): suites are "
                "compared with the head's definitions of their files at the baseline."
            )
    return Baseline(rev=gate.baseline, tree=tree, config=config)


@dataclass
class DriftPlan:
    """One suite's baseline side, rendered before the first model call."""

    budgets: dict[str, float]
    plan: SidePlan | None
    examples: list[Example]
    notes: list[str] = field(default_factory=list)


def _baseline_suite(prepared: PreparedSuite, baseline: Baseline) -> SuiteConfig | None:
    """The suite as the baseline defined it: by name, else by its base name (a renamed suite),
    else the head's definition when its prompt and model existed at the baseline."""
    suite, base_suite = prepared.selection.suite, prepared.selection.base_suite
    if baseline.config is not None:
        for name in (suite.name, base_suite.name if base_suite else None):
            found = baseline.config.suite(name) if name else None
            if found is not None:
                return found
    if baseline.tree.exists(suite.prompt) and baseline.tree.exists(suite.model):
        return suite
    return None


def prepare_drift(
    prepared: PreparedSuite, baseline: Baseline | None, options: DiffOptions, env: Mapping[str, str]
) -> DriftPlan | None:
    """Render the suite's baseline side on the head's golden set (ids shared with the
    baseline's), checked by the workflow's policy like any other side. None: no drift budget."""
    wanted = budgets(prepared.selection.suite)
    if baseline is None or not wanted:
        return None
    name = prepared.selection.suite.name
    defined = _baseline_suite(prepared, baseline)
    if defined is None:
        note = f"No drift comparison: suite {name} did not exist at the baseline {baseline.rev}."
        return DriftPlan(budgets=wanted, plan=None, examples=[], notes=[note])
    examples, index = prepared.examples, list(range(len(prepared.examples)))
    notes: list[str] = []
    if baseline.tree.exists(defined.dataset):
        try:
            known = {e.id for e in load_golden(baseline.tree, defined.dataset).examples}
        except UserError:
            known = None
        if known is not None:
            index = [i for i, e in enumerate(prepared.examples) if e.id in known]
            examples = [prepared.examples[i] for i in index]
            if len(index) < len(prepared.examples):
                notes.append(
                    f"The golden set changed since the baseline {baseline.rev}: the drift "
                    f"comparison pairs the {len(index):,} of {len(prepared.examples):,} "
                    "example ids present in both."
                )
    try:
        plan = plan_side("base", baseline.tree, defined, examples)
    except UserError as exc:
        if options.policy.hold_to_base:
            raise UserError(
                f"suite {name}: the baseline side ({baseline.rev}) cannot be prepared with this "
                f"PR's golden set ({exc.message})",
                file=exc.file,
                line=exc.line,
                hint="move gate.baseline to a newer release in its own PR",
            ) from exc
        note = f"No drift comparison: the baseline side could not be prepared ({exc})."
        return DriftPlan(budgets=wanted, plan=None, examples=[], notes=[note])
    options.policy.check_model(
        plan.model, label=baseline.tree.label(plan.model_path), env=env, side="baseline"
    )
    return DriftPlan(budgets=wanted, plan=plan, examples=examples, notes=notes)


def _gate(status: GateStatus, drift: GateStatus) -> GateStatus:
    """The suite's gate with the drift gate folded in (an error stays an error)."""
    order = [GateStatus.PASS, GateStatus.WARN, GateStatus.FAIL]
    if status not in order or drift not in order:
        return status
    return max(status, drift, key=order.index)


def drift_verdicts(
    record: DriftResult,
    head: SideRun,
    metrics: list[MetricInfo],
    *,
    gate: GateConfig,
    seed: int,
) -> DriftResult:
    """Test head − baseline against each ``max_total_drop`` from the record's baseline scores,
    paired by example id. ``merge`` calls this again on the shards' concatenated records."""
    if not record.example_ids:
        return record
    position = {eid: i for i, eid in enumerate(head.example_ids)}
    pairs = [(k, position[eid]) for k, eid in enumerate(record.example_ids) if eid in position]
    ours = np.asarray([k for k, _ in pairs], dtype=int)
    theirs = np.asarray([i for _, i in pairs], dtype=int)
    groups = [head.groups[i] for i in theirs] if head.groups else []
    kinds = {m.name: m for m in metrics}
    comparisons = []
    for metric, budget in record.budgets.items():
        info = kinds.get(metric)
        if info is None or info.kind == MetricKind.PAIRWISE or metric not in record.scores:
            continue
        baseline_rows = np.asarray(
            [[np.nan if v is None else v for v in row] for row in record.scores[metric]],
            dtype=float,
        ).reshape(len(record.example_ids), -1)
        try:
            comparisons.append(
                compare_metric(
                    metric,
                    baseline_rows[ours],
                    _matrix(head, metric)[theirs],
                    kind=info.kind,
                    higher_is_better=info.higher_is_better,
                    groups=groups if any(g is not None for g in groups) else None,
                    alpha=gate.alpha,
                    max_drop=budget,
                    seed=seed,
                    blocking=True,
                )
            )
        except ValueError as exc:
            raise InputError(f"metric {metric!r} against the baseline: {exc}") from exc
    # Only a significant excess fails: an inconclusive drift comparison warns, whatever
    # on_inconclusive says (the budget bounds a slow loss; it does not ask each PR for proof).
    comparisons = apply_gate(
        comparisons,
        {m: Threshold(max_drop=b) for m, b in record.budgets.items()},
        alpha=gate.alpha,
        on_inconclusive="warn",
    )
    statuses = {c.gate for c in comparisons}
    drift_gate = GateStatus.PASS
    for status in (GateStatus.WARN, GateStatus.FAIL):
        if status in statuses:
            drift_gate = status
    notes = [n for n in record.notes if not n.startswith("Drift budget exceeded")]
    for c in comparisons:
        if c.verdict == Verdict.REGRESSED:
            notes.append(
                f"Drift budget exceeded: {c.metric} is significantly more than max_total_drop "
                f"{c.max_drop:g} below the baseline {record.baseline_rev} (Δ {c.delta:+.4g})."
            )
    return record.model_copy(
        update={"comparisons": comparisons, "gate": drift_gate, "notes": notes, "n": len(pairs)}
    )


def with_drift(result: SuiteResult, record: DriftResult | None) -> SuiteResult:
    """The suite result carrying its drift record, the drift gate folded into the suite's."""
    if record is None:
        return result
    return result.model_copy(update={"drift": record, "gate": _gate(result.gate, record.gate)})


async def evaluate_drift(
    result: SuiteResult,
    prepared: PreparedSuite,
    drift: DriftPlan | None,
    *,
    baseline: Baseline | None,
    runner: ModelRunner,
    gate: GateConfig,
    seed: int,
) -> SuiteResult:
    """Generate and score the baseline side, test head − baseline against ``max_total_drop``
    and fold the drift gate into the suite's. The per-PR result is otherwise unchanged."""
    if drift is None or baseline is None or result.head is None:
        return result
    if result.status == SuiteStatus.ERROR:
        return result
    record = DriftResult(
        baseline_rev=baseline.rev,
        baseline_sha=baseline.tree.sha,
        n=0,
        n_head=len(prepared.examples),
        notes=drift.notes,
        budgets=drift.budgets,
    )
    if drift.plan is None or not drift.examples:
        return with_drift(result, record)
    # Only the examples the head was evaluated on (a sequential run may stop early).
    evaluated = set(result.head.example_ids)
    keep = [i for i, e in enumerate(drift.examples) if e.id in evaluated]
    examples = [drift.examples[i] for i in keep]
    plan = replace(drift.plan, messages=[drift.plan.messages[i] for i in keep])
    scorers = [s for s, _ in prepared.built if not isinstance(s, PairScorer)]
    outputs = await generate(plan, examples, samples=prepared.samples, runner=runner)
    side = await score_side(plan, examples, outputs, scorers=scorers, runner=runner)
    record = record.model_copy(
        update={
            "usage": side.usage,
            "judge_usage": side.judge_usage,
            "example_ids": [e.id for e in examples],
            "scores": {m: side.scores[m] for m in drift.budgets if m in side.scores},
        }
    )
    record = drift_verdicts(record, result.head, result.metrics, gate=gate, seed=seed)
    return with_drift(result, record)


def merge_drift(
    pieces: list[SuiteResult],
    head: SideRun,
    metrics: list[MetricInfo],
    *,
    gate: GateConfig,
    seed: int,
) -> DriftResult | None:
    """One suite's drift record from its shards' (disjoint examples), retested as one run."""
    records = [p.drift for p in pieces if p.drift is not None]
    if not records:
        return None
    first = records[0]
    joined = first.model_copy(
        update={
            "example_ids": [e for r in records for e in r.example_ids],
            "scores": {
                m: [row for r in records for row in r.scores.get(m, [])] for m in first.scores
            },
            "n_head": sum(r.n_head for r in records),
            "usage": Usage.total([r.usage for r in records]),
            "judge_usage": Usage.total([r.judge_usage for r in records]),
            "notes": list(dict.fromkeys(n for r in records for n in r.notes)),
        }
    )
    return drift_verdicts(joined, head, metrics, gate=gate, seed=seed)

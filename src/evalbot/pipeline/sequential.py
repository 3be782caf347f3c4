"""Sequential evaluation of a suite: seeded random batches, stop when every blocking metric is
decided (``gate.sequential: true`` or ``--sequential``).

Each batch goes through the ordinary stages (generate both sides together, score, judge, cache)
by driving ``generate_suite`` and ``finish_suite`` on a slice of the prepared suite; nothing in
the runner changes. After each batch the anytime-valid betting tests of every blocking metric
(evalbot.stats.sequential) read the deltas so far. The order is seeded from ``--seed`` and the
suite's name, so a re-run draws the same first batches and answers them from the cache.

The unit is the example (its K samples stay together) or, when the golden set has groups, the
whole group. A blocking metric with no declared score range (latency, cost, pairwise judges) has
no sequential test: it waits for the end of the golden set, where it gets the fixed-n test.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from collections.abc import Sequence

import numpy as np

from evalbot.inputs.config import EvalbotConfig, GateConfig, Threshold
from evalbot.inputs.tree import FileTree
from evalbot.options import DiffOptions
from evalbot.pipeline.analyze import analyze_suite
from evalbot.pipeline.merge import _concat
from evalbot.pipeline.suite import (
    PreparedSuite,
    _error_notes,
    finish_suite,
    generate_suite,
    with_pairwise_diagnostics,
)
from evalbot.records import (
    Example,
    GateStatus,
    MetricComparison,
    MetricKind,
    SequentialRun,
    SideRun,
    SuiteResult,
    Verdict,
)
from evalbot.run.runner import ModelRunner
from evalbot.score.base import PairScorer, proportion_types
from evalbot.stats.gate import suite_gate
from evalbot.stats.sequential import Levels, SequentialState, decide

__all__ = ["BATCHES", "MIN_BATCH", "evaluate_sequentially", "sequential_enabled", "unit_order"]

BATCHES = 20
"""Looks over a full golden set: batches of about 5 % of the units."""
MIN_BATCH = 10


def sequential_enabled(config: EvalbotConfig, options: DiffOptions) -> bool:
    return options.sequential or config.gate.sequential


def unit_order(examples: Sequence[Example], *, suite: str, seed: int) -> list[list[int]]:
    """The units (example indices; a group's examples together) in a seeded random order that
    depends only on the seed, the suite's name and the example ids, not on earlier runs."""
    units: dict[str, list[int]] = {}
    for i, example in enumerate(examples):
        key = f"g:{example.group}" if example.group is not None else f"e:{example.id}"
        units.setdefault(key, []).append(i)
    digest = hashlib.sha256(f"evalbot sequential order\0{seed}\0{suite}".encode()).digest()
    rng = np.random.default_rng(int.from_bytes(digest[:8], "big"))
    keys = sorted(units)
    return [units[keys[i]] for i in rng.permutation(len(keys))]


def _delta_range(prepared: PreparedSuite, metric: str, kind: MetricKind) -> float | None:
    """Width of a score's declared range (a delta lies within ±width), or None if undeclared."""
    for scorer, type_name in prepared.built:
        if scorer.name != metric or isinstance(scorer, PairScorer):
            continue
        if kind == MetricKind.BINARY or type_name in proportion_types():
            return 1.0
        lo, hi = getattr(scorer, "lo", None), getattr(scorer, "hi", None)
        if kind == MetricKind.CONTINUOUS and lo is not None and hi is not None and hi > lo:
            return float(hi - lo)
    return None


def _slice(prepared: PreparedSuite, indices: list[int]) -> PreparedSuite:
    def plan(p):
        return (
            None if p is None else dataclasses.replace(p, messages=[p.messages[i] for i in indices])
        )

    return dataclasses.replace(
        prepared,
        examples=[prepared.examples[i] for i in indices],
        positions=[prepared.positions[i] for i in indices],
        head_plan=plan(prepared.head_plan),
        base_plan=plan(prepared.base_plan),
    )


def _row_means(side: SideRun, metric: str) -> np.ndarray:
    rows = side.scores.get(metric) or [[] for _ in side.example_ids]
    out = np.full(len(rows), np.nan)
    for i, row in enumerate(rows):
        values = [v for v in row if v is not None and math.isfinite(v)]
        if values:
            out[i] = sum(values) / len(values)
    return out


def _unit_deltas(part: SuiteResult, metric: str, higher_is_better: bool, sizes: list[int]):
    """Good-direction delta per unit of one batch: the mean over the unit's examples."""
    assert part.base is not None and part.head is not None
    delta = _row_means(part.head, metric) - _row_means(part.base, metric)
    if not higher_is_better:
        delta = -delta
    out, start = [], 0
    for size in sizes:
        chunk = delta[start : start + size]
        start += size
        valid = chunk[~np.isnan(chunk)]
        out.append(float(valid.mean()) if valid.size else math.nan)
    return out


@dataclasses.dataclass
class _Tracked:
    metric: str
    threshold: Threshold
    higher_is_better: bool
    width: float | None
    deltas: list[float] = dataclasses.field(default_factory=list)
    state: SequentialState | None = None
    decision: str | None = None

    @property
    def decided(self) -> bool:
        return self.decision is not None


async def evaluate_sequentially(
    prepared: PreparedSuite,
    *,
    config: EvalbotConfig,
    head_tree: FileTree,
    runner: ModelRunner,
    options: DiffOptions,
) -> SuiteResult:
    """Evaluate one suite batch by batch until every blocking metric is decided."""
    suite = prepared.selection.suite

    async def whole() -> SuiteResult:
        generated = await generate_suite(prepared, runner)
        return await finish_suite(
            prepared, generated, config=config, head_tree=head_tree, runner=runner, options=options
        )

    if prepared.base_plan is None:
        result = await whole()
        note = "Sequential: no base side to compare with; evaluated in full."
        return result.model_copy(update={"notes": [*result.notes, note]})
    kinds = {s.name: s for s, _ in prepared.built}
    tracked = [
        _Tracked(
            metric=name,
            threshold=threshold,
            higher_is_better=kinds[name].higher_is_better,
            width=_delta_range(prepared, name, kinds[name].kind),
        )
        for name, threshold in suite.thresholds.items()
        if threshold.blocking and name in kinds
    ]
    testable = [t for t in tracked if t.width is not None]
    units = unit_order(prepared.examples, suite=suite.name, seed=options.seed)
    levels = Levels(config.gate.alpha)
    size = max(MIN_BATCH, math.ceil(len(units) / BATCHES))
    parts: list[SuiteResult] = []
    used = 0
    while used < len(units):
        batch = units[used : used + size]
        used += len(batch)
        part_prepared = _slice(prepared, [i for unit in batch for i in unit])
        generated = await generate_suite(part_prepared, runner)
        part = await finish_suite(
            part_prepared,
            generated,
            config=config,
            head_tree=head_tree,
            runner=runner,
            options=options,
        )
        parts.append(part)
        if part.base is None:
            break
        for t in testable:
            assert t.width is not None
            t.deltas += _unit_deltas(part, t.metric, t.higher_is_better, [len(u) for u in batch])
            t.state = decide(
                np.array(t.deltas),
                low=-t.width,
                high=t.width,
                max_drop=t.threshold.margin,
                levels=levels,
                family=len(testable),
            )
            if t.decision is None and t.state.decision is not None:
                t.decision = t.state.decision
        if tracked and all(t.decided for t in tracked):
            break
    return _assemble(prepared, parts, tracked, units, used, levels, config.gate, options.seed)


def _assemble(
    prepared: PreparedSuite,
    parts: list[SuiteResult],
    tracked: list[_Tracked],
    units: list[list[int]],
    used: int,
    levels: Levels,
    gate: GateConfig,
    seed: int,
) -> SuiteResult:
    """One SuiteResult from the batches: the sides joined, non-blocking metrics tested on what
    was evaluated, blocking metrics from the betting tests (or the final fixed-n test)."""
    suite = prepared.selection.suite
    template = parts[-1]
    head = _concat([p.head for p in parts if p.head is not None])
    base = _concat([p.base for p in parts if p.base is not None])
    metrics = template.metrics
    analysis = analyze_suite(
        base=base, head=head, metrics=metrics, thresholds=suite.thresholds, gate=gate, seed=seed
    )
    comparisons = list(analysis.comparisons)
    stopped = used < len(units)
    by_name = {t.metric: t for t in tracked}
    final: dict[str, MetricComparison] = {}
    if not stopped and any(not t.decided for t in tracked):
        final = _final_tests(base, head, metrics, suite.thresholds, gate, levels, seed)
    evaluated = sum(len(u) for u in units[:used])
    for i, c in enumerate(comparisons):
        t = by_name.get(c.metric)
        if t is None:
            if stopped:
                note = f"on the {evaluated:,} examples evaluated before the early stop"
                comparisons[i] = c.model_copy(update={"notes": [*c.notes, note]})
            continue
        if t.decided and t.state is not None:
            comparisons[i] = _from_sequence(c, t, levels, family=sum(1 for x in tracked if x.width))
        elif c.metric in final:
            comparisons[i] = final[c.metric]
    analysis_gate = suite_gate(
        comparisons,
        analysis.absolute,
        error_rates={"head": head.error_rate, "base": base.error_rate},
        max_error_rate=gate.max_error_rate,
    )
    if analysis.gate == GateStatus.ERROR:
        analysis_gate = GateStatus.ERROR
    record = _record(parts, tracked, units, used, prepared)
    # Each batch's notes include its own error-budget notes; keep the others, recount those.
    per_batch = {n for p in parts for n in _batch_error_notes(p, suite, gate)}
    kept = [n for n in dict.fromkeys(n for p in parts for n in p.notes) if n not in per_batch]
    notes = _error_notes(base, head, metrics, suite, gate.max_error_rate) + kept
    by_id = {e.id: e for e in prepared.examples}
    return template.model_copy(
        update={
            "base": base,
            "head": head,
            "comparisons": with_pairwise_diagnostics(comparisons, head),
            "absolute": analysis.absolute,
            "gate": analysis_gate,
            "flipped": analysis.flipped,
            "values": analysis.values,  # head-only values of the joined batches, if no base
            "flipped_inputs": {
                i: {**by_id[i].vars, "expected": by_id[i].expected} for i in analysis.flipped
            },
            "notes": [*notes, sequential_note(record)],
            "sequential": record,
        }
    )


def _batch_error_notes(part: SuiteResult, suite, gate: GateConfig) -> list[str]:
    if part.head is None:
        return []
    return _error_notes(part.base, part.head, part.metrics, suite, gate.max_error_rate)


def _final_tests(
    base: SideRun,
    head: SideRun,
    metrics,
    thresholds,
    gate: GateConfig,
    levels: Levels,
    seed: int,
) -> dict[str, MetricComparison]:
    """The fixed-n test at the end, at the level the looks left: "regressed" at α − α_looks(r),
    "within margin" at α − α_looks(w); each verdict's error stays ≤ α (union bound)."""
    regressed = analyze_suite(
        base=base,
        head=head,
        metrics=metrics,
        thresholds=thresholds,
        gate=gate.model_copy(update={"alpha": levels.final_regressed}),
        seed=seed,
    )
    within = analyze_suite(
        base=base,
        head=head,
        metrics=metrics,
        thresholds=thresholds,
        gate=gate.model_copy(update={"alpha": levels.final_within}),
        seed=seed,
    )
    out: dict[str, MetricComparison] = {}
    within_by = {c.metric: c for c in within.comparisons}
    note = (
        f"undecided by the betting tests: fixed-n test at the end, regressed at "
        f"α = {levels.final_regressed:.3g}, within the margin at α = {levels.final_within:.3g} "
        "(the looks spent the rest of α)"
    )
    for c in regressed.comparisons:
        if not c.blocking:
            continue
        chosen = c if c.verdict == Verdict.REGRESSED else within_by.get(c.metric, c)
        out[c.metric] = chosen.model_copy(update={"notes": [*chosen.notes, note]})
    return out


def _from_sequence(
    c: MetricComparison, t: _Tracked, levels: Levels, *, family: int
) -> MetricComparison:
    """A blocking metric's row from its betting test: verdict, anytime p and the sequence."""
    state = t.state
    assert state is not None
    lower, upper = state.lower, state.upper
    if t.decision == "regressed":
        verdict, gate = Verdict.REGRESSED, GateStatus.FAIL
    elif (lower is not None and lower > 0) or t.threshold.margin == 0:
        # Within a margin of 0 is above 0: improved ("unchanged" needs a positive margin).
        verdict, gate = Verdict.IMPROVED, GateStatus.PASS
    else:
        verdict, gate = Verdict.UNCHANGED, GateStatus.PASS
    if c.higher_is_better:
        ci_low, ci_high = lower, upper
    else:
        ci_low = None if upper is None else -upper
        ci_high = None if lower is None else -lower
    what = "regressed" if t.decision == "regressed" else "within the margin"
    upper_level = levels.looks_regressed / family
    note = (
        f"decided {what} by an anytime-valid betting test after {state.n:,} paired units; "
        f"the CI is its confidence sequence (lower end at α = {levels.looks_within:.3g}, "
        f"upper end at α = {upper_level:.3g}), valid whenever the run stopped"
    )
    return c.model_copy(
        update={
            "test": "betting test (anytime-valid, sequential)",
            "interval_method": "betting confidence sequence",
            "ci_low": ci_low,
            "ci_high": ci_high,
            "confidence": 1 - levels.looks_within - upper_level,
            "p_value": state.p_regressed,
            "p_adjusted": min(1.0, state.p_regressed * family),
            "verdict": verdict,
            "gate": gate,
            "mde": None,
            "notes": [*c.notes, note],
        }
    )


def _record(
    parts: Sequence[SuiteResult],
    tracked: list[_Tracked],
    units: list[list[int]],
    used: int,
    prepared: PreparedSuite,
) -> SequentialRun:
    total_examples = len(prepared.examples)
    evaluated = sum(len(u) for u in units[:used])
    sides = [s for p in parts for s in (p.base, p.head) if s is not None]
    requests = sum(s.usage.requests + s.judge_usage.requests for s in sides)
    cost = sum(s.usage.cost_usd + s.judge_usage.cost_usd for s in sides)
    left = total_examples - evaluated
    per_example = requests / evaluated if evaluated else 0.0
    decisions: dict[str, str] = {}
    for t in tracked:
        if t.decision is not None:
            decisions[t.metric] = t.decision.replace("_", " ")
        elif t.width is None:
            decisions[t.metric] = "no declared score range: waited for the end"
        else:
            decisions[t.metric] = "undecided"
    stopped = used < len(units)
    if stopped:
        reason = "all blocking metrics decided"
    elif not tracked:
        reason = "no blocking metric: evaluated in full"
    else:
        reason = "reached the end of the golden set"
    return SequentialRun(
        unit="group" if any(len(u) > 1 for u in units) else "example",
        units_evaluated=used,
        units_total=len(units),
        examples_evaluated=evaluated,
        examples_total=total_examples,
        batches=len(parts),
        stopped_early=stopped,
        reason=reason,
        decisions=decisions,
        requests_saved=round(per_example * left),
        cost_saved_usd=cost / evaluated * left if evaluated else 0.0,
    )


def sequential_note(record: SequentialRun) -> str:
    """ "Stopped after 340 of 1,000 examples (all blocking metrics decided)" or why not."""
    what = "groups" if record.unit == "group" else "examples"
    counts = f"{record.units_evaluated:,} of {record.units_total:,} {what}"
    if record.stopped_early:
        return f"Sequential: stopped after {counts} ({record.reason})."
    return f"Sequential: evaluated all {counts} ({record.reason})."

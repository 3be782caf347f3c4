"""``evalbot merge``: combine shard results (same suites, disjoint examples), redo the statistics.

Works from results.json records alone, so the shards may run on different machines.
"""

from __future__ import annotations

from pathlib import Path

from evalbot.errors import EvaluationError, UserError
from evalbot.inputs.config import GateConfig, Threshold
from evalbot.options import DiffOptions
from evalbot.pipeline.analyze import analyze_suite
from evalbot.pipeline.diff import finish_run, verdict_of
from evalbot.pipeline.evaluate import served_by, usage_of
from evalbot.pipeline.suite import with_pairwise_diagnostics
from evalbot.records import RunResult, SideRun, SuiteResult, SuiteStatus, Usage

__all__ = ["merge_results"]


def merge_results(directories: list[Path], options: DiffOptions) -> RunResult:
    """Combine shard results (same suites, disjoint examples) and redo the statistics."""
    parts = []
    for directory in directories:
        path = directory / "results.json"
        try:
            parts.append(RunResult.model_validate_json(path.read_text(encoding="utf-8")))
        except FileNotFoundError as exc:
            raise UserError("no results.json here", file=str(directory)) from exc
        except ValueError as exc:
            raise UserError(f"not a results.json of evalbot: {exc}", file=str(path)) from exc
    if not parts:
        raise UserError("evalbot merge needs at least one results directory")
    first = parts[0]
    gate = GateConfig.model_validate(first.gate_config or {})
    suites: list[SuiteResult] = []
    for name in dict.fromkeys(s.name for p in parts for s in p.suites):
        pieces = [s for p in parts for s in p.suites if s.name == name]
        template = pieces[0]
        if template.status in (SuiteStatus.SKIPPED, SuiteStatus.ERROR) or template.head is None:
            suites.append(template)
            continue
        head = _concat([s.head for s in pieces if s.head])
        base = _concat([s.base for s in pieces if s.base]) if template.base else None
        thresholds = {k: Threshold.model_validate(v) for k, v in template.thresholds.items()}
        analysis = analyze_suite(
            base=base,
            head=head,
            metrics=template.metrics,
            thresholds=thresholds,
            gate=gate,
            seed=first.seed,
        )
        suites.append(
            template.model_copy(
                update={
                    "base": base,
                    "head": head,
                    "comparisons": with_pairwise_diagnostics(analysis.comparisons, head),
                    "absolute": analysis.absolute,
                    "gate": analysis.gate,
                    "flipped": analysis.flipped,
                    "flipped_inputs": {k: v for s in pieces for k, v in s.flipped_inputs.items()},
                    "notes": list(dict.fromkeys(n for s in pieces for n in s.notes)),
                }
            )
        )
    if any(s.status == SuiteStatus.ERROR for s in suites):
        raise EvaluationError("a shard ended in error; re-run it before merging")
    result = first.model_copy(
        update={
            "command": "merge",
            "shard": None,
            "suites": suites,
            "verdict": verdict_of(suites),
            "notes": [*first.notes, f"Merged from {len(parts)} shard result(s)."],
        }
    )
    return finish_run(result, options)


def _concat(sides: list[SideRun]) -> SideRun:
    first = sides[0]
    ids = [i for s in sides for i in s.example_ids]
    if len(set(ids)) != len(ids):
        raise UserError("shards overlap: the same example appears in two results directories")
    metrics = list(first.scores)
    outputs = [row for s in sides for row in s.outputs]
    return first.model_copy(
        update={
            "example_ids": ids,
            "groups": [g for s in sides for g in s.groups],
            "outputs": outputs,
            "scores": {m: [r for s in sides for r in s.scores.get(m, [])] for m in metrics},
            "score_details": {
                m: [r for s in sides for r in s.score_details.get(m, [])]
                for m in first.score_details
            },
            "usage": usage_of(outputs),
            "served_by": served_by(outputs),
            "judge_usage": Usage.total([s.judge_usage for s in sides]),
            "error_rate": sum(s.error_rate * len(s.example_ids) for s in sides) / max(len(ids), 1),
            "judge_errors": sum(s.judge_errors for s in sides),
        }
    )

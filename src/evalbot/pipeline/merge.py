"""``evalbot merge``: combine shard results (same suites, disjoint examples), redo the statistics.

Works from the shards' results directories alone (results.json and its outputs file), so the
shards may run on different machines.
"""

from __future__ import annotations

import re
from pathlib import Path

from evalbot.errors import EvaluationError, UserError
from evalbot.inputs.config import GateConfig, Threshold
from evalbot.options import DiffOptions
from evalbot.pipeline.analyze import analyze_suite
from evalbot.pipeline.diff import finish_run, verdict_of
from evalbot.pipeline.drift import merge_drift, with_drift
from evalbot.pipeline.evaluate import served_by, usage_of
from evalbot.pipeline.judge_calibration import CalibrationUse
from evalbot.pipeline.slices import with_slices
from evalbot.pipeline.suite import with_pairwise_diagnostics
from evalbot.records import RunResult, SideRun, SuiteResult, SuiteStatus, Usage
from evalbot.report.results_io import load_full

__all__ = ["check_shards_match", "merge_results"]


def merge_results(directories: list[Path], options: DiffOptions) -> RunResult:
    """Combine shard results (same suites, disjoint examples) and redo the statistics."""
    # Shard results are artifacts of other jobs: read as untrusted (capped, validated, the
    # outputs file streamed and checked against its results.json).
    parts = [load_full(directory) for directory in directories]
    if not parts:
        raise UserError("evalbot merge needs at least one results directory")
    check_shards_match(parts, directories)
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
            calibrations=[CalibrationUse.model_validate(c) for c in template.judge_calibrations],
        )
        drift = merge_drift(pieces, head, template.metrics, gate=gate, seed=first.seed)
        members = {
            k: [e for s in pieces for e in s.slice_members.get(k, [])] for k in _labels(pieces)
        }
        suites.append(
            with_drift(
                template.model_copy(
                    update={
                        "base": base,
                        "head": head,
                        "comparisons": with_pairwise_diagnostics(analysis.comparisons, head),
                        "absolute": analysis.absolute,
                        "gate": analysis.gate,
                        "flipped": analysis.flipped,
                        "values": analysis.values,
                        "flipped_inputs": {
                            k: v for s in pieces for k, v in s.flipped_inputs.items()
                        },
                        "notes": list(dict.fromkeys(n for s in pieces for n in s.notes)),
                    }
                ),
                drift,
            )
        )
        suites[-1] = with_slices(suites[-1], members, thresholds, gate=gate, seed=first.seed)
    if any(s.status == SuiteStatus.ERROR for s in suites):
        raise EvaluationError("a shard ended in error; re-run it before merging")
    result = first.model_copy(
        update={
            "command": "merge",
            "shard": None,
            "suites": suites,
            "verdict": verdict_of(suites),
            "notes": [*first.notes, f"Merged from {len(parts)} shard result(s)."],
            # The outputs are in memory now; writing the merge makes its own outputs file.
            "outputs_file": None,
        }
    )
    return finish_run(result, options)


# Fields every shard must share: a merge of shards that evaluated different code, data or
# settings would report a verdict that no single run could have produced.
_SAME = {
    "head_sha": "head commit",
    "base_sha": "base commit",
    "merge_base": "merge base",
    "config_sha256": "evalbot.yml",
    "tool_version": "evalbot version",
    "seed": "seed",
    "gate_config": "gate settings",
}


def _suite_inputs(result: RunResult) -> dict[str, object]:
    """Per-suite provenance (golden set, rubrics, prompt and model files of both sides)."""
    return {
        s.name: (
            s.files,
            [(d.prompt_sha256, d.model_sha256, d.sha) for d in (s.base, s.head) if d],
        )
        for s in result.suites
        if s.status not in (SuiteStatus.SKIPPED, SuiteStatus.ERROR)
    }


def check_shards_match(parts: list[RunResult], directories: list[Path]) -> None:
    """Refuse (exit 2, one line naming the directory) shards that cannot add up to one run:
    different commits, config, version or inputs; the same shard twice; a missing shard."""
    first, first_dir = parts[0], directories[0]
    for part, directory in zip(parts[1:], directories[1:], strict=True):
        for field, label in _SAME.items():
            if getattr(part, field) != getattr(first, field):
                raise UserError(
                    f"shards disagree on the {label} ({field}: {getattr(first, field)!r} in "
                    f"{first_dir}, {getattr(part, field)!r} here); merge shards of one run only",
                    file=str(directory),
                )
        if _suite_inputs(part) != _suite_inputs(first):
            raise UserError(
                f"shards evaluated different suite inputs than {first_dir} (golden set, prompt, "
                "model or rubric files differ); merge shards of one run only",
                file=str(directory),
            )
    if len(parts) == 1 and first.shard is None:
        return
    seen: dict[int, Path] = {}
    total = None
    for part, directory in zip(parts, directories, strict=True):
        if part.shard is None:
            raise UserError(
                "not a shard result (run without --shard) merged with others: shards overlap",
                file=str(directory),
            )
        k, n = _shard_of(part.shard, directory)
        if total is not None and n != total:
            raise UserError(
                f"shard {part.shard} is of a {n}-way split, the others of {total}",
                file=str(directory),
            )
        total = n
        if k in seen:
            raise UserError(
                f"shards overlap: shard {k}/{n} is both here and in {seen[k]}",
                file=str(directory),
            )
        seen[k] = directory
    missing = [f"{k}/{total}" for k in range(1, (total or 0) + 1) if k not in seen]
    if missing:
        raise UserError(
            f"missing shard(s) {', '.join(missing)}: pass the results directory of every shard"
        )


def _shard_of(shard: str, directory: Path) -> tuple[int, int]:
    match = re.fullmatch(r"([1-9][0-9]{0,5})/([1-9][0-9]{0,5})", shard)
    if match is None or int(match[1]) > int(match[2]):
        raise UserError(f"results.json names an invalid shard {shard!r}", file=str(directory))
    return int(match[1]), int(match[2])


def _aligned(sides: list[SideRun]) -> bool:
    return all(len(s.positions) == len(s.example_ids) for s in sides)


def _golden_order(sides: list[SideRun]) -> list[int]:
    """Permutation putting the concatenated shards back in golden-set order (identity when a
    shard predates ``positions``)."""
    positions = [p for s in sides for p in s.positions]
    if not _aligned(sides):
        return list(range(sum(len(s.example_ids) for s in sides)))
    if len(set(positions)) != len(positions):
        raise UserError("shards overlap: two shards hold the same golden-set position")
    return sorted(range(len(positions)), key=positions.__getitem__)


def _concat(sides: list[SideRun]) -> SideRun:
    first = sides[0]
    order = _golden_order(sides)

    def joined(rows_of) -> list:
        rows = [r for s in sides for r in rows_of(s)]
        return [rows[i] for i in order]

    ids = joined(lambda s: s.example_ids)
    if len(set(ids)) != len(ids):
        raise UserError("shards overlap: the same example appears in two results directories")
    metrics = list(first.scores)
    outputs = joined(lambda s: s.outputs)
    return first.model_copy(
        update={
            "example_ids": ids,
            "positions": joined(lambda s: s.positions) if _aligned(sides) else [],
            "groups": joined(lambda s: s.groups),
            "outputs": outputs,
            "scores": {m: joined(lambda s, m=m: s.scores.get(m, [])) for m in metrics},
            "score_details": {
                m: joined(lambda s, m=m: s.score_details.get(m, [])) for m in first.score_details
            },
            "usage": usage_of(outputs),
            "served_by": served_by(outputs),
            "judge_usage": Usage.total([s.judge_usage for s in sides]),
            # Each rate is a count over its shard's examples: recover the counts exactly, so the
            # merged rate is the float a single run computes (count / n).
            "error_rate": sum(round(s.error_rate * len(s.example_ids)) for s in sides)
            / max(len(ids), 1),
            "judge_errors": sum(s.judge_errors for s in sides),
        }
    )


def _labels(pieces: list[SuiteResult]) -> list[str]:
    return list(dict.fromkeys(k for s in pieces for k in s.slice_members))

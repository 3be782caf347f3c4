"""``evalbot calibrate --labels FILE``: how well a suite's LLM judge agrees with human labels.

The judge metric is run, through the same runner, cache and frozen steps as a diff, on outputs
that humans have scored. Agreement is reported as Cohen's κ (quadratic-weighted for ordinal
scales), Krippendorff's α and Spearman's ρ, each with a seeded item-bootstrap interval, and the
verdict is read off the *lower* bound of α (Krippendorff: ≥ 0.800 reliable, 0.667–0.800
tentative). Rows with two or more human ratings give the human–human ceiling.

The record written (``--out``) is what ``judge.calibration`` in evalbot.yml points at; the PR
comment notes a missing, stale (other judge model or rubric) or failing record.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from evalbot import __version__
from evalbot.errors import ConfigError, InputError, UserError
from evalbot.inputs.config import (
    MetricConfig,
    SuiteConfig,
    load_config,
    load_model_config,
    sha256_text,
)
from evalbot.options import DEFAULT_CONCURRENCY
from evalbot.pipeline.calibrate_pairwise import (
    PairLabel,
    label_rows,
    pairwise_agreement,
    parse_pair_labels,
)
from evalbot.pipeline.judge_calibration import RECORD_SCHEMA, judge_prompt_version
from evalbot.records import Completion, Example
from evalbot.stats.agreement import ALPHA_RELIABLE, ALPHA_TENTATIVE, agreement, verdict_for

__all__ = [
    "ALPHA_RELIABLE",
    "ALPHA_TENTATIVE",
    "CalibrationOptions",
    "LabelledOutput",
    "agreement",
    "calibrate",
    "calibration_note",
    "load_labels",
    "verdict_for",
]


def pointwise_judges() -> tuple[str, ...]:
    """The judge metric types calibrate supports: every judged type but pairwise ones."""
    from evalbot.records import MetricKind
    from evalbot.score import metric_types

    pointwise = (t for t in metric_types() if t.needs_judge and t.kind != MetricKind.PAIRWISE)
    return tuple(t.type for t in pointwise)


def pairwise_judges() -> tuple[str, ...]:
    """The pairwise judge metric types (calibrated with human preferences between two answers)."""
    from evalbot.records import MetricKind
    from evalbot.score import metric_types

    return tuple(t.type for t in metric_types() if t.needs_judge and t.kind == MetricKind.PAIRWISE)


_RESERVED = {"id", "output", "human", "metric", "expected", "context", "group", "metadata", "vars"}


# ---------------------------------------------------------------------------------------------
# Labels
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LabelledOutput:
    example: Example
    output: str
    human: list[float]
    """One rating per human rater (at least one)."""


def _human(value: Any, *, label: str, line: int) -> list[float]:
    values = value if isinstance(value, list) else [value]
    ratings = []
    for v in values:
        if v is None:
            continue
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise InputError(
                f"'human' must be a number or a list of numbers, got {v!r}",
                file=label,
                line=line,
                hint='e.g. "human": 4 or "human": [4, 5] for two raters',
            )
        ratings.append(float(v))
    if not ratings:
        raise InputError("'human' has no rating", file=label, line=line)
    return ratings


def load_labels(path: Path, *, metric: str | None = None) -> list[LabelledOutput]:
    """JSONL rows ``{id?, vars… | input…, output, human, metric?, expected?, context?}``.

    Rows naming another ``metric`` are skipped; rows without one apply to any metric.
    """
    label = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise InputError("labels file not found", file=label) from exc
    return parse_labels(text, label=label, metric=metric)


def parse_labels(text: str, *, label: str, metric: str | None = None) -> list[LabelledOutput]:
    """``load_labels`` on a file's text (a labels file read from a git revision)."""
    from evalbot.inputs.golden import derive_id

    rows: list[LabelledOutput] = []
    for number, row in label_rows(text, label=label, metric=metric):
        if not isinstance(row.get("output"), str):
            raise InputError("'output' (the judged text) is missing", file=label, line=number)
        if "human" not in row:
            raise InputError("'human' (the human score) is missing", file=label, line=number)
        variables = row.get("vars")
        if not isinstance(variables, dict):
            variables = {k: v for k, v in row.items() if k not in _RESERVED}
        context = row.get("context")
        if isinstance(context, str):
            context = [context]
        example = Example(
            id=str(row.get("id") or derive_id({k: v for k, v in row.items() if k != "human"})),
            vars=variables,
            expected=row.get("expected"),
            group=row.get("group"),
            context=context,
            metadata=row.get("metadata") or {},
            line=number,
        )
        human = _human(row["human"], label=label, line=number)
        rows.append(LabelledOutput(example=example, output=row["output"], human=human))
    if not rows:
        raise InputError("no labelled rows for this metric", file=label)
    return rows


# ---------------------------------------------------------------------------------------------
# Running the judge on the labels
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CalibrationOptions:
    labels: Path
    repo_root: Path = Path(".")
    config_path: str = "evalbot.yml"
    suite: str | None = None
    metric: str | None = None
    offline: bool = False
    cache_dir: Path | None = None
    concurrency: int = DEFAULT_CONCURRENCY
    seed: int = 0
    n_resamples: int = 2000
    allowed_hosts: tuple[str, ...] | None = None


def _pick(
    config_suites: list[SuiteConfig], suite: str | None, metric: str | None
) -> tuple[SuiteConfig, MetricConfig]:
    candidates = [
        (s, m)
        for s in config_suites
        for m in s.metrics
        if (suite is None or s.name == suite) and (metric is None or m.name == metric)
    ]
    if suite is not None and not any(s.name == suite for s in config_suites):
        raise ConfigError(f"no suite named {suite!r}", hint="check --suite against evalbot.yml")
    supported = (*pointwise_judges(), *pairwise_judges())
    judged = [(s, m) for s, m in candidates if m.type in supported]
    if metric is not None and candidates and not judged:
        raise UserError(
            f"metric {metric!r} is of type {candidates[0][1].type!r}: calibrate supports "
            f"judge metrics ({', '.join(supported)})"
        )
    if len(judged) == 1:
        return judged[0]
    names = ", ".join(f"{s.name}/{m.name}" for s, m in judged) or "none"
    raise UserError(
        f"pick one judge metric with --suite and --metric (candidates: {names})",
        hint="e.g. evalbot calibrate --labels labels.jsonl --suite support --metric helpful",
    )


async def _judge_all(scorer: Any, rows: list[Any]) -> list[Any]:
    if rows and isinstance(rows[0], PairLabel):  # A in the base's slot, B in the head's
        pairs = (
            scorer.compare(row.example, Completion(text=row.a), Completion(text=row.b))
            for row in rows
        )
        return list(await asyncio.gather(*pairs))
    return list(
        await asyncio.gather(
            *(scorer.score(row.example, Completion(text=row.output)) for row in rows)
        )
    )


def calibrate(options: CalibrationOptions, *, env: Mapping[str, str]) -> dict[str, Any]:
    """Run the judge metric on the labels and return the calibration record."""
    from evalbot.inputs.tree import WorkTree
    from evalbot.run.cache import ResponseCache
    from evalbot.run.runner import ModelRunner
    from evalbot.score import JudgeRuntime, ScoreSetup, build_scorer
    from evalbot.score.rubric import RubricScorer

    tree = WorkTree(options.repo_root)
    config = load_config(tree, options.config_path)
    suite, metric = _pick(config.suites, options.suite, options.metric)
    judge_config = config.judge_for(suite)
    runtime_path = judge_config.model if judge_config else metric.options.get("judge")
    if not isinstance(runtime_path, str):
        raise ConfigError(
            f"suite {suite.name!r} has no judge",
            file=tree.label(options.config_path),
            hint="add 'judge: {model: models/judge.yaml}' to evalbot.yml",
        )
    runtime_model, _ = load_model_config(tree, runtime_path)
    judge_path = str(metric.options.get("judge") or runtime_path)
    model, _ = load_model_config(tree, judge_path)
    pairwise = metric.type in pairwise_judges()
    rows: list[Any]
    if pairwise:
        rows = parse_pair_labels(
            _read_labels(options.labels), label=str(options.labels), metric=metric.name
        )
    else:
        rows = load_labels(options.labels, metric=metric.name)
    cache_dir = options.cache_dir or options.repo_root / ".evalbot" / "cache"

    async def score_rows() -> tuple[Any, list[Any]]:
        runner = ModelRunner(
            cache=ResponseCache(cache_dir),
            concurrency=options.concurrency,
            offline=options.offline,
            env=env,
            allowed_hosts=options.allowed_hosts,
        )
        try:
            setup = ScoreSetup(
                tree=tree,
                judge=JudgeRuntime(runner=runner, model=runtime_model, model_path=runtime_path),
                cache_dir=cache_dir,
            )
            scorer = build_scorer(metric, setup, where=tree.label(options.config_path))
            return scorer, await _judge_all(scorer, rows)
        finally:
            await runner.aclose()

    scorer, scores = asyncio.run(score_rows())
    scale = (scorer.lo, scorer.hi) if isinstance(scorer, RubricScorer) else None
    humans: list[Any] = [row.human for row in rows]
    if pairwise:
        result = pairwise_agreement(
            [s.value for s in scores],
            humans,
            [s.details for s in scores],
            seed=options.seed,
            n_resamples=options.n_resamples,
        )
    else:
        result = agreement(
            [s.value for s in scores],
            humans,
            scale=scale,
            seed=options.seed,
            n_resamples=options.n_resamples,
        )
    errors = [s.details.get("error") for s in scores if s.value is None]
    judge_values = _judge_values(rows, scores, label=str(options.labels))
    return {
        "schema": RECORD_SCHEMA,
        "judge_model": model.model,
        "judge_model_path": judge_path,
        "suite": suite.name,
        "metric": metric.name,
        "metric_type": metric.type,
        "rubric_path": metric.options.get("rubric"),
        "rubric_sha256": getattr(scorer, "rubric_sha256", None),
        "prompt_version": judge_prompt_version(scorer),
        **result,
        "sensitivity": None
        if pairwise
        else _sensitivity_summary(judge_values, list(rows), result, options),
        "bars": {"reliable": ALPHA_RELIABLE, "tentative": ALPHA_TENTATIVE},
        "judge_errors": [e for e in errors if e][:5],
        "labels": _repo_relative(options.labels, options.repo_root),
        "labels_sha256": sha256_text(options.labels.read_text(encoding="utf-8")),
        "judge_values": judge_values,
        "seed": options.seed,
        "n_resamples": options.n_resamples,
        "tool_version": __version__,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _read_labels(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise InputError("labels file not found", file=str(path)) from exc


def _judge_values(rows: list[Any], scores: list[Any], *, label: str) -> dict[str, float]:
    """The judge's value per label id: what a diff recomputes se/sp or the slope from."""
    seen: dict[str, int] = {}
    for row in rows:
        if row.example.id in seen:
            raise InputError(
                f"label id {row.example.id!r} is used twice (first on line {seen[row.example.id]})",
                file=label,
                line=row.example.line,
                hint="give every labelled output its own 'id'",
            )
        seen[row.example.id] = row.example.line or 0
    return {
        row.example.id: float(score.value)
        for row, score in zip(rows, scores, strict=True)
        if score.value is not None and math.isfinite(score.value)
    }


def _sensitivity_summary(
    judge_values: dict[str, float],
    rows: list[Any],
    result: dict[str, Any],
    options: CalibrationOptions,
) -> dict[str, Any]:
    """se/sp and J (binary) or the Deming slope, each with a 95 % interval, for the summary.

    Informational: a diff never reads these numbers back, it recomputes them from the labels.
    """
    from evalbot.stats.judge_correction import estimate_sensitivity

    pairs = [(judge_values[r.example.id], float(np.mean(r.human))) for r in rows
             if r.example.id in judge_values]  # fmt: skip
    judge = np.array([p[0] for p in pairs])
    human = np.array([p[1] for p in pairs])
    binary = bool(result.get("binary"))
    if binary and result.get("scale"):
        lo, hi = result["scale"]
        judge, human = (judge - lo) / (hi - lo), ((human - lo) / (hi - lo) >= 0.5).astype(float)
    sens = estimate_sensitivity(
        judge,
        human,
        binary=binary,
        alpha=0.025,
        n_resamples=options.n_resamples,
        seed=options.seed,
    )
    summary = sens.as_dict()
    summary["confidence"] = 0.95
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
            for k, v in summary.items()}  # fmt: skip


def _repo_relative(path: Path, root: Path) -> str:
    """The labels path as a diff finds it: relative to the repository root when inside it."""
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)


# ---------------------------------------------------------------------------------------------
# PR comment note
# ---------------------------------------------------------------------------------------------


def calibration_note(
    record: dict[str, Any] | None, *, judge_model: str, rubric_sha256: str | None
) -> str | None:
    """One line for the PR comment when the judge's calibration is missing, stale or failing."""
    how = "run evalbot calibrate (see docs/judges.md)"
    if record is None:
        return f"Judge {judge_model} is not calibrated against human labels; {how}."
    if not isinstance(record, dict) or "verdict" not in record:
        return f"The judge's calibration record is unreadable; {how}."
    if record.get("judge_model") != judge_model:
        return (
            f"Judge calibration is stale: it was made for {record.get('judge_model')}, "
            f"this run's judge is {judge_model}; {how}."
        )
    if rubric_sha256 and record.get("rubric_sha256") not in (None, rubric_sha256):
        return f"Judge calibration is stale: the rubric changed since it was made; {how}."
    if record.get("verdict") != "reliable":
        low = (record.get("cis") or {}).get("alpha", [None])[0]
        bound = f"{low:.2f}" if isinstance(low, int | float) else "n/a"
        return (
            f"Judge calibration is {record.get('verdict')}: Krippendorff's α lower bound "
            f"{bound} (reliable ≥ {ALPHA_RELIABLE:.2f}) on {record.get('n')} labels."
        )
    return None

"""Which calibration record a judge metric may be corrected with, and the correction itself.

A calibration record (``evalbot calibrate --out``) lives in the repository, next to its labels,
so a pull request can edit both. Three rules keep that from loosening the gate:

1. **Recomputed, not trusted.** The record's se/sp or slope are never read back: the run pairs the
   judge values the record stored per label with the human ratings of the labels file itself
   (whose SHA-256 the record must match) and recomputes the sensitivity and its bounds.
2. **Stale is never used.** Another judge model, rubric hash, judge prompt version or labels file
   than the record was made with makes it stale; the metric is then *uncalibrated*: its verdict
   cannot be "unchanged" on judge units alone, and the gate follows ``on_inconclusive``.
3. **Only tighter.** A correction can only make the gate stricter than the judge's raw verdict:
   the regression p-value is the smaller of the corrected and the raw one, the lower bound the
   lower of the two. In the action (``hold_to_base``) the base branch's record is applied as well
   as the head's, and the strictest result counts, so a PR that edits, deletes or invalidates a
   record or its labels cannot turn a regression green.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from evalbot.errors import UserError
from evalbot.inputs.config import EvalbotConfig, SuiteConfig, Threshold, sha256_text
from evalbot.inputs.tree import FileTree
from evalbot.parsing import ParseProblem, load_json
from evalbot.records import MetricComparison, MetricInfo, MetricKind, SideRun, Verdict
from evalbot.stats import compare_metric
from evalbot.stats.gate import decide_verdict, good_bounds
from evalbot.stats.judge_correction import (
    SENSITIVITY_FLOOR,
    Sensitivity,
    corrected_bounds,
    estimate_sensitivity,
    split_alpha,
)

__all__ = [
    "RECORD_SCHEMA",
    "SEQUENTIAL_CALIBRATION_NOTE",
    "CalibrationUse",
    "JudgedMetric",
    "apply_calibrations",
    "judge_prompt_version",
    "judged_metrics",
    "resolve_calibrations",
]

RECORD_SCHEMA = "evalbot-calibration/2"
SEQUENTIAL_CALIBRATION_NOTE = (
    "Evaluated at fixed n, not sequentially: the judge correction needs the whole sample."
)


def judge_prompt_version(scorer: Any) -> str:
    """The version lines of evalbot's judge prompts a scorer renders (its ``judge_prompts``;
    every prompt for a scorer that does not say), e.g.
    ``rubric-steps/1+rubric-score/1+data-rule/1``: a new prompt makes a record stale."""
    from importlib import resources

    from evalbot.score.judge_io import load_prompt

    names = getattr(scorer, "judge_prompts", None)
    if names is None:
        files = resources.files("evalbot.prompts").iterdir()
        names = tuple(sorted(f.name[:-3] for f in files if f.name.endswith(".md")))
    versions = [load_prompt(n).version for n in names if n != "data_rule"]
    rule = (resources.files("evalbot.prompts") / "data_rule.md").read_text(encoding="utf-8")
    versions.append(rule.partition("\n")[0].removeprefix("version:").strip())
    return "+".join(versions)


class JudgedMetric(BaseModel):
    """What a judge metric of this run is scored with (a record must match all of it)."""

    model_config = ConfigDict(frozen=True, defer_build=True)
    name: str
    type: str
    judge_model: str
    rubric_sha256: str | None = None
    prompt_version: str


class CalibrationUse(BaseModel):
    """A record checked against this run: usable (with its label pairs) or stale (and why).

    Kept in results.json (``SuiteResult.judge_calibrations``) so ``merge`` and the report can
    redo the correction without the repository."""

    model_config = ConfigDict(frozen=True, defer_build=True)
    metric: str
    source: Literal["head", "base"]
    path: str
    status: Literal["usable", "stale", "legacy"]
    reason: str | None = None
    """Why a record is stale ("rubric changed", …)."""
    binary: bool = False
    judge: list[float] = Field(default_factory=list)
    human: list[float] = Field(default_factory=list)
    """Per label, the judge's value (from the record) and the mean human rating (from the
    labels file), on the scale's 0–1 span for binary labels."""
    ids: list[str] = Field(default_factory=list)
    judge_model: str | None = None
    created_at: str | None = None
    labels_path: str | None = None


def _stale(metric: str, source: str, path: str, reason: str) -> CalibrationUse:
    return CalibrationUse(
        metric=metric,
        source=source,  # type: ignore[arg-type]
        path=path,
        status="stale",
        reason=reason,
    )


def check_record(
    tree: FileTree, path: str, *, source: Literal["head", "base"], judged: Sequence[JudgedMetric]
) -> CalibrationUse | None:
    """The record at ``path`` of ``tree`` against the run's judged metrics (None: no record)."""
    from evalbot.pipeline.calibrate import parse_labels

    if not tree.exists(path):
        return None
    fallback = judged[0].name if judged else "?"
    try:
        record = load_json(tree.read_text(path))
    except (ParseProblem, UserError, UnicodeDecodeError):
        return _stale(fallback, source, path, "the record is not valid JSON")
    if not isinstance(record, dict):
        return _stale(fallback, source, path, "the record is not a JSON object")
    metric_name = record.get("metric")
    metric = next((m for m in judged if m.name == metric_name), None)
    if metric is None:
        return None  # a record for another suite's or another metric's judge
    name = metric.name

    def stale(reason: str) -> CalibrationUse:
        return _stale(name, source, path, reason)

    if record.get("schema") != RECORD_SCHEMA or not isinstance(record.get("judge_values"), dict):
        # An agreement-only record (schema 1) never corrected anything: the metric stays in
        # judge units, as before, and the comment asks for a new record.
        reason = "made before corrections: re-run evalbot calibrate"
        return CalibrationUse(metric=name, source=source, path=path, status="legacy", reason=reason)
    for key, now, what in (
        ("judge_model", metric.judge_model, "judge model"),
        ("rubric_sha256", metric.rubric_sha256, "rubric"),
        ("prompt_version", metric.prompt_version, "judge prompt version"),
    ):
        if record.get(key) != now:
            return stale(f"{what} changed ({_short(record.get(key))} → {_short(now)})")
    labels_path = record.get("labels")
    try:
        text = tree.read_text(labels_path) if isinstance(labels_path, str) else None
    except UserError:
        text = None  # missing, outside the repository, or a symlink out of it
    if text is None or not isinstance(labels_path, str):
        return stale(f"its labels file {labels_path!r} is not in the repository")
    if sha256_text(text) != record.get("labels_sha256"):
        return stale(f"labels changed ({labels_path} no longer has the labelled set's hash)")
    try:
        rows = parse_labels(text, label=labels_path, metric=name)
    except UserError as exc:
        return stale(f"its labels do not load: {exc.message}")
    values = record["judge_values"]
    judge: list[float] = []
    human: list[float] = []
    ids: list[str] = []
    for row in rows:
        value = values.get(row.example.id)
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            judge.append(float(value))
            human.append(float(np.mean(row.human)))
            ids.append(row.example.id)
    binary = bool(record.get("binary"))
    if binary:
        scale = record.get("scale") or [0, 1]
        lo, hi = float(scale[0]), float(scale[1])
        judge = [(v - lo) / (hi - lo) for v in judge]
        human = [float((v - lo) / (hi - lo) >= 0.5) for v in human]
    return CalibrationUse(
        metric=name,
        source=source,
        path=path,
        status="usable",
        binary=binary,
        judge=judge,
        human=human,
        ids=ids,
        judge_model=metric.judge_model,
        created_at=str(record.get("created_at") or "") or None,
        labels_path=labels_path,
    )


def _short(value: Any) -> str:
    text = "none" if value is None else str(value)
    return text[:12] if len(text) == 64 else text  # a SHA-256: its first 12 digits


def _record_path(config: EvalbotConfig | None, suite: SuiteConfig | None) -> str | None:
    if config is None or suite is None:
        return None
    judge = config.judge_for(suite)
    return judge.calibration if judge is not None else None


def resolve_calibrations(
    judged: Sequence[JudgedMetric],
    *,
    head: tuple[FileTree, EvalbotConfig, SuiteConfig],
    base: tuple[FileTree, EvalbotConfig | None, SuiteConfig | None] | None = None,
) -> list[CalibrationUse]:
    """Every record that applies to one of ``judged``: the head's, and the base's when given
    (the action holds a PR to its base: the base's record counts even if the PR removes it)."""
    out: list[CalibrationUse] = []
    sides: list[tuple[Literal["head", "base"], FileTree, str | None]] = [
        ("head", head[0], _record_path(head[1], head[2]))
    ]
    if base is not None:
        sides.append(("base", base[0], _record_path(base[1], base[2])))
    for source, tree, path in sides:
        if path is None:
            continue
        use = check_record(tree, path, source=source, judged=judged)
        if use is not None:
            out.append(use)
    return out


# ---------------------------------------------------------------------------------------------
# The correction of one comparison
# ---------------------------------------------------------------------------------------------


def _sensitivity(use: CalibrationUse, alpha_s: float, seed: int) -> Sensitivity:
    return estimate_sensitivity(use.judge, use.human, binary=use.binary, alpha=alpha_s, seed=seed)


def _metric_bounds(low: float | None, high: float | None, higher_is_better: bool) -> tuple:
    if low is None or high is None:
        return None, None
    return (low, high) if higher_is_better else (-high, -low)


def _finite_or_none(value: Any) -> float | None:
    return float(value) if value is not None and math.isfinite(float(value)) else None


def correct_comparison(
    raw: MetricComparison,
    uses: Sequence[CalibrationUse],
    *,
    base: np.ndarray,
    head: np.ndarray,
    groups: Sequence[str | None] | None,
    alpha: float,
    max_drop: float,
    seed: int,
) -> MetricComparison:
    """``raw`` (judge units, from ``compare_metric``) corrected with every applicable record.

    The strictest of the raw result and every record's corrected result decides (module
    docstring); the interval shown is the corrected one with the lowest lower bound.
    """
    alpha_d, alpha_s = split_alpha(alpha)
    raw_low_good, _ = good_bounds(raw)
    entries: list[dict[str, Any]] = []
    candidates: list[tuple[float | None, float | None, float | None, float | None]] = []
    uncalibrated: list[str] = []
    for use in uses:
        entry: dict[str, Any] = {
            "source": use.source,
            "path": use.path,
            "status": use.status,
            "reason": use.reason,
            "labels": len(use.judge),
            "created_at": use.created_at,
        }
        entries.append(entry)
        if use.status != "usable":
            uncalibrated.append(f"stale: {use.reason}")
            continue
        sens = _sensitivity(use, alpha_s, seed)
        entry["sensitivity"] = sens.as_dict()
        if not sens.calibrated or raw.delta is None:
            entry["status"] = "uncalibrated"
            what = "J" if sens.kind == "binary" else "slope"
            uncalibrated.append(
                f"uncalibrated: {what} {sens.estimate:.2f}, bound {sens.low:.2f} reaches 0 "
                f"(needs > {SENSITIVITY_FLOOR:g}) on {sens.n} labels"
            )
            continue
        split = compare_metric(
            raw.metric,
            base,
            head,
            kind=raw.kind,
            higher_is_better=raw.higher_is_better,
            groups=groups,
            alpha=alpha_d,
            max_drop=max_drop * sens.high,
            seed=seed,
            blocking=raw.blocking,
        )
        low_d, high_d = good_bounds(split)
        low = high = None
        if low_d is not None and high_d is not None:
            box = corrected_bounds(low_d, high_d, sens.low, sens.high)
            low, high = _finite_or_none(box.low), _finite_or_none(box.high)
        p = None if split.p_value is None else min(1.0, split.p_value + alpha_s)
        delta = raw.delta / sens.estimate
        entry.update({"delta": delta, "ci_good": [low, high], "p_value": p})
        candidates.append((low, high, p, delta))
    extra = dict(raw.extra)
    notes = list(raw.notes)
    raw_view = {
        "delta": raw.delta,
        "ci_low": raw.ci_low,
        "ci_high": raw.ci_high,
        "p_value": raw.p_value,
        "verdict": str(raw.verdict),
    }
    # A regression shown by the raw judge or by any usable record fails, whatever the others say.
    ps = [c[2] for c in candidates if c[2] is not None]
    if raw.p_value is not None:
        ps.append(raw.p_value)
    p_final = min(ps) if ps else None
    if uncalibrated or not candidates:
        extra["judge_correction"] = {"status": "uncalibrated", "raw": raw_view, "records": entries}
        notes.append(
            f"judge {'; '.join(uncalibrated)}: no corrected interval, so this metric cannot "
            "read unchanged (the gate follows on_inconclusive; a regression still fails)"
        )
        verdict = decide_verdict(p_value=p_final, lower_good=None, max_drop=max_drop, alpha=alpha)
        if raw.verdict == Verdict.NOT_COMPARED:
            verdict = raw.verdict
        return raw.model_copy(
            update={"ci_low": None, "ci_high": None, "p_value": p_final, "verdict": verdict,
                    "notes": notes, "extra": extra}
        )  # fmt: skip
    # The strictest candidate: the lowest lower bound (None = no bound, the strictest).
    shown = min(candidates, key=lambda c: -math.inf if c[0] is None else c[0])
    lows = [c[0] for c in candidates] + [raw_low_good]
    lower_final = None if any(v is None for v in lows) else min(v for v in lows if v is not None)
    used = [e for e in entries if "delta" in e]
    sens = min((e["sensitivity"] for e in used), key=lambda s: s["low"])
    what = "J" if sens["kind"] == "binary" else "slope"
    notes.append(
        f"corrected for judge error to human units ({what} {sens['estimate']:.2f} "
        f"[{sens['low']:.2f}, {sens['high']:.2f}] from {sens['n']} labels); the judge's own "
        f"Δ is {raw.delta:+.3g}"
    )
    if lower_final is not None and shown[0] is not None and lower_final < shown[0]:
        notes.append("the judge's raw lower bound is stricter than the corrected one and applies")
    ci_low, ci_high = _metric_bounds(lower_final, shown[1], raw.higher_is_better)
    extra["judge_correction"] = {
        "status": "corrected",
        "raw": raw_view,
        "records": entries,
        "alpha_split": [alpha_d, alpha_s],
    }
    verdict = decide_verdict(
        p_value=p_final, lower_good=lower_final, max_drop=max_drop, alpha=alpha
    )
    return raw.model_copy(
        update={
            "delta": shown[3],
            "ci_low": ci_low,
            "ci_high": ci_high,
            "p_value": p_final,
            "mde": None if raw.mde is None else raw.mde / max(_smallest_sensitivity(entries), 1e-9),
            "verdict": verdict,
            "notes": notes,
            "extra": extra,
            "interval_method": f"{raw.interval_method}, corrected for judge error",
        }
    )


def _smallest_sensitivity(entries: list[dict[str, Any]]) -> float:
    values = [e["sensitivity"]["estimate"] for e in entries if "sensitivity" in e]
    return min(values) if values else 1.0


def apply_calibrations(
    comparisons: list[MetricComparison],
    uses: Sequence[CalibrationUse],
    *,
    base: SideRun,
    head: SideRun,
    metrics: Sequence[MetricInfo],
    thresholds: Mapping[str, Threshold],
    alpha: float,
    matrix: Any,
    seed: int,
) -> list[MetricComparison]:
    """Replace each calibrated (or stale-calibrated) judge metric's comparison by its correction."""
    if not uses:
        return comparisons
    kinds = {m.name: m.kind for m in metrics}
    groups = head.groups if any(g is not None for g in head.groups) else None
    out = []
    for comparison in comparisons:
        mine = [u for u in uses if u.metric == comparison.metric]
        legacy = [u for u in mine if u.status == "legacy"]
        mine = [u for u in mine if u.status != "legacy"]
        if not mine or kinds.get(comparison.metric) == MetricKind.PAIRWISE:
            if legacy and kinds.get(comparison.metric) != MetricKind.PAIRWISE:
                note = {"status": "legacy", "records": [
                    {"source": u.source, "path": u.path, "status": u.status, "reason": u.reason}
                    for u in legacy
                ]}  # fmt: skip
                extra = {**comparison.extra, "judge_correction": note}
                comparison = comparison.model_copy(update={"extra": extra})
            out.append(comparison)
            continue
        threshold = thresholds.get(comparison.metric)
        out.append(
            correct_comparison(
                comparison,
                mine,
                base=matrix(base, comparison.metric),
                head=matrix(head, comparison.metric),
                groups=groups,
                alpha=alpha,
                max_drop=threshold.margin if threshold else 0.0,
                seed=seed,
            )
        )
    return out


def judged_metrics(built: Sequence[tuple[Any, str]]) -> list[JudgedMetric]:
    """The judged metrics among a suite's built scorers, with what their scores depend on."""
    from evalbot.score.base import judged_types

    out = []
    for scorer, metric_type in built:
        judge = getattr(scorer, "judge", None)
        if metric_type not in judged_types() or judge is None:
            continue
        out.append(
            JudgedMetric(
                name=scorer.name,
                type=metric_type,
                judge_model=judge.model,
                rubric_sha256=getattr(scorer, "rubric_sha256", None),
                prompt_version=judge_prompt_version(scorer),
            )
        )
    return out

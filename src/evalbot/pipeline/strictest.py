"""The gate a pull request is held to: the stricter of the base's and the head's ``evalbot.yml``.

The head's config is written by the PR author, so in the action a PR may tighten the gate at
once but loosens it only once merged: per suite present on both sides, every threshold setting
and every gate setting is the stricter of the two; a blocking metric the PR removes is still
computed from its base definition; a suite the PR renames is compared against the base versions
of its files; a suite the PR removes is still evaluated with its base definition against the
head's files. Each loosening is said in one line. The CLI trusts the repository and skips this.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from evalbot.errors import ConfigError
from evalbot.inputs.config import EvalbotConfig, GateConfig, SuiteConfig, Threshold
from evalbot.inputs.detect import SuiteSelection, select_suites
from evalbot.inputs.git import Change
from evalbot.inputs.tree import FileTree

__all__ = ["Held", "hold_to_base", "stricter_gate", "stricter_suite", "stricter_thresholds"]


def _fmt(value: float | None) -> str:
    return "none" if value is None else f"{value:g}"


_THRESHOLD_KEYS = ("min", "max", "max_drop", "blocking", "max_total_drop")


def _loosens(what: str, before: object, after: object) -> str:
    setting = "threshold" if what.split(" ")[-1] in _THRESHOLD_KEYS else "setting"
    return (
        f"This PR loosens {what} {before} → {after}: the base's {setting} applies until it "
        "is merged."
    )


def _stricter_threshold(
    metric: str, base: Threshold | None, head: Threshold | None, notes: list[str]
) -> Threshold | None:
    if base is None:
        return head  # a threshold the PR adds tightens the gate: it applies at once
    if head is None:
        notes.append(
            f"This PR removes the threshold of {metric} ({_describe(base)}): the base's "
            "threshold applies until it is merged."
        )
        return base
    blocking = base.blocking or head.blocking
    if base.blocking and not head.blocking:
        notes.append(_loosens(f"{metric} blocking", "true", "false"))
    low = _pick(metric, "min", base.min, head.min, higher_is_stricter=True, notes=notes)
    high = _pick(metric, "max", base.max, head.max, higher_is_stricter=False, notes=notes)
    # max_drop: the smaller margin is stricter (unset is margin 0 with inconclusive not counted;
    # an explicit 0 also counts inconclusive, so it wins a tie).
    drop = head.max_drop
    base_margin = base.margin
    head_margin = head.margin
    if head_margin > base_margin or (head_margin == base_margin and head.implicit_margin):
        drop = base.max_drop
        if head_margin > base_margin or (not base.implicit_margin and head.implicit_margin):
            notes.append(_loosens(f"{metric} max_drop", _fmt(base.max_drop), _fmt(head.max_drop)))
    # The drift budget: the smaller is stricter; removing it is loosening it.
    total = _pick(
        metric,
        "max_total_drop",
        base.max_total_drop,
        head.max_total_drop,
        higher_is_stricter=False,
        notes=notes,
    )
    return Threshold(min=low, max=high, max_drop=drop, blocking=blocking, max_total_drop=total)


def _pick(
    metric: str,
    key: str,
    base: float | None,
    head: float | None,
    *,
    higher_is_stricter: bool,
    notes: list[str],
) -> float | None:
    if base is None:
        return head
    if head is None:
        notes.append(_loosens(f"{metric} {key}", _fmt(base), "none"))
        return base
    stricter = max(base, head) if higher_is_stricter else min(base, head)
    if stricter != head:
        notes.append(_loosens(f"{metric} {key}", _fmt(base), _fmt(head)))
    return stricter


def _describe(threshold: Threshold) -> str:
    parts = [
        f"{key} {getattr(threshold, key):g}"
        for key in ("min", "max", "max_drop")
        if getattr(threshold, key) is not None
    ]
    if not threshold.blocking:
        parts.append("not blocking")
    return ", ".join(parts) or "blocking"


def stricter_thresholds(
    base: dict[str, Threshold], head: dict[str, Threshold]
) -> tuple[dict[str, Threshold], list[str]]:
    """Per metric and per setting, the stricter of base and head; one note per loosening."""
    notes: list[str] = []
    merged: dict[str, Threshold] = {}
    for metric in [*head, *(m for m in base if m not in head)]:
        threshold = _stricter_threshold(metric, base.get(metric), head.get(metric), notes)
        if threshold is not None:
            merged[metric] = threshold
    return merged, notes


def stricter_gate(base: GateConfig, head: GateConfig) -> tuple[GateConfig, list[str]]:
    """The gate settings the PR is held to. ``alpha`` cuts both ways (a higher one lets more
    false "unchanged" through; a lower one turns detected regressions inconclusive, which only
    warns), so any change of it waits for the merge."""
    notes: list[str] = []
    alpha = head.alpha
    if head.alpha != base.alpha:
        alpha = base.alpha
        notes.append(
            f"This PR changes gate alpha {base.alpha:g} → {head.alpha:g}: the base's alpha "
            "applies until it is merged."
        )
    on_inconclusive = head.on_inconclusive
    if base.on_inconclusive == "fail" and head.on_inconclusive != "fail":
        on_inconclusive = "fail"
        notes.append(_loosens("gate on_inconclusive", "fail", head.on_inconclusive))
    max_error_rate = min(base.max_error_rate, head.max_error_rate)
    if head.max_error_rate > base.max_error_rate:
        notes.append(
            _loosens("gate max_error_rate", _fmt(base.max_error_rate), _fmt(head.max_error_rate))
        )
    # A baseline the PR removes or moves (to a newer, lower revision) forgives drift: any
    # change of it waits for the merge; adding one where the base had none only tightens.
    baseline = head.baseline
    if base.baseline is not None and head.baseline != base.baseline:
        baseline = base.baseline
        notes.append(_loosens("gate baseline", base.baseline, head.baseline or "none"))
    update = {
        "alpha": alpha,
        "on_inconclusive": on_inconclusive,
        "max_error_rate": max_error_rate,
        "baseline": baseline,
    }
    if head.sequential != base.sequential:
        # Early stopping trades a little power at the end for spend: the base's choice holds.
        update["sequential"] = base.sequential
        notes.append(
            f"This PR changes gate sequential {base.sequential} → {head.sequential}: the base's "
            "setting applies until it is merged."
        )
    gate = head.model_copy(update=update)
    return gate, notes


def stricter_suite(head: SuiteConfig, base: SuiteConfig) -> tuple[SuiteConfig, list[str]]:
    """The head's definition with the stricter thresholds, plus the base's definition of every
    blocking metric the head dropped or redefined (so it is still computed and gates)."""
    thresholds, notes = stricter_thresholds(base.thresholds, head.thresholds)
    names = {m.name for m in head.metrics}
    kept = [
        m
        for m in base.metrics
        if m.name not in names and m.name in thresholds and thresholds[m.name].blocking
    ]
    for metric in kept:
        notes.append(
            f"This PR removes the blocking metric {metric.name}: its base definition is still "
            "computed until it is merged."
        )
    # A blocking metric the PR redefines (say `contains` → a regex that matches anything) would
    # score both sides blind: its base definition is computed beside it and gates as well.
    head_by_name = {m.name: m for m in head.metrics}
    taken = names | {m.name for m in kept}
    for metric in base.metrics:
        threshold = thresholds.get(metric.name)
        redefined = head_by_name.get(metric.name)
        if threshold is None or not threshold.blocking or redefined is None:
            continue
        if redefined.model_dump() == metric.model_dump():
            continue
        alias = f"{metric.name}.base"
        while alias in taken:
            alias += "_"
        taken.add(alias)
        kept.append(metric.model_copy(update={"name": alias}))
        thresholds[alias] = threshold
        notes.append(
            f"This PR redefines the blocking metric {metric.name}: its base definition is also "
            f"computed, as {alias}, and gates until the change is merged."
        )
    # Fewer samples per example is less power to see a regression (inconclusive only warns).
    samples = max(base.samples, head.samples)
    if head.samples < base.samples:
        notes.append(_loosens("samples", base.samples, head.samples))
    update = {"thresholds": thresholds, "metrics": [*head.metrics, *kept], "samples": samples}
    return head.model_copy(update=update), [f"{head.name}: {n}" for n in notes]


@dataclass
class Held:
    config: EvalbotConfig
    """The head's config with the stricter gate."""
    selections: list[SuiteSelection]
    notes: list[str] = field(default_factory=list)
    """Run-level notes: gate loosenings, renamed and removed suites."""


def _renamed_from(path: str, changes: Sequence[Change]) -> str:
    """The path this file had at the base, when git saw it renamed."""
    for change in changes:
        if change.status.startswith("R") and change.path == path and change.old_path:
            return change.old_path
    return path


def _dropped_suite_with_prompt(
    head: EvalbotConfig, base: EvalbotConfig | None, prompt: str, taken: set[str]
) -> SuiteConfig | None:
    """The base suite, gone from the head's config, that used this prompt (a renamed suite)."""
    if base is None:
        return None
    return next(
        (
            s
            for s in base.suites
            if s.prompt == prompt and head.suite(s.name) is None and s.name not in taken
        ),
        None,
    )


def hold_to_base(
    head: EvalbotConfig,
    base: EvalbotConfig | None,
    selections: list[SuiteSelection],
    *,
    base_tree: FileTree,
    head_tree: FileTree,
    changes: Sequence[Change],
    config_path: str,
    requested: Sequence[str] = (),
    run_all: bool = False,
) -> Held:
    """Apply the stricter of base and head to the selection (see the module docstring)."""
    notes: list[str] = []
    gate = head.gate
    if base is not None:
        gate, gate_notes = stricter_gate(base.gate, head.gate)
        notes.extend(gate_notes)
    held: list[SuiteSelection] = []
    taken: set[str] = set()  # base suites dropped from the config, matched to a renamed one
    for selection in selections:
        suite, base_suite = selection.suite, selection.base_suite
        if base_suite is not None:
            governing, suite_notes = stricter_suite(suite, base_suite)
            held.append(
                SuiteSelection(suite=governing, base_suite=base_suite, reasons=selection.reasons)
            )
            if selection.selected:
                notes.extend(suite_notes)
            continue
        prompt = _renamed_from(suite.prompt, changes)
        model = _renamed_from(suite.model, changes)
        reasons = [
            "suite not in the base config" if r == "new suite" else r for r in selection.reasons
        ]
        renamed = _dropped_suite_with_prompt(head, base, prompt, taken)
        if renamed is not None:
            # The same suite under a new name: held to its base definition like any other.
            taken.add(renamed.name)
            governing, suite_notes = stricter_suite(suite, renamed)
            held.append(SuiteSelection(suite=governing, base_suite=renamed, reasons=reasons))
            if selection.selected:
                notes.append(
                    f"Suite {suite.name} is suite {renamed.name} of the base config renamed "
                    f"(same prompt {prompt}): compared against its base definition."
                )
                notes.extend(suite_notes)
            continue
        if base_tree.exists(prompt) and base_tree.exists(model):
            # A suite whose prompt and model existed at the base is not new: its head
            # definition is compared against the base's versions of those files.
            stand_in = suite.model_copy(update={"prompt": prompt, "model": model})
            held.append(SuiteSelection(suite=suite, base_suite=stand_in, reasons=reasons))
            if selection.selected:
                notes.append(
                    f"Suite {suite.name} is not in the base config, but its prompt and model "
                    f"existed there: compared against the base's {prompt} and {model}."
                )
            continue
        held.append(selection)
    if base is not None and not requested:
        removed = _removed(head, base, changes, head_tree, config_path, run_all, notes, taken)
        held.extend(removed)
    return Held(config=head.model_copy(update={"gate": gate}), selections=held, notes=notes)


def _removed(
    head: EvalbotConfig,
    base: EvalbotConfig,
    changes: Sequence[Change],
    head_tree: FileTree,
    config_path: str,
    run_all: bool,
    notes: list[str],
    taken: set[str],
) -> list[SuiteSelection]:
    """Base suites with blocking thresholds that the head's config dropped: still evaluated with
    their base definition against the head's files, unless their prompt is gone too."""
    gone = [
        s
        for s in base.suites
        if head.suite(s.name) is None
        and s.name not in taken
        and any(t.blocking for t in s.thresholds.values())
    ]
    kept: list[SuiteSelection] = []
    for suite in gone:
        # Where the head keeps its files: git may have seen them renamed.
        moved = {p: _renamed_to(p, changes) for p in (suite.prompt, suite.model, suite.dataset)}
        on_head = suite.model_copy(
            update={
                "prompt": moved[suite.prompt],
                "model": moved[suite.model],
                "dataset": moved[suite.dataset],
            }
        )
        if not head_tree.exists(on_head.prompt):
            notes.append(f"Suite {suite.name} removed by this PR (its prompt {suite.prompt} too).")
            continue
        removed_only = base.model_copy(update={"suites": [suite]})
        [selection] = select_suites(
            removed_only, base, changes, config_path=config_path, run_all=run_all
        )
        reasons = [r for r in selection.reasons if not r.startswith(("suite definition", "judge"))]
        if not reasons:
            notes.append(f"Suite {suite.name} removed by this PR (none of its files changed).")
            continue
        missing = [p for p in (on_head.model, on_head.dataset) if not head_tree.exists(p)]
        if missing:
            raise ConfigError(
                f"suite {suite.name} is removed by this PR, whose head still has its prompt "
                f"{on_head.prompt} but not {' or '.join(missing)}: it cannot be evaluated",
                file=config_path,
                hint="remove the suite from the config in its own PR first and delete its files "
                "after, or delete its prompt too if nothing uses it",
            )
        notes.append(
            f"Suite {suite.name} removed by this PR: evaluated with its base definition against "
            "the head's files until it is merged."
        )
        kept.append(
            SuiteSelection(
                suite=on_head, base_suite=suite, reasons=["suite removed by this PR", *reasons]
            )
        )
    return kept


def _renamed_to(path: str, changes: Sequence[Change]) -> str:
    """The path a base file has on head, when git saw it renamed."""
    for change in changes:
        if change.status.startswith("R") and change.old_path == path:
            return change.path
    return path

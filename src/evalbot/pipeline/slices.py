"""Slices of the golden set: where a change hurt (which language, topic, customer tier).

Rows name their slices with ``slice: "lang=de"`` (one) or ``tags: ["lang=de", "tier=pro"]``
(several; an example may be in many slices): reserved keys of the golden set. Each blocking
metric is compared on every slice (``stats.slices``: Holm across the metric's slices); a slice
that a ``metric@slice`` threshold names gates the suite (regressed → fail), any other slice that
regressed beyond the metric's margin is flagged and makes the suite warn.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from evalbot.inputs.config import SLICE_SEP, GateConfig, Threshold
from evalbot.pipeline.analyze import _matrix
from evalbot.records import (
    Example,
    GateStatus,
    MetricKind,
    SliceResult,
    SuiteResult,
    SuiteStatus,
    Verdict,
)
from evalbot.stats.slices import MIN_SLICE, compare_slices

__all__ = ["MAX_SLICES", "analyze_slices", "slice_members", "with_slices"]

MAX_SLICES = 200
"""Distinct slice labels kept per suite (the most populous): bounded work whatever the rows say."""
MAX_LABEL = 100


def _labels(example: Example) -> list[str]:
    return [label[:MAX_LABEL] for label in example.slices]


def slice_members(examples: Sequence[Example]) -> dict[str, list[str]]:
    """Slice label → ids of its examples, the most populous ``MAX_SLICES`` slices."""
    members: dict[str, list[str]] = {}
    for example in examples:
        for label in _labels(example):
            members.setdefault(label, []).append(example.id)
    kept = sorted(members, key=lambda label: (-len(members[label]), label))[:MAX_SLICES]
    return {label: members[label] for label in sorted(kept)}


def _fold(status: GateStatus, other: GateStatus) -> GateStatus:
    order = [GateStatus.PASS, GateStatus.WARN, GateStatus.FAIL]
    if status not in order or other not in order:
        return status
    return max(status, other, key=order.index)


def analyze_slices(
    result: SuiteResult,
    members: Mapping[str, list[str]],
    thresholds: Mapping[str, Threshold],
    *,
    gate: GateConfig,
    seed: int = 0,
) -> tuple[list[SliceResult], GateStatus]:
    """Per-slice comparisons of every blocking metric, and the gate status they imply."""
    base, head = result.base, result.head
    if base is None or head is None or not members:
        return [], GateStatus.PASS
    position = {eid: i for i, eid in enumerate(head.example_ids)}
    rows = {label: [position[e] for e in ids if e in position] for label, ids in members.items()}
    groups = head.groups if any(g is not None for g in head.groups) else None
    out: list[SliceResult] = []
    status = GateStatus.PASS
    for info in result.metrics:
        threshold = thresholds.get(info.name)
        if threshold is None or not threshold.blocking or info.kind == MetricKind.PAIRWISE:
            continue
        named = {
            key.split(SLICE_SEP, 1)[1]: t
            for key, t in thresholds.items()
            if key.startswith(info.name + SLICE_SEP) and t.blocking
        }
        compared = compare_slices(
            info.name,
            _matrix(base, info.name),
            _matrix(head, info.name),
            rows,
            kind=info.kind,
            higher_is_better=info.higher_is_better,
            alpha=gate.alpha,
            margins={label: t.margin for label, t in named.items()},
            default_margin=threshold.margin,
            groups=groups,
            seed=seed,
        )
        for label, c in compared:
            flagged = c.verdict == Verdict.REGRESSED
            is_named = label in named
            gate_status = GateStatus.PASS
            if flagged:
                gate_status = GateStatus.FAIL if is_named else GateStatus.WARN
            status = _fold(status, gate_status)
            out.append(
                SliceResult(
                    slice=label,
                    comparison=c.model_copy(update={"gate": gate_status}),
                    named=is_named,
                    flagged=flagged,
                )
            )
    return out, status


def with_slices(
    result: SuiteResult,
    members: Mapping[str, list[str]],
    thresholds: Mapping[str, Threshold],
    *,
    gate: GateConfig,
    seed: int = 0,
) -> SuiteResult:
    """The suite result with its slice comparisons, their gate folded into the suite's."""
    if result.status == SuiteStatus.ERROR or result.base is None:
        return result
    slices, status = analyze_slices(result, members, thresholds, gate=gate, seed=seed)
    update = {"slices": slices, "slice_members": dict(members), "gate": _fold(result.gate, status)}
    notes = list(result.notes)
    for s in slices:
        if s.flagged and s.named:
            c = s.comparison
            notes.append(
                f"Slice {s.slice}: {c.metric} fails its slice threshold (Δ {c.delta:+.4g} on "
                f"{c.n} examples, Holm-adjusted p {c.p_adjusted:.3g} over the metric's slices)."
            )
    flagged = [s for s in slices if s.flagged and not s.named]
    if flagged:
        names = ", ".join(f"{s.slice} ({s.comparison.metric})" for s in flagged[:10])
        more = f" and {len(flagged) - 10} more" if len(flagged) > 10 else ""
        notes.append(
            f"{len(flagged)} slice(s) dropped beyond the margin: {names}{more} (see the "
            "slice table; Holm across each metric's slices)."
        )
    # A slice threshold that cannot be checked (its slice gone from the golden set, or too
    # small to test) is a bound that cannot be verified: it follows on_inconclusive.
    tested = {f"{s.comparison.metric}{SLICE_SEP}{s.slice}" for s in slices}
    unchecked = [k for k, t in thresholds.items() if SLICE_SEP in k and t.blocking]
    for key in [k for k in unchecked if k not in tested]:
        label = key.split(SLICE_SEP, 1)[1]
        size = len(members.get(label, []))
        notes.append(
            f"Threshold {key} cannot be checked: {size} example(s) of the golden set in that "
            f"slice (at least {MIN_SLICE} are needed)."
        )
        unverified = GateStatus.FAIL if gate.on_inconclusive == "fail" else GateStatus.WARN
        update["gate"] = _fold(update["gate"], unverified)  # type: ignore[arg-type]
    update["notes"] = notes
    return result.model_copy(update=update)

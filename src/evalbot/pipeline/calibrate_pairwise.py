"""``evalbot calibrate`` for ``pairwise`` judges: human preferences between two answers.

Labels file (JSONL), one pair per line::

    {"id": "p1", "question": "…", "output_a": "…", "output_b": "…", "human": "B"}

``human`` is "A", "B" or "tie", or a list of them from several raters (the majority; a split
vote is a tie). The judge sees each pair in both orders, as in a diff (A in the base's slot, B in
the head's), so its preference is +1 (B), 0 (tie, or the two orders disagree) or −1 (A).

Reported next to agreement: the judge's **position consistency** (share of pairs whose two
orders agree; MT-Bench measured 65 % for GPT-4) and first-slot rate, because a judge that
follows the slot rather than the content turns into ties, not into agreement.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from evalbot.errors import InputError
from evalbot.parsing import ParseProblem, load_json
from evalbot.records import Example
from evalbot.stats.agreement import (
    bootstrap_ci,
    cohen_kappa,
    krippendorff_alpha,
    verdict_for,
)

__all__ = ["PairLabel", "pairwise_agreement", "parse_pair_labels"]

_RESERVED = {"id", "output_a", "output_b", "human", "metric", "expected", "context", "group",
             "metadata", "vars"}  # fmt: skip
_CHOICES = {"a": -1, "b": 1, "tie": 0}


@dataclass(frozen=True)
class PairLabel:
    example: Example
    a: str
    b: str
    human: int
    """+1: B is better, −1: A is better, 0: tie (the raters' majority)."""


def _preference(value: Any, *, label: str, line: int) -> int:
    values = value if isinstance(value, list) else [value]
    votes = []
    for v in values:
        if not isinstance(v, str) or v.strip().lower() not in _CHOICES:
            raise InputError(
                f'\'human\' must be "A", "B" or "tie" (or a list of them), got {v!r}',
                file=label,
                line=line,
            )
        votes.append(_CHOICES[v.strip().lower()])
    counts = Counter(votes).most_common()
    if len(counts) > 1 and counts[0][1] == counts[1][1]:
        return 0  # a split vote
    return counts[0][0]


def label_rows(
    text: str, *, label: str, metric: str | None = None
) -> Iterator[tuple[int, dict[str, Any]]]:
    """A labels file's JSON Lines rows with their line numbers: blank lines skipped, rows of
    another metric left out, anything but a JSON object one clear error naming the line."""
    for number, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            row = load_json(raw)
        except ParseProblem as exc:
            reason = exc.reason.removeprefix("invalid JSON: ")
            raise InputError(f"not JSON: {reason}", file=label, line=number) from None
        if not isinstance(row, dict):
            raise InputError("expected a JSON object", file=label, line=number)
        if metric is not None and row.get("metric") not in (None, metric):
            continue
        yield number, row


def parse_pair_labels(text: str, *, label: str, metric: str | None = None) -> list[PairLabel]:
    """Rows ``{id?, vars… | input…, output_a, output_b, human, metric?}``."""
    from evalbot.inputs.golden import derive_id

    rows: list[PairLabel] = []
    for number, row in label_rows(text, label=label, metric=metric):
        for key in ("output_a", "output_b"):
            if not isinstance(row.get(key), str):
                raise InputError(
                    f"'{key}' is missing",
                    file=label,
                    line=number,
                    hint='pairwise labels need "output_a", "output_b" and "human": "A"|"B"|"tie"',
                )
        if "human" not in row:
            raise InputError("'human' (the preferred answer) is missing", file=label, line=number)
        variables = row.get("vars")
        if not isinstance(variables, dict):
            variables = {k: v for k, v in row.items() if k not in _RESERVED}
        context = row.get("context")
        example = Example(
            id=str(row.get("id") or derive_id({k: v for k, v in row.items() if k != "human"})),
            vars=variables,
            expected=row.get("expected"),
            context=[context] if isinstance(context, str) else context,
            metadata=row.get("metadata") or {},
            line=number,
        )
        human = _preference(row["human"], label=label, line=number)
        rows.append(PairLabel(example=example, a=row["output_a"], b=row["output_b"], human=human))
    if not rows:
        raise InputError("no labelled pairs for this metric", file=label)
    return rows


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def pairwise_agreement(
    judge: list[float | None],
    human: list[int],
    details: list[dict[str, Any]],
    *,
    seed: int = 0,
    n_resamples: int = 2000,
) -> dict[str, Any]:
    """Agreement of the judge's preferences with the humans', with and without ties, κ and
    Krippendorff's α over {A, tie, B}, bootstrap intervals, and the judge's position figures."""
    from evalbot.score.pairwise import pairwise_diagnostics

    keep = [i for i, v in enumerate(judge) if v is not None]
    j = np.array([judge[i] for i in keep], dtype=float)
    h = np.array([human[i] for i in keep], dtype=float)
    n = len(keep)
    cats = [-1.0, 0.0, 1.0]
    decisive = (j != 0) & (h != 0)

    def agree(idx: np.ndarray) -> float:
        return float(np.mean(j[idx] == h[idx])) if len(idx) else math.nan

    def agree_no_ties(idx: np.ndarray) -> float:
        chosen = idx[decisive[idx]]
        return float(np.mean(j[chosen] == h[chosen])) if len(chosen) else math.nan

    statistics = {
        "agreement": agree,
        "agreement_no_ties": agree_no_ties,
        "kappa": lambda idx: cohen_kappa(j[idx].tolist(), h[idx].tolist(), categories=cats),
        "alpha": lambda idx: krippendorff_alpha(
            [j[idx].tolist(), h[idx].tolist()], level="nominal"
        ),
    }
    result: dict[str, Any] = {"n": n, "n_dropped": len(judge) - n, "pairwise": True, "cis": {}}
    everything = np.arange(n)
    for name, statistic in statistics.items():
        result[name] = _finite(statistic(everything)) if n else None
        low, high = bootstrap_ci(statistic, n, n_resamples=n_resamples, seed=seed)
        result["cis"][name] = [low, high]
    result["n_decisive"] = int(decisive.sum())
    result["alpha_level"] = "nominal"
    result["kappa_categories"] = ["A", "tie", "B"]
    diagnostics = pairwise_diagnostics([details[i] for i in keep])
    result["position_consistency"] = diagnostics["position_consistency"]
    result["first_slot_rate"] = diagnostics["first_slot_rate"]
    result["diagnostics"] = diagnostics
    result["verdict"] = verdict_for(result["cis"]["alpha"][0])
    return result

"""Input preparation: reduce repeated samples, pair the sides, drop missing pairs, find clusters."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "InfiniteScoreError",
    "Paired",
    "cluster_codes",
    "prepare",
    "reduce_samples",
    "worst_for_infinite",
]


def reduce_samples(values: ArrayLike) -> tuple[np.ndarray, int, int]:
    """Average the K samples of each example, ignoring missing samples.

    Args:
        values: shape (n,) or (n, K); NaN marks an errored or undefined sample.

    Returns:
        (per-example means, K, number of non-finite ±inf values turned into NaN). An example
        whose samples are all missing is NaN.
    """
    array = np.array(values, dtype=float)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2:
        raise ValueError(f"scores must have shape (n,) or (n, K), got {array.shape}")
    infinite = int(np.isinf(array).sum())
    finite = np.isfinite(array)
    count = finite.sum(axis=1)
    total = np.where(finite, array, 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return means, array.shape[1], infinite


def cluster_codes(groups: Sequence[str | None]) -> np.ndarray:
    """Integer cluster codes; every example whose group is None is a cluster of its own."""
    codes = np.empty(len(groups), dtype=np.int64)
    seen: dict[str, int] = {}
    for i, group in enumerate(groups):
        if group is None:
            codes[i] = len(seen)
            seen[f"\x00{i}"] = codes[i]  # a key no real group name can collide with
        else:
            codes[i] = seen.setdefault(str(group), len(seen))
    return codes


def worst_for_infinite(
    base: np.ndarray, head: np.ndarray, sign: float
) -> tuple[np.ndarray, np.ndarray, int]:
    """Replace infinite scores in the bad direction by a value worse than every finite score.

    A timeout reported as +inf latency is the worst outcome of all; dropping it as missing would
    hide it. The stand-in is the worst finite score minus the finite range (plus 1), so ranks
    see it as the worst and means see a large drop. An infinity in the good direction cannot
    be valued honestly and raises.

    Returns:
        (base, head, how many values were replaced).
    """
    both = np.concatenate([base.ravel(), head.ravel()])
    bad_inf = -np.inf if sign > 0 else np.inf
    if np.any(both == -bad_inf):
        raise InfiniteScoreError(
            f"a score is {-bad_inf}, the best possible value: fix the metric, which must report "
            "finite scores (an infinite value in the worse direction counts as the worst)"
        )
    finite = both[np.isfinite(both)]
    if not np.any(both == bad_inf):
        return base, head, 0
    spread = float(finite.max() - finite.min()) + 1.0 if finite.size else 1.0
    worst = (float(finite.min()) - spread) if sign > 0 else (float(finite.max()) + spread)
    if finite.size == 0:
        worst = 0.0
    replaced = int(np.sum(both == bad_inf))
    return np.where(base == bad_inf, worst, base), np.where(head == bad_inf, worst, head), replaced


class InfiniteScoreError(ValueError):
    """A score is infinite in the good direction (it cannot be compared honestly)."""


@dataclass
class Paired:
    """Per-example values of the pairs kept for testing."""

    base: np.ndarray | None
    head: np.ndarray
    good: np.ndarray
    """Per-example delta in the good direction (positive = better)."""
    n_dropped: int
    samples: int
    clusters: np.ndarray | None = None
    """Cluster code per kept example (0..G-1), or None when the analysis is not clustered."""
    notes: list[str] = field(default_factory=list)

    @property
    def n(self) -> int:
        return int(self.good.size)

    @property
    def n_clusters(self) -> int | None:
        return None if self.clusters is None else int(self.clusters.max()) + 1


def prepare(
    base: ArrayLike | None,
    head: ArrayLike,
    *,
    pairwise: bool,
    sign: float,
    groups: Sequence[str | None] | None,
) -> Paired:
    """Pair base and head per example and drop pairs with a missing side.

    Args:
        base: base scores, (n,) or (n, K); None for pairwise metrics.
        head: head scores, or per-example preferences in [-1, 1] for pairwise metrics.
        pairwise: head holds preferences (head loses/ties/wins); base must be None.
        sign: +1 when higher is better, -1 otherwise.
        groups: cluster of each example (aligned with the rows), or None.

    Raises:
        ValueError: misaligned shapes, or preferences outside [-1, 1] (caller bugs).
    """
    notes: list[str] = []
    replaced = 0
    if not pairwise and base is not None:
        base_arr = np.array(base, dtype=float)
        head_arr = np.array(head, dtype=float)
        if base_arr.shape == head_arr.shape:
            base, head, replaced = worst_for_infinite(base_arr, head_arr, sign)
    if replaced:
        notes.append(
            f"{replaced} infinite score(s) in the worse direction counted as the worst value"
        )
    head_means, samples, infinite = reduce_samples(head)
    if pairwise:
        if base is not None:
            raise ValueError("pairwise metrics take base=None; head holds the preferences")
        finite = head_means[np.isfinite(head_means)]
        if finite.size and (finite.min() < -1 or finite.max() > 1):
            raise ValueError("pairwise preferences must lie in [-1, 1] (head loses/ties/wins)")
        base_means = None
        keep = np.isfinite(head_means)
        # W - 0.5 = mean(s) / 2, so each example contributes s/2 to the win-rate delta.
        good = sign * head_means[keep] / 2.0
    else:
        if base is None:
            raise ValueError("base is required for non-pairwise metrics")
        base_means, base_samples, base_infinite = reduce_samples(base)
        samples = max(samples, base_samples)
        infinite += base_infinite
        if base_means.shape != head_means.shape:
            raise ValueError(
                f"base and head must have the same number of rows, "
                f"got {base_means.size} and {head_means.size}"
            )
        keep = np.isfinite(base_means) & np.isfinite(head_means)
        base_means = base_means[keep]
        good = sign * (head_means[keep] - base_means)
    if infinite:
        notes.append(f"{infinite} infinite score(s) treated as missing")
    clusters = None
    if groups is not None:
        if len(groups) != keep.size:
            raise ValueError(f"groups has {len(groups)} entries for {keep.size} examples")
        if any(g is not None for g in groups):
            codes = cluster_codes(groups)[keep]
            _, codes = np.unique(codes, return_inverse=True)
            if codes.size > 0 and codes.max() + 1 < codes.size:
                clusters = codes.astype(np.int64)
    return Paired(
        base=base_means,
        head=head_means[keep],
        good=good,
        n_dropped=int(keep.size - keep.sum()),
        samples=samples,
        clusters=clusters,
        notes=notes,
    )

"""Flaky examples: an example whose outcome varies with identical inputs.

With ``samples`` > 1 every side asks the same request several times; the spread of one example's
samples on one side is noise, not a change. An example's score is the mean absolute difference
between two of its samples (for pass/fail: the chance that two runs disagree, unbiased). A flip of
a flaky example between base and head is marked "likely noise" in the comment. ``evalbot run
--samples K`` on main records the scores (``SuiteResult.flakiness``; the history writer stores
them on the data branch), and later PRs read them: then even single-sample PRs know which
examples flip on their own, and the power warning uses main's noise-floor discordance.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from evalbot.pipeline.analyze import _matrix
from evalbot.records import Flakiness, MetricKind, SuiteResult, SuiteStatus

__all__ = ["FLAKY_AT", "flakiness_of", "observed_noise", "with_flakiness"]

FLAKY_AT = 0.0
"""An example is flaky when its score is above this: any disagreement between its samples."""


def _pair_spread(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row: mean |x_i − x_j| over pairs of valid samples, and the sample variance (NaN
    with fewer than two valid samples)."""
    rows, width = matrix.shape
    spread = np.full(rows, np.nan)
    variance = np.full(rows, np.nan)
    if width < 2:
        return spread, variance
    valid = ~np.isnan(matrix)
    counts = valid.sum(axis=1)
    filled = np.where(valid, matrix, 0.0)
    # Σ_{i<j} |x_i − x_j| = Σ_i x_(i)·(2i − c − 1) over the sorted valid values (O(K log K)).
    ordered = np.sort(np.where(valid, matrix, np.inf), axis=1)
    ordered[~np.isfinite(ordered)] = 0.0  # past each row's count: weight 0
    rank = np.arange(1, width + 1)[None, :]
    weights = np.where(rank <= counts[:, None], 2 * rank - counts[:, None] - 1, 0)
    total = 2 * np.where(weights != 0, ordered * weights, 0.0).sum(axis=1)
    pairs = counts * (counts - 1)
    ok = pairs > 0
    spread[ok] = total[ok] / pairs[ok]
    means = filled.sum(axis=1) / np.maximum(counts, 1)
    squares = (np.where(valid, filled - means[:, None], 0.0) ** 2).sum(axis=1)
    variance[ok] = squares[ok] / (counts[ok] - 1)
    return spread, variance


def flakiness_of(result: SuiteResult, *, source: str = "this run") -> Flakiness | None:
    """This run's flakiness: every non-pairwise metric, each side's samples (same inputs)."""
    sides = [s for s in (result.base, result.head) if s is not None]
    if result.samples < 2 or not sides:
        return None
    scores: dict[str, dict[str, float]] = {}
    discordance: dict[str, float] = {}
    sd_delta: dict[str, float] = {}
    for info in result.metrics:
        if info.kind == MetricKind.PAIRWISE:
            continue
        per_side = [_pair_spread(_matrix(side, info.name)) for side in sides]
        spreads = [s for s, _ in per_side]
        variances = np.concatenate([v for _, v in per_side])
        if all(np.all(np.isnan(s)) for s in spreads):
            continue
        by_id: dict[str, float] = {}
        for side, spread in zip(sides, spreads, strict=True):
            for eid, value in zip(side.example_ids, spread, strict=True):
                if math.isfinite(value) and value > FLAKY_AT:
                    by_id[eid] = max(by_id.get(eid, 0.0), round(float(value), 6))
        scores[info.name] = by_id
        finite = np.concatenate([s[np.isfinite(s)] for s in spreads])
        discordance[info.name] = float(finite.mean()) if finite.size else 0.0
        var = variances[np.isfinite(variances)]
        # Two independent single runs of one example differ by a variance of 2σ².
        sd_delta[info.name] = float(math.sqrt(2 * var.mean())) if var.size else 0.0
    n = len(sides[-1].example_ids)
    return Flakiness(
        samples=result.samples,
        source=source,
        n=n,
        scores=scores,
        discordance=discordance,
        sd_delta=sd_delta,
    )


def _flaky_ids(record: Flakiness | None, metrics: list[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    if record is None:
        return out
    for metric in metrics:
        for eid, score in record.scores.get(metric, {}).items():
            out[eid] = max(out.get(eid, 0.0), score)
    return out


def _flip_metrics(result: SuiteResult) -> list[str]:
    """The pass/fail metrics whose flips the comment lists (blocking ones first): their score
    is a probability, "two runs disagree p of the time"."""
    binary = [m.name for m in result.metrics if m.kind == MetricKind.BINARY and m.name != "error"]
    blocking = [c.metric for c in result.comparisons if c.blocking and c.metric in binary]
    return blocking or binary


def with_flakiness(result: SuiteResult, main_record: Flakiness | None = None) -> SuiteResult:
    """The suite result with this run's flakiness and the flaky examples (this run's samples
    and main's record together), by the metrics its flipped list is about."""
    if result.status == SuiteStatus.ERROR:
        return result
    own = flakiness_of(result)
    metrics = _flip_metrics(result)
    flaky = _flaky_ids(main_record, metrics)
    for eid, score in _flaky_ids(own, metrics).items():
        flaky[eid] = max(flaky.get(eid, 0.0), score)
    if own is None and not flaky:
        return result
    return result.model_copy(update={"flakiness": own, "flaky": flaky})


def observed_noise(record: Flakiness | None, result: SuiteResult) -> Mapping[str, float]:
    """Per metric, what the power warning should assume: main's noise-floor discordance for a
    binary metric, the SD of the per-example change for a score."""
    if record is None:
        return {}
    kinds = {m.name: m.kind for m in result.metrics}
    out: dict[str, float] = {}
    for metric, value in record.discordance.items():
        if kinds.get(metric) == MetricKind.BINARY and value > 0:
            out[metric] = value
    for metric, value in record.sd_delta.items():
        if kinds.get(metric) in (MetricKind.CONTINUOUS, MetricKind.HEAVY_TAILED) and value > 0:
            out[metric] = value
    return out

"""``compare_metric``: the paired comparison of one metric between base and head."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TypedDict

import numpy as np
from numpy.typing import ArrayLike

from evalbot.records import MetricComparison, MetricKind, Verdict
from evalbot.stats import analyses
from evalbot.stats._prepare import Paired, prepare, reduce_samples
from evalbot.stats.gate import decide_verdict

__all__ = ["compare_metric"]


def _check(alpha: float, max_drop: float) -> None:
    if not 0 < alpha < 0.5:
        raise ValueError(f"alpha must be in (0, 0.5), got {alpha}")
    if not (math.isfinite(max_drop) and max_drop >= 0):
        raise ValueError(f"max_drop must be a finite number >= 0, got {max_drop}")


def _mean(values: np.ndarray | None) -> float | None:
    return float(values.mean()) if values is not None and values.size else None


def _is_binary(p: Paired) -> bool:
    assert p.base is not None
    return bool(np.all(np.isin(p.base, (0.0, 1.0))) and np.all(np.isin(p.head, (0.0, 1.0))))


def _analyse(
    p: Paired, kind: MetricKind, margin: float, alpha: float, seed: int
) -> analyses.Outcome:
    rng = np.random.default_rng(seed)
    if p.clusters is not None:
        outcome = analyses.clustered(p, margin, alpha, rng)
        if kind == MetricKind.HEAVY_TAILED:
            outcome.notes.append(
                "Δ is the mean difference: with clusters the signed-rank test does not apply"
            )
        return outcome
    if kind == MetricKind.PAIRWISE:
        return analyses.pairwise(p, margin, alpha, rng)
    if kind == MetricKind.HEAVY_TAILED:
        return analyses.wilcoxon(p, margin, alpha, rng)
    if kind == MetricKind.BINARY and p.samples == 1:
        if _is_binary(p):
            return analyses.mcnemar(p, margin, alpha)
        outcome = analyses.signflip(p, margin, alpha, rng)
        outcome.notes.append("binary metric with values other than 0/1: compared as means")
        return outcome
    return analyses.signflip(p, margin, alpha, rng)


def _snap(outcome: analyses.Outcome, max_drop: float) -> None:
    """Put a bound that ties with 0 or −max_drop (within rounding) exactly on it.

    The tests count a tie against the claim, so a tie must not read as a strict inequality.
    """
    tolerance = float(outcome.extra.pop("tolerance", 0.0))
    for name in ("lower_good", "upper_good"):
        bound = getattr(outcome, name)
        if bound is None or not math.isfinite(bound):
            continue
        for point in (0.0, -max_drop):
            if abs(bound - point) <= tolerance:
                setattr(outcome, name, point)


class _Common(TypedDict):
    """The fields every comparison of one metric shares, whatever the data allowed."""

    metric: str
    kind: MetricKind
    higher_is_better: bool
    max_drop: float
    confidence: float
    blocking: bool


class _Counted(_Common):
    """And, once the pairs are known, their counts and means."""

    n: int
    n_dropped: int
    samples: int
    clusters: int | None
    base_mean: float | None
    head_mean: float | None


def _not_compared(
    common: _Common,
    note: str,
    *,
    n: int,
    samples: int,
    n_dropped: int = 0,
    head_mean: float | None = None,
) -> MetricComparison:
    return MetricComparison(
        **common,
        test="none",
        verdict=Verdict.NOT_COMPARED,
        notes=[note],
        n=n,
        samples=samples,
        n_dropped=n_dropped,
        head_mean=head_mean,
    )


def compare_metric(
    metric: str,
    base: ArrayLike | None,
    head: ArrayLike,
    *,
    kind: MetricKind,
    higher_is_better: bool = True,
    groups: Sequence[str | None] | None = None,
    alpha: float = 0.05,
    max_drop: float = 0.0,
    seed: int = 0,
    blocking: bool = False,
) -> MetricComparison:
    """Test whether head is worse than base on one metric, per example, and give a verdict.

    The test follows the metric kind: McNemar mid-p with a Tango interval (binary, one sample),
    sign-flip permutation with a paired t (n ≥ 30) or BCa interval (continuous scores and means
    of K samples), Wilcoxon signed-rank with Hodges–Lehmann (heavy-tailed), exact sign test with
    a Wilson interval (pairwise). With ``groups``, cluster-level sign flips and a cluster-robust
    t interval replace them.

    Args:
        metric: metric name.
        base: base scores, shape (n,) or (n, K), rows aligned with ``head`` by example; NaN for
            errored or undefined scores. None for pairwise metrics (or a suite without a base).
        head: head scores; for pairwise metrics, preferences in {-1, 0, +1} (head loses, ties,
            wins), or averages of them in [-1, 1].
        kind: the metric kind, which chooses the test.
        higher_is_better: which direction of the metric is good.
        groups: cluster of each example (None = its own cluster); clusters the analysis
            unless every example is alone.
        alpha: one-sided level; intervals are two-sided at 1 − 2α.
        max_drop: non-inferiority margin in metric units (≥ 0).
        seed: seed of every resampling, so a rerun gives the same figures.
        blocking: whether the metric gates the merge (``apply_gate`` sets the final value).

    Returns:
        The comparison record. ``delta`` and the interval are head − base in metric units (for
        pairwise metrics: win rate − 0.5); ``p_value`` is the one-sided p for H0 "the
        good-direction delta ≥ −max_drop"; ``p_two_sided`` tests "no change".

    Raises:
        ValueError: invalid alpha/max_drop, misaligned rows or groups, or preferences outside
            [-1, 1]. Data edge cases (no pairs, one pair, no discordance, zero variance, one
            cluster) never raise: they give a verdict and a note.
    """
    _check(alpha, max_drop)
    kind = MetricKind(kind)
    sign = 1.0 if higher_is_better else -1.0
    common: _Common = {
        "metric": metric,
        "kind": kind,
        "higher_is_better": higher_is_better,
        "max_drop": float(max_drop),
        "confidence": 1 - 2 * alpha,
        "blocking": blocking,
    }
    if base is None and kind != MetricKind.PAIRWISE:
        head_means, samples, _ = reduce_samples(head)
        finite = head_means[np.isfinite(head_means)]
        return _not_compared(
            common,
            "no base side: absolute thresholds only",
            n=0,
            samples=samples,
            head_mean=_mean(finite),
        )
    p = prepare(base, head, pairwise=kind == MetricKind.PAIRWISE, sign=sign, groups=groups)
    notes = list(p.notes)
    if p.n_dropped:
        notes.append(f"{p.n_dropped} example(s) dropped: no score on one side (errored/undefined)")
    if p.n == 0:
        return _not_compared(
            common,
            "no example has a score on both sides",
            n=0,
            n_dropped=p.n_dropped,
            samples=p.samples,
        )
    base_mean: float | None
    head_mean: float | None
    if kind == MetricKind.PAIRWISE:
        base_mean, head_mean = 0.5, 0.5 + sign * float(p.good.mean())
    else:
        base_mean, head_mean = _mean(p.base), _mean(p.head)
    identical = bool(np.all(p.good == 0))
    record: _Counted = {
        **common,
        "n": p.n,
        "n_dropped": p.n_dropped,
        "samples": p.samples,
        "clusters": p.n_clusters,
        "base_mean": base_mean,
        "head_mean": head_mean,
    }
    if p.n < 2:
        notes.append("a single example: too few to test")
        return MetricComparison(
            **record,
            test="none",
            delta=sign * float(p.good.mean()),
            verdict=Verdict.INCONCLUSIVE,
            notes=notes,
            extra={"identical": identical},
        )

    outcome = _analyse(p, kind, max_drop, alpha, seed)
    notes += outcome.notes
    _snap(outcome, max_drop)
    for name in ("lower_good", "upper_good"):
        bound = getattr(outcome, name)
        if bound is not None and not math.isfinite(bound):
            setattr(outcome, name, None)  # too few examples to reach the interval's level
    low, high = outcome.lower_good, outcome.upper_good
    if low is not None and high is not None and sign < 0:
        low, high = -high, -low
    verdict = decide_verdict(
        p_value=outcome.p_value,
        lower_good=outcome.lower_good,
        max_drop=max_drop,
        alpha=alpha,
    )
    mde = outcome.mde
    if identical:
        notes.append("identical scores on every example: Δ = 0 exactly")
    extra = dict(outcome.extra)
    if kind == MetricKind.BINARY and p.samples == 1 and p.clusters is None and p.base is not None:
        extra["b"] = int(np.sum((p.base == 1) & (p.head == 0)))
        extra["c"] = int(np.sum((p.base == 0) & (p.head == 1)))
    if p.base is not None and p.base.std() > 0 and p.head.std() > 0:
        extra["corr"] = float(np.corrcoef(p.base, p.head)[0, 1])
    extra["identical"] = identical
    return MetricComparison(
        **record,
        test=outcome.test,
        interval_method=outcome.interval_method,
        n_discordant=outcome.n_discordant,
        delta=None if outcome.delta_good is None else sign * outcome.delta_good,
        ci_low=low,
        ci_high=high,
        p_value=outcome.p_value,
        p_two_sided=outcome.p_two_sided,
        mde=mde,
        verdict=verdict,
        notes=notes,
        extra=extra,
    )

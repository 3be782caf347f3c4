"""One analysis per data type. Each works on good-direction deltas (positive = better) and
returns an ``Outcome``; ``compare_metric`` turns it into the record in the metric's units."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from evalbot.stats._prepare import Paired
from evalbot.stats.bounded import betting_bounds, betting_p
from evalbot.stats.clustered import cluster_robust_se
from evalbot.stats.exact_binary import ExactBinary
from evalbot.stats.intervals import hodges_lehmann, signed_rank_cdf, walsh_count
from evalbot.stats.inversion import FlipBounds, flip_bounds
from evalbot.stats.paired import EXACT_LIMIT
from evalbot.stats.power import mcnemar_mde

__all__ = [
    "SMALL_DISCORDANT",
    "SMALL_N",
    "Outcome",
    "clustered",
    "mcnemar",
    "pairwise",
    "signflip",
    "wilcoxon",
]

SMALL_N = 30
SMALL_DISCORDANT = 10
POWER = 0.8


@dataclass
class Outcome:
    """What an analysis found, in the good direction."""

    test: str
    interval_method: str
    delta_good: float | None
    lower_good: float | None = None
    upper_good: float | None = None
    p_value: float | None = None
    p_two_sided: float | None = None
    mde: float | None = None
    n_discordant: int | None = None
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


def _z_sum(alpha: float) -> float:
    return float(stats.norm.ppf(1 - alpha) + stats.norm.ppf(POWER))


def _binary_outcome(worse: int, better: int, n: int, theta0: float, alpha: float) -> Outcome:
    """Exact unconditional score test at θ0 and its inverted interval (θ = (better − worse)/n)."""
    exact = ExactBinary(worse, better, n)
    low, high = exact.consistent_interval(alpha, (0.0, theta0))
    return Outcome(
        test="exact unconditional score test" if exact.exact else "Tango score test (asymptotic)",
        interval_method="exact score inversion" if exact.exact else "Tango score",
        delta_good=(better - worse) / n,
        lower_good=low,
        upper_good=high,
        p_value=exact.p_less(theta0),
        p_two_sided=min(1.0, 2 * min(exact.p_less(0.0), exact.p_greater(0.0))),
        n_discordant=worse + better,
    )


def mcnemar(p: Paired, margin: float, alpha: float) -> Outcome:
    """Binary, one sample per example: exact unconditional score test, inverted for the CI."""
    n = p.n
    worse = int(np.sum(p.good < 0))
    better = int(np.sum(p.good > 0))
    outcome = _binary_outcome(worse, better, n, -margin, alpha)
    outcome.extra.update({"worse": worse, "better": better})
    if worse + better == 0:
        outcome.notes.append(
            "no discordant pairs: every example has the same outcome on both sides"
        )
    else:
        mde = mcnemar_mde(n, (worse + better) / n, alpha, POWER, max_drop=margin)
        outcome.mde = None if math.isnan(mde) else mde
        if math.isnan(mde):
            outcome.notes.append(
                "too few examples to detect any drop beyond the margin with 80 % power"
            )
    return outcome


def _flip_outcome(
    bounds: FlipBounds, margin: float, test: str, interval: str, mean: float
) -> Outcome:
    """Outcome of an inverted sign-flip test: p-values and bounds from the same subset means."""
    names = {"exact": " (exact)", "monte-carlo": "", "normal": " (normal limit)"}
    return Outcome(
        test=test + names[bounds.method],
        interval_method=interval + names[bounds.method],
        delta_good=mean,
        lower_good=bounds.lower,
        upper_good=bounds.upper,
        p_value=bounds.p_less(-margin),
        p_two_sided=bounds.p_two_sided(),
        extra={"tolerance": bounds.tolerance},
    )


def _score_range(p: Paired) -> tuple[float, float]:
    """The range a per-example delta can take, from the scores seen on both sides."""
    if p.base is None:  # pairwise: each example contributes s/2 with s in [-1, 1]
        return -0.5, 0.5
    both = np.concatenate([p.base, p.head])
    spread = float(both.max() - both.min())
    return -spread, spread


def signflip(p: Paired, margin: float, alpha: float, rng: np.random.Generator) -> Outcome:
    """Means (continuous scores, K > 1 sample means): sign-flip test and betting test.

    A claim needs both to agree: the sign-flip inversion is exact for symmetric deltas, the
    betting test for any deltas within the observed score range (skewed, sparse drops). The
    printed interval is the wider of the two on each side, and the p-value the larger, so the
    row and the verdict are the same decision.
    """
    g = p.good
    n = p.n
    # Sorted: the seeded flips then give the same bounds whatever the row order.
    bounds = flip_bounds(np.sort(g), np.ones(n), alpha, n_resamples=EXACT_LIMIT, rng=rng)
    sd = float(g.std(ddof=1))
    outcome = _flip_outcome(
        bounds, margin, "sign-flip permutation", "sign-flip inversion", float(g.mean())
    )
    low, high = _score_range(p)
    if high > low:
        # Each claim also needs the betting test: a few large drops (left skew) or large gains
        # (right skew) make the sign-flip test claim too often at small n.
        # The betting test reads the examples in a seeded random order of the rows. Not sorted
        # first: its validity needs an order that does not depend on the values.
        ordered = g[rng.permutation(n)]
        bet_low, bet_high = betting_bounds(ordered, low, high, alpha)

        def bet(delta0: float, side: str) -> float:
            return float(betting_p(ordered, low, high, delta0, alpha, side)[0])

        outcome.lower_good = min(bounds.lower, bet_low)
        outcome.upper_good = max(bounds.upper, bet_high)
        outcome.p_value = max(bounds.p_less(-margin), bet(-margin, "less"))
        two = 2 * min(
            max(bounds.p_less(0.0), bet(0.0, "less")),
            max(bounds.p_greater(0.0), bet(0.0, "greater")),
        )
        outcome.p_two_sided = min(1.0, two)
        outcome.test += " and betting test"
        outcome.interval_method += " ∪ betting"
        outcome.extra["delta_range"] = [low, high]
    outcome.mde = margin + _z_sum(alpha) * sd / math.sqrt(n)
    outcome.extra.update({"sd_delta": sd, "nonzero": int(np.count_nonzero(g))})
    assert outcome.lower_good is not None and outcome.upper_good is not None  # set above
    if not (math.isfinite(outcome.lower_good) and math.isfinite(outcome.upper_good)):
        outcome.notes.append(
            f"{n} examples are too few for a {1 - 2 * alpha:.0%} sign-flip interval: "
            "no verdict other than inconclusive is possible"
        )
    return outcome


def _signed_rank_p(n: int, count: int) -> float:
    """P(T+ <= count) under the no-ties null: exact for n <= 50, normal with continuity above.

    The same rule as ``signed_rank_critical``, so "p <= α" and "bound beyond δ0" coincide.
    """
    if n <= 50:
        return float(signed_rank_cdf(n)[min(max(count, 0), n * (n + 1) // 2)])
    mean = n * (n + 1) / 4.0
    sd = math.sqrt(n * (n + 1) * (2 * n + 1) / 24.0)
    return float(stats.norm.cdf((count + 0.5 - mean) / sd))


def wilcoxon(p: Paired, margin: float, alpha: float, rng: np.random.Generator) -> Outcome:
    """Heavy-tailed (latency, cost, tokens): signed-rank test on Walsh averages, Hodges–Lehmann.

    The p-values count the Walsh averages on each side of δ0, and an average equal to δ0
    (ties, unchanged examples) counts against the claim. That is the test the Hodges–Lehmann
    interval inverts, so the verdict and the printed interval always agree.
    """
    g = p.good
    n = p.n
    estimate, low, high = hodges_lehmann(g, 1 - 2 * alpha, rng=rng)
    xs = np.sort(g)
    total = n * (n + 1) // 2
    tolerance = 1e-9 * max(float(np.max(np.abs(g))), 1e-300)

    def p_less(delta0: float) -> float:
        at_least = total - int(walsh_count(xs, np.array([delta0 - tolerance]))[0])
        # walsh_count counts W <= t; W >= δ0 − tol is everything above δ0 − tol (ties in).
        return _signed_rank_p(n, at_least)

    def p_greater(delta0: float) -> float:
        return _signed_rank_p(n, int(walsh_count(xs, np.array([delta0 + tolerance]))[0]))

    outcome = Outcome(
        test="signed-rank (Walsh averages, ties against the claim)",
        interval_method="Hodges–Lehmann",
        delta_good=estimate,
        lower_good=low,
        upper_good=high,
        p_value=p_less(-margin),
        p_two_sided=min(1.0, 2 * min(p_less(0.0), p_greater(0.0))),
        extra={
            "mean_delta_good": float(g.mean()),
            "median_delta_good": float(np.median(g)),
            "tolerance": tolerance,
        },
        notes=[
            "Δ is the Hodges–Lehmann shift (median of pairwise averages of the per-example "
            "differences), not head mean − base mean"
        ],
    )
    if low is None or high is None:
        outcome.notes.append(f"{n} examples are too few for a {1 - 2 * alpha:.0%} interval")
    elif high > low:
        z = stats.norm.ppf(1 - alpha)
        outcome.mde = margin + _z_sum(alpha) * (high - low) / (2 * z)
    unchanged = float(np.mean(g == 0))
    if unchanged >= 0.25 and np.any(g != 0) and p.base is not None:
        # The shift of the typical example hides rare large changes; say what the mean did.
        mean_change = float(p.head.mean() - p.base.mean())
        outcome.notes.append(
            f"{unchanged:.0%} of examples did not change, so Δ describes the typical example; "
            f"the mean change (head − base) is {mean_change:+.4g}"
        )
    return outcome


def pairwise(p: Paired, margin: float, alpha: float, rng: np.random.Generator) -> Outcome:
    """Pairwise judge preferences: exact unconditional test on wins vs losses, on W − ½.

    Wins, losses and ties are the paired-binary model with b = losses, c = wins, and
    W − ½ = (wins − losses)/(2n), so the binary test and interval apply, halved.
    """
    n = p.n
    g = p.good  # s/2 per example, so W = 0.5 + mean(g)
    if not np.all(np.isin(g, (-0.5, 0.0, 0.5))):
        outcome = signflip(p, margin, alpha, rng)
        outcome.notes.append("preferences averaged over samples per example: sign-flip on W")
        return outcome
    wins = int(np.sum(g > 0))
    losses = int(np.sum(g < 0))
    ties = n - wins - losses
    outcome = _binary_outcome(losses, wins, n, -2 * margin, alpha)
    outcome.delta_good = (wins - losses) / (2 * n)
    assert outcome.lower_good is not None and outcome.upper_good is not None
    outcome.lower_good /= 2
    outcome.upper_good /= 2
    outcome.test += " (wins vs losses)"
    outcome.extra.update({"wins": wins, "ties": ties, "losses": losses})
    outcome.extra["win_rate"] = 0.5 + outcome.delta_good
    if wins + losses:
        mde = mcnemar_mde(n, (wins + losses) / n, alpha, POWER, max_drop=2 * margin)
        outcome.mde = None if math.isnan(mde) else mde / 2
    return outcome


def clustered(p: Paired, margin: float, alpha: float, rng: np.random.Generator) -> Outcome:
    """Any kind with groups: cluster sign flips, inverted into the interval (any cluster sizes)."""
    assert p.clusters is not None
    g = p.good
    codes = p.clusters
    clusters = int(p.n_clusters or 0)
    mean = float(g.mean())
    if clusters < 2:
        outcome = Outcome(
            test="cluster sign-flip permutation",
            interval_method="none",
            delta_good=mean,
            extra={"clusters": clusters},
        )
        outcome.notes.append(
            "single cluster: every example is in one group, so there is no independent "
            "replication to test against; inconclusive"
        )
        return outcome
    sizes = np.bincount(codes, minlength=clusters).astype(float)
    totals = np.bincount(codes, weights=g, minlength=clusters)
    canonical = np.lexsort((totals, sizes))  # row and group order do not change the result
    sizes, totals = sizes[canonical], totals[canonical]
    bounds = flip_bounds(totals, sizes, alpha, n_resamples=EXACT_LIMIT, rng=rng)
    outcome = _flip_outcome(
        bounds, margin, "cluster sign-flip permutation", "cluster sign-flip inversion", mean
    )
    se = cluster_robust_se(g, codes)
    naive = float(g.std(ddof=1) / math.sqrt(p.n)) if p.n > 1 else math.nan
    outcome.mde = margin + _z_sum(alpha) * se
    # Kish's effective number of clusters: one big cluster among singletons counts as few.
    effective = float(sizes.sum() ** 2 / np.sum(sizes**2))
    outcome.extra.update(
        {"clusters": clusters, "effective_clusters": effective, "se": se, "se_unclustered": naive}
    )
    if naive > 0:
        outcome.extra["design_effect"] = (se / naive) ** 2
    outcome.notes.append(
        f"clustered by group ({clusters} clusters): examples in a group are not independent"
    )
    if effective < SMALL_N:
        outcome.notes.append(
            f"few effective clusters ({effective:.1f} of {clusters}, by cluster size): the "
            "sign-flip test stays exact but has little power"
        )
    return outcome

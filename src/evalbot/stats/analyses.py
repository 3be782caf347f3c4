"""One analysis per data type. Each works on good-direction deltas (positive = better) and
returns an ``Outcome``; ``compare_metric`` turns it into the record in the metric's units."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from evalbot.stats._prepare import Paired
from evalbot.stats.clustered import clustered_signflip, clustered_t_interval
from evalbot.stats.intervals import (
    bca_interval,
    hodges_lehmann,
    t_interval,
    tango_interval,
    tango_z,
    wilson_interval,
)
from evalbot.stats.paired import (
    EXACT_LIMIT,
    mcnemar_midp,
    sign_test,
    signflip_pvalues,
    wilcoxon_pvalues,
)
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


def mcnemar(p: Paired, margin: float, alpha: float) -> Outcome:
    """Binary, one sample per example: McNemar mid-p, Tango score interval and margin test."""
    n = p.n
    worse = int(np.sum(p.good < 0))
    better = int(np.sum(p.good > 0))
    p_one, p_two = (float(v) for v in mcnemar_midp(worse, better))
    test = "McNemar mid-p"
    if margin > 0:
        # H0 δ ≥ −margin: Tango's score statistic at the boundary, one-sided.
        p_one = 1.0 if margin >= 1 else float(stats.norm.cdf(tango_z(worse, better, n, -margin)))
        test = "McNemar mid-p; Tango score test at the margin"
    low, high = tango_interval(worse, better, n, 1 - 2 * alpha)
    outcome = Outcome(
        test=test,
        interval_method="Tango score",
        delta_good=(better - worse) / n,
        lower_good=low,
        upper_good=high,
        p_value=p_one,
        p_two_sided=p_two,
        n_discordant=worse + better,
        extra={"worse": worse, "better": better},
    )
    if worse + better == 0:
        outcome.notes.append(
            "no discordant pairs: every example has the same outcome on both sides"
        )
    else:
        mde = mcnemar_mde(n, (worse + better) / n, alpha, POWER)
        outcome.mde = None if math.isnan(mde) else mde
        if math.isnan(mde):
            outcome.notes.append("too few examples to detect any drop with 80 % power")
    if 0 < worse + better < SMALL_DISCORDANT or n < SMALL_N:
        outcome.notes.append(
            f"small sample ({n} examples, {worse + better} discordant): exact mid-p test; "
            "interval approximate"
        )
    return outcome


def signflip(p: Paired, margin: float, alpha: float, rng: np.random.Generator) -> Outcome:
    """Means (continuous scores, K > 1 sample means): sign-flip test, t or BCa interval."""
    g = p.good
    n = p.n
    p_one, p_two, method = signflip_pvalues(g, n_resamples=EXACT_LIMIT, rng=rng)
    if margin > 0:
        p_one = signflip_pvalues(g + margin, n_resamples=EXACT_LIMIT, rng=rng)[0]
    sd = float(g.std(ddof=1))
    mean = float(g.mean())
    names = {"exact": " (exact)", "monte-carlo": "", "normal": " (normal limit)"}
    outcome = Outcome(
        test="sign-flip permutation" + names[method],
        interval_method="paired t",
        delta_good=mean,
        p_value=float(p_one[0]),
        p_two_sided=float(p_two[0]),
        mde=_z_sum(alpha) * sd / math.sqrt(n),
        extra={"sd_delta": sd, "nonzero": int(np.count_nonzero(g))},
    )
    if sd == 0:
        outcome.lower_good = outcome.upper_good = mean
        outcome.interval_method = "none (zero variance)"
        if mean != 0:
            outcome.notes.append("every example changed by the same amount: interval degenerate")
    elif n >= SMALL_N:
        outcome.lower_good, outcome.upper_good, _ = t_interval(g, 1 - 2 * alpha)
    else:
        low, high, name = bca_interval(g, 1 - 2 * alpha, rng)
        outcome.lower_good, outcome.upper_good = low, high
        outcome.interval_method = f"{name} (approximate)"
        kind = "exact" if method == "exact" else "Monte Carlo"
        outcome.notes.append(
            f"small sample ({n} examples): {kind} permutation test; bootstrap interval "
            "approximate (under-covers at small n)"
        )
    return outcome


def wilcoxon(p: Paired, margin: float, alpha: float, rng: np.random.Generator) -> Outcome:
    """Heavy-tailed (latency, cost, tokens): Wilcoxon signed-rank, Hodges–Lehmann shift."""
    g = p.good
    n = p.n
    p_one = wilcoxon_pvalues(g + margin)[0]
    p_two = wilcoxon_pvalues(g)[1]
    estimate, low, high = hodges_lehmann(g, 1 - 2 * alpha, rng=rng)
    outcome = Outcome(
        test="Wilcoxon signed-rank (Pratt)",
        interval_method="Hodges–Lehmann",
        delta_good=estimate,
        lower_good=low,
        upper_good=high,
        p_value=p_one,
        p_two_sided=p_two,
        extra={"mean_delta_good": float(g.mean()), "median_delta_good": float(np.median(g))},
        notes=[
            "Δ is the Hodges–Lehmann shift (median of pairwise averages of the per-example "
            "differences), not head mean − base mean"
        ],
    )
    if low is None or high is None:
        outcome.notes.append(f"{n} examples are too few for a {1 - 2 * alpha:.0%} interval")
    elif high > low:
        z = stats.norm.ppf(1 - alpha)
        outcome.mde = _z_sum(alpha) * (high - low) / (2 * z)
    unchanged = float(np.mean(g == 0))
    if unchanged >= 0.25 and np.any(g != 0) and p.base is not None:
        # The shift of the typical example hides rare large changes; say what the mean did.
        mean_change = float(p.head.mean() - p.base.mean())
        outcome.notes.append(
            f"{unchanged:.0%} of examples did not change, so Δ describes the typical example; "
            f"the mean change (head − base) is {mean_change:+.4g}"
        )
    if n < SMALL_N:
        outcome.notes.append(f"small sample ({n} examples): signed-rank test; interval approximate")
    return outcome


def pairwise(p: Paired, margin: float, alpha: float) -> Outcome:
    """Pairwise judge preferences: exact sign test, Wilson interval on the win rate W."""
    n = p.n
    g = p.good  # s/2 per example, so W = 0.5 + mean(g)
    wins = int(np.sum(g > 0))
    losses = int(np.sum(g < 0))
    ties = n - wins - losses
    win_rate = 0.5 + float(g.mean())
    p_one, p_two = sign_test(wins, losses)
    test = "exact sign test"
    if margin > 0:
        # H0 W ≥ 0.5 − margin: Wilson's score test (the test the Wilson interval inverts).
        null = 0.5 - margin
        p_one = (
            1.0
            if null <= 0
            else float(stats.norm.cdf((win_rate - null) / math.sqrt(null * (1 - null) / n)))
        )
        test = "exact sign test; Wilson score test at the margin"
    low, high = wilson_interval(win_rate, n, 1 - 2 * alpha)
    outcome = Outcome(
        test=test,
        interval_method="Wilson (win rate)",
        delta_good=win_rate - 0.5,
        lower_good=low - 0.5,
        upper_good=high - 0.5,
        p_value=p_one,
        p_two_sided=p_two,
        n_discordant=wins + losses,
        extra={"wins": wins, "ties": ties, "losses": losses, "win_rate": win_rate},
    )
    if ties < n:
        outcome.mde = _z_sum(alpha) * math.sqrt((1 - ties / n) / (4 * n))
    if p.samples > 1:
        outcome.notes.append(
            "preferences averaged over samples per example; win/tie/loss by the average's sign"
        )
    if n < SMALL_N or wins + losses < SMALL_DISCORDANT:
        outcome.notes.append(
            f"small sample ({n} examples, {wins + losses} non-ties): exact sign test; "
            "interval approximate"
        )
    return outcome


def clustered(p: Paired, margin: float, alpha: float, rng: np.random.Generator) -> Outcome:
    """Any kind with groups: cluster sign flips, cluster-robust SE with t on G − 1 df."""
    assert p.clusters is not None
    g = p.good
    codes = p.clusters
    clusters = int(p.n_clusters or 0)
    mean = float(g.mean())
    outcome = Outcome(
        test="cluster sign-flip permutation",
        interval_method=f"cluster-robust t ({clusters - 1} df)",
        delta_good=mean,
        extra={"clusters": clusters},
    )
    if clusters < 2:
        outcome.interval_method = "none"
        outcome.notes.append(
            "single cluster: every example is in one group, so there is no independent "
            "replication to test against; inconclusive"
        )
        return outcome
    p_one, p_two, method = clustered_signflip(g, codes, n_resamples=EXACT_LIMIT, rng=rng)
    if margin > 0:
        p_one = clustered_signflip(g + margin, codes, n_resamples=EXACT_LIMIT, rng=rng)[0]
    low, high, se = clustered_t_interval(g, codes, 1 - 2 * alpha)
    naive = float(g.std(ddof=1) / math.sqrt(p.n)) if p.n > 1 else math.nan
    outcome.p_value = float(p_one[0])
    outcome.p_two_sided = float(p_two[0])
    outcome.lower_good, outcome.upper_good = low, high
    outcome.mde = _z_sum(alpha) * se
    if method == "exact":
        outcome.test += " (exact)"
    outcome.extra.update({"se": se, "se_unclustered": naive})
    if naive > 0:
        outcome.extra["design_effect"] = (se / naive) ** 2
    outcome.notes.append(
        f"clustered by group ({clusters} clusters): examples in a group are not independent"
    )
    if clusters < SMALL_N:
        outcome.notes.append(f"few clusters ({clusters}): interval approximate")
    if se == 0:
        outcome.interval_method = "none (zero variance)"
    return outcome

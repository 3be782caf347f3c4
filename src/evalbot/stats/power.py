"""Power and sample-size planning (the ``evalbot power`` command is ``evalbot.cli.power``).

Binary metrics: McNemar power for a drop ``delta`` in pass rate when a share ``discordance`` of
examples changes outcome between the sides (exact mid-p by enumeration, or Connor's 1987 normal
formula). Continuous metrics: the normal approximation with the SD of the per-example delta.
All tests are one-sided at ``alpha``, as the gate is.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike
from scipy import optimize, stats

__all__ = [
    "check_effect",
    "margin_power",
    "margin_sample_size",
    "mcnemar_mde",
    "mcnemar_power",
    "mcnemar_sample_size",
    "mde",
    "mean_power",
    "mean_sample_size",
]

McNemarMethod = Literal["midp", "exact", "normal"]


def check_effect(delta: float, discordance: float) -> tuple[float, float]:
    """(|delta|, discordance) checked: ValueError unless 0 < discordance ≤ 1 and |delta| ≤ it."""
    delta = abs(float(delta))
    if not 0.0 < discordance <= 1.0:
        raise ValueError("discordance must be in (0, 1]")
    if delta > discordance:
        raise ValueError(
            f"a drop of {delta} needs at least that share of discordant pairs, "
            f"got discordance {discordance}"
        )
    return delta, float(discordance)


def _critical_b(k: np.ndarray, alpha: float, method: McNemarMethod) -> np.ndarray:
    """Smallest count of worse pairs b (out of k discordant) at which the test rejects."""
    start = np.nan_to_num(stats.binom.isf(alpha, k, 0.5), nan=0.0)
    offsets = np.arange(-3, 4)
    candidates = np.clip(start[:, None] + offsets[None, :], 0, k[:, None] + 1)
    kk = np.broadcast_to(k[:, None], candidates.shape)
    if method == "midp":
        p = stats.binom.sf(candidates, kk, 0.5) + 0.5 * stats.binom.pmf(candidates, kk, 0.5)
        reject = p < alpha
    else:
        reject = stats.binom.sf(candidates - 1, kk, 0.5) <= alpha
    reject |= candidates > kk  # sentinel: b = k + 1 never happens, i.e. "never rejects"
    # The p-value falls with b, so the first rejecting candidate is the critical value.
    return np.asarray(np.where(reject, candidates, np.inf).min(axis=1))


def _conditional_power(
    k_max: int, p_worse: float, discordance: float, alpha: float, method: McNemarMethod
) -> np.ndarray:
    """P(reject | k discordant pairs) for k = 0..k_max; it does not depend on n."""
    k = np.arange(k_max + 1, dtype=float)
    critical = _critical_b(k, alpha, method)
    return np.asarray(stats.binom.sf(critical - 1, k, p_worse / discordance), dtype=float)


def mcnemar_power(
    n: ArrayLike,
    delta: float,
    discordance: float,
    alpha: float = 0.05,
    method: McNemarMethod = "midp",
) -> np.ndarray | float:
    """Power of the one-sided McNemar test to flag a pass-rate drop of ``delta``.

    Args:
        n: examples (scalar or array).
        delta: the drop in pass rate (sign ignored), e.g. 0.05 for 5 points.
        discordance: share of examples whose outcome differs between the sides (ψ).
        alpha: one-sided level.
        method: ``"midp"`` (what evalbot uses) or ``"exact"`` (exact conditional), both by
            enumerating the number of discordant pairs; ``"normal"`` is Connor's formula
            Φ((δ√n − z√ψ)/√(ψ − δ²)).

    Returns:
        Power, a float for scalar n.
    """
    delta, discordance = check_effect(delta, discordance)
    ns = np.atleast_1d(np.asarray(n, dtype=int))
    if method == "normal":
        z = stats.norm.ppf(1 - alpha)
        out = stats.norm.cdf(
            (delta * np.sqrt(ns) - z * math.sqrt(discordance))
            / math.sqrt(discordance - delta**2 + 1e-300)
        )
    elif method in ("midp", "exact"):
        p_worse = (discordance + delta) / 2
        conditional = _conditional_power(int(ns.max()), p_worse, discordance, alpha, method)
        k = np.arange(conditional.size)
        # Enumerate the number of discordant pairs: K ~ Bin(n, ψ), then b | K ~ Bin(K, p_worse/ψ).
        rows = max(1, 4_000_000 // k.size)  # bounds the pmf matrix at ~32 MB
        out = np.concatenate(
            [
                stats.binom.pmf(k[None, :], chunk[:, None], discordance) @ conditional
                for chunk in np.array_split(ns, max(1, math.ceil(ns.size / rows)))
            ]
        )
    else:
        raise ValueError(f"unknown method {method!r}")
    return float(out[0]) if np.ndim(n) == 0 else out


def mcnemar_sample_size(
    delta: float,
    discordance: float,
    power: float = 0.8,
    alpha: float = 0.05,
    method: McNemarMethod = "midp",
) -> int:
    """Examples needed for the McNemar test to reach ``power`` against a drop of ``delta``.

    ``"normal"`` is Connor's n = [z₁₋α√ψ + z₁₋β√(ψ − δ²)]² / δ². The exact methods return the
    smallest n whose power reaches the target (exact power saw-tooths slightly in n).
    """
    delta, discordance = check_effect(delta, discordance)
    z_a, z_b = stats.norm.ppf(1 - alpha), stats.norm.ppf(power)
    normal = math.ceil(
        (z_a * math.sqrt(discordance) + z_b * math.sqrt(discordance - delta**2)) ** 2 / delta**2
    )
    if method == "normal" or normal > 5_000:
        return normal  # at this size the exact tests and Connor's formula agree closely
    candidates = np.arange(max(2, int(0.8 * normal) - 20), int(1.25 * normal) + 50)
    powers = mcnemar_power(candidates, delta, discordance, alpha, method)
    reached = np.flatnonzero(np.asarray(powers) >= power)
    return int(candidates[reached[0]]) if reached.size else normal


def margin_power(
    n: ArrayLike, delta: float, discordance: float, max_drop: float, alpha: float = 0.05
) -> np.ndarray | float:
    """Normal power to show a drop of ``delta`` is beyond the margin ``max_drop`` (McNemar).

    Connor's formula with the null at the margin: the variance of the paired difference is
    (ψ − Δ²)/n under H0 and (ψ − δ²)/n at the true drop, so
    power = Φ(((δ − Δ)√n − z√(ψ − Δ²))/√(ψ − δ²)). With Δ = 0 it is Connor's formula.
    """
    ns = np.asarray(n, dtype=float)
    z = stats.norm.ppf(1 - alpha)
    null_var = max(discordance - max_drop**2, 1e-300)
    alt_var = max(discordance - delta**2, 1e-300)
    out = stats.norm.cdf(
        ((delta - max_drop) * np.sqrt(ns) - z * math.sqrt(null_var)) / math.sqrt(alt_var)
    )
    return float(out) if np.ndim(out) == 0 else out


def mcnemar_mde(
    n: int, discordance: float, alpha: float = 0.05, power: float = 0.8, max_drop: float = 0.0
) -> float:
    """Smallest pass-rate drop flagged as beyond ``max_drop`` with ``power`` (normal).

    NaN when even a drop equal to the discordance (every changed example got worse) would not
    reach the power.
    """
    if n < 1 or not 0.0 < discordance <= 1.0 or max_drop >= discordance:
        return math.nan

    def gap(delta: float) -> float:
        return float(margin_power(n, delta, discordance, max_drop, alpha)) - power

    top = discordance * (1 - 1e-9)
    if gap(top) < 0:
        return math.nan
    return float(optimize.brentq(gap, max_drop + 1e-12, top, xtol=1e-10))


def mde(
    sd_diff: float, n: ArrayLike, alpha: float = 0.05, power: float = 0.8
) -> np.ndarray | float:
    """Minimum detectable mean change: (z₁₋α + z_power) · sd_diff / √n (one-sided, normal)."""
    ns = np.asarray(n, dtype=float)
    out = (stats.norm.ppf(1 - alpha) + stats.norm.ppf(power)) * sd_diff / np.sqrt(ns)
    return float(out) if np.ndim(out) == 0 else out


def mean_power(
    delta: float, sd_diff: float, n: ArrayLike, alpha: float = 0.05
) -> np.ndarray | float:
    """Power of the one-sided paired mean test against a change of ``delta``: Φ(|δ|√n/σ − z)."""
    ns = np.asarray(n, dtype=float)
    out = stats.norm.cdf(abs(delta) * np.sqrt(ns) / sd_diff - stats.norm.ppf(1 - alpha))
    return float(out) if np.ndim(out) == 0 else out


def mean_sample_size(delta: float, sd_diff: float, power: float = 0.8, alpha: float = 0.05) -> int:
    """Examples for the paired mean test to detect ``delta``: ⌈((z₁₋α + z_power)·σ/δ)²⌉."""
    z = stats.norm.ppf(1 - alpha) + stats.norm.ppf(power)
    return math.ceil((z * sd_diff / abs(delta)) ** 2)


def margin_sample_size(
    delta: float, discordance: float, margin: float, power: float = 0.8, alpha: float = 0.05
) -> int:
    """Examples needed for ``power`` to show a pass-rate drop ``delta`` is beyond ``margin``
    (McNemar non-inferiority, normal approximation; ``margin`` < ``delta`` ≤ ``discordance``)."""
    z_a, z_b = stats.norm.ppf(1 - alpha), stats.norm.ppf(power)
    return math.ceil(
        (z_a * math.sqrt(discordance - margin**2) + z_b * math.sqrt(discordance - delta**2)) ** 2
        / (delta - margin) ** 2
    )

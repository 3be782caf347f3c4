"""Power and sample-size planning, and the ``evalbot power`` command.

Binary metrics: McNemar power for a drop ``delta`` in pass rate when a share ``discordance`` of
examples changes outcome between the sides (exact mid-p by enumeration, or Connor's 1987 normal
formula). Continuous metrics: the normal approximation with the SD of the per-example delta.
All tests are one-sided at ``alpha``, as the gate is.
"""

from __future__ import annotations

import argparse
import math
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike
from scipy import optimize, stats

from evalbot.errors import UserError

__all__ = [
    "add_arguments",
    "margin_power",
    "mcnemar_mde",
    "mcnemar_power",
    "mcnemar_sample_size",
    "mde",
    "mean_power",
    "mean_sample_size",
    "run",
]

McNemarMethod = Literal["midp", "exact", "normal"]


def _check(delta: float, discordance: float) -> tuple[float, float]:
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
    delta, discordance = _check(delta, discordance)
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
    delta, discordance = _check(delta, discordance)
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


# ---------------------------------------------------------------------------------------------
# evalbot power
# ---------------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``evalbot power``."""
    parser.description = (
        "Plan a suite's size. Binary metric: --drop and --discordance (share of examples whose "
        "pass/fail differs between base and head). Continuous metric: --sd (SD of the "
        "per-example head − base difference), optionally --drop."
    )
    parser.add_argument("--drop", type=float, help="drop to detect, in metric units (0.05 = 5 pts)")
    parser.add_argument("--discordance", type=float, help="binary: share of discordant examples")
    parser.add_argument("--sd", type=float, help="continuous: SD of the per-example delta")
    parser.add_argument("--n", type=int, nargs="+", default=[], help="golden-set size(s)")
    parser.add_argument(
        "--max-drop",
        type=float,
        default=0.0,
        help="the threshold's margin in metric units: power to show a drop beyond it (0)",
    )
    parser.add_argument("--alpha", type=float, default=0.05, help="one-sided level (0.05)")
    parser.add_argument("--power", type=float, default=0.8, help="target power (0.8)")


def _table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    lines = ["  ".join(h.rjust(w) for h, w in zip(headers, widths, strict=True))]
    lines += ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines)


def _binary_report(args: argparse.Namespace) -> str:
    drop, psi, alpha, target = args.drop, args.discordance, args.alpha, args.power
    margin = args.max_drop
    lines = [
        f"Binary metric, one-sided alpha {alpha:g}, discordance {psi:.1%}, "
        f"target power {target:.0%}"
        + (f", margin (max_drop) {margin * 100:g} pts" if margin else "")
    ]
    if drop is not None:
        try:
            _check(drop, psi)
        except ValueError as exc:
            raise UserError(str(exc), hint="the drop cannot exceed the discordance") from exc
        if drop <= margin:
            raise UserError(
                f"--drop {drop:g} is not beyond --max-drop {margin:g}",
                hint="the gate flags drops larger than the margin; give a larger --drop",
            )
    if args.n:
        headers = ["n", f"MDE at {target:.0%}"]
        rows = []
        for n in args.n:
            mde_n = mcnemar_mde(n, psi, alpha, target, max_drop=margin)
            rows.append([f"{n:,}", "none" if math.isnan(mde_n) else f"{mde_n * 100:.1f} pts"])
        if drop is not None:
            headers.append(f"power for {drop * 100:g} pts")
            for row, n in zip(rows, args.n, strict=True):
                value = (
                    mcnemar_power(n, drop, psi, alpha, "midp")
                    if margin == 0
                    else margin_power(n, drop, psi, margin, alpha)
                )
                row.append(f"{value:.3f}")
        lines.append(_table(headers, rows))
    if drop is not None:
        if margin == 0:
            needed = mcnemar_sample_size(drop, psi, target, alpha, "midp")
        else:
            z_a, z_b = stats.norm.ppf(1 - alpha), stats.norm.ppf(target)
            needed = math.ceil(
                (z_a * math.sqrt(psi - margin**2) + z_b * math.sqrt(psi - drop**2)) ** 2
                / (drop - margin) ** 2
            )
        lines.append(
            f"n needed for {target:.0%} power to show a {drop * 100:g}-pt drop"
            + (f" is beyond the {margin * 100:g}-pt margin" if margin else "")
            + f": {needed:,}"
        )
    return "\n".join(lines)


def _continuous_report(args: argparse.Namespace) -> str:
    sd, alpha, target, margin = args.sd, args.alpha, args.power, args.max_drop
    lines = [
        f"Continuous metric, paired test on the mean, one-sided alpha {alpha:g}, "
        f"SD of delta {sd:g}, target power {target:.0%}"
        + (f", margin (max_drop) {margin:g}" if margin else "")
    ]
    if args.drop is not None and args.drop <= margin:
        raise UserError(f"--drop {args.drop:g} is not beyond --max-drop {margin:g}")
    if args.n:
        headers = ["n", f"MDE at {target:.0%}"]
        rows = [[f"{n:,}", f"{margin + mde(sd, n, alpha, target):.4g}"] for n in args.n]
        if args.drop is not None:
            headers.append(f"power for {args.drop:g}")
            for row, n in zip(rows, args.n, strict=True):
                row.append(f"{mean_power(args.drop - margin, sd, n, alpha):.3f}")
        lines.append(_table(headers, rows))
    if args.drop is not None:
        needed = mean_sample_size(args.drop - margin, sd, target, alpha)
        lines.append(f"n needed for {target:.0%} power to detect {args.drop:g}: {needed:,}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Print the planning table; returns the exit code."""
    if not 0 < args.alpha < 0.5 or not 0 < args.power < 1:
        raise UserError("--alpha must be in (0, 0.5) and --power in (0, 1)")
    if any(n < 1 for n in args.n):
        raise UserError("--n must be positive")
    if not (math.isfinite(args.max_drop) and args.max_drop >= 0):
        raise UserError("--max-drop must be a number >= 0 (the threshold's margin)")
    if args.drop is not None and args.drop <= 0:
        raise UserError("--drop must be positive (the size of the drop, in metric units)")
    if args.discordance is not None:
        if not 0 < args.discordance <= 1:
            raise UserError("--discordance must be in (0, 1]")
        if args.drop is None and not args.n:
            raise UserError("give --drop and/or --n with --discordance")
        print(_binary_report(args))
    elif args.sd is not None:
        if args.sd <= 0:
            raise UserError("--sd must be positive")
        if args.drop is None and not args.n:
            raise UserError("give --drop and/or --n with --sd")
        print(_continuous_report(args))
    else:
        raise UserError(
            "nothing to plan",
            hint="binary: --drop 0.05 --discordance 0.2 --n 200; continuous: --sd 0.8 --n 200",
        )
    return 0

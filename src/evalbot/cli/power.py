"""``evalbot power``: plan a suite's size (the options, the checks of the user's values and the
printed table; the statistics are ``evalbot.stats.power``)."""

from __future__ import annotations

import argparse
import math

from evalbot.errors import UserError
from evalbot.stats.power import (
    check_effect,
    margin_power,
    margin_sample_size,
    mcnemar_mde,
    mcnemar_power,
    mcnemar_sample_size,
    mde,
    mean_power,
    mean_sample_size,
)

__all__ = ["add_arguments", "run"]


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
            check_effect(drop, psi)
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
            needed = margin_sample_size(drop, psi, margin, target, alpha)
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

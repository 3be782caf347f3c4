"""Does the judge correction keep its promises? Simulation of a judge with known errors.

    python benchmarks/judge_correction.py [--reps 2000] [--seed 1]

Two worlds, each with a true metric, an LLM judge that measures it with known errors, a PR that
changes the true metric by Δ, and a calibration set of m human labels:

- **binary**: truth is pass/fail; the judge says pass with probability se on a true pass and
  1 − sp on a true fail (the issue's se = 0.85, sp = 0.75, so J = 0.60); n = 200 paired
  examples, 15 % discordant, base pass rate 0.70, margin (max_drop) 0.05. The paired judge
  interval is the Tango score interval (what evalbot's exact test converges to at this n).
- **Likert**: truth T on a 1–5 scale; judge = 1.5 + 0.6·T + N(0, 0.4) (it compresses the scale),
  human = T + N(0, 0.4); n = 200 examples, per-example change N(Δ, 0.5), margin 0.25 points.
  The paired judge interval is evalbot's sign-flip inversion (``batch_bounds``, Monte Carlo).

Each row is one (world, m, Δ) cell over ``--reps`` repetitions. Figures, with their Monte Carlo
standard error (MCSE):

- ``cover95``: how often the 95 % interval covers the true Δ (raw judge interval vs corrected,
  the latter among the repetitions where the judge was calibrated enough to give one); the bar
  is ≥ 0.95 − 3·MCSE for the corrected one.
- ``pass``: how often the gate at α = 0.05 passes (lower bound above −margin). At Δ = −margin
  this is the false pass rate; bar ≤ 0.05 + 3·MCSE for the corrected gate. evalbot's gate also
  never passes what the raw judge fails ("only tighter"), so its rate is the "evalbot" column.
- ``uncal``: share of repetitions where the sensitivity's bound reaches the floor (0.1), so the
  metric is reported uncalibrated (the "J ≈ 0" rows must be near 1).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from tests.stats.judge_sim import Cell, binary_cell, likert_cell, mcse


def run(reps: int, seed: int) -> list[Cell]:
    rng = np.random.default_rng(seed)
    cells = []
    for m in (50, 100, 200):
        cells.append(binary_cell(rng, reps, m=m, delta=-0.05, se=0.85, sp=0.75, note="J 0.60"))
    cells.append(
        binary_cell(rng, reps, m=100, delta=0.0, se=0.85, sp=0.75, note="J 0.60, no change")
    )
    cells.append(binary_cell(rng, reps, m=100, delta=-0.05, se=0.55, sp=0.50, note="J 0.05"))
    likert_reps = max(200, reps // 2)
    for m in (50, 100, 200):
        cells.append(likert_cell(rng, likert_reps, m=m, delta=-0.25, slope=0.6, note="slope 0.6"))
    cells.append(
        likert_cell(rng, likert_reps, m=100, delta=0.0, slope=0.6, note="slope 0.6, no change")
    )
    cells.append(
        likert_cell(
            rng,
            likert_reps,
            m=100,
            delta=-0.25,
            slope=0.6,
            judge_sd=0.8,
            note="judge noise 2× human (Deming's ratio 1 is wrong)",
        )
    )
    cells.append(likert_cell(rng, likert_reps, m=100, delta=-0.25, slope=0.05, note="slope 0.05"))
    return cells


def table(cells: list[Cell]) -> str:
    head = (
        "| world | m labels | true Δ | margin | judge | cover95 raw | cover95 corrected "
        "| pass raw | pass corrected | pass evalbot | uncalibrated | reps |"
    )
    lines = [head, "|" + " --- |" * 12]
    for c in cells:
        bar = 3 * mcse(0.95, c.reps)
        cover = "— (no interval)" if math.isnan(c.cor_cover) else f"{c.cor_cover:.3f}"
        if c.cor_cover < 0.95 - bar:
            cover += " ✗"
        lines.append(
            f"| {c.world} | {c.m} | {c.delta:+.2f} | {c.margin:.2f} | {c.note} "
            f"| {c.raw_cover:.3f} | {cover} "
            f"| {c.raw_pass:.3f} | {c.cor_pass:.3f} | {c.evalbot_pass:.3f} "
            f"| {c.uncal:.3f} | {c.reps} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    started = time.perf_counter()
    cells = run(args.reps, args.seed)
    print(table(cells))
    bar_cover = 0.95 - 3 * mcse(0.95, args.reps)
    bar_pass = 0.05 + 3 * mcse(0.05, args.reps)
    print(
        f"\nbars at {args.reps} reps (binary; Likert uses half): cover95 ≥ {bar_cover:.3f}, "
        f"false pass ≤ {bar_pass:.3f}; {time.perf_counter() - started:.1f} s"
    )


if __name__ == "__main__":
    main()

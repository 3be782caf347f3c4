"""Verdict error rates of the gate, per design, size and margin, printed as one Markdown table.

Run from the repository root:  python benchmarks/verdict_error_rates.py [--runs 2000]

Columns: P(regressed) when nothing changed (A/A); P(regressed) when the true drop equals the
margin (the boundary); P(unchanged or improved) at the boundary. Each must be at most
α = 0.05: exactly (≤ 0.0505) where the data are discrete and every outcome is enumerated,
else within 3 Monte Carlo standard errors of 0.05. The rates are of verdicts, computed with the
functions compare_metric uses (tests/stats/verdict_sim.py). Also prints the binary power check
(n = 200, pass rate 0.80 → 0.70, margin 0) and the run time.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
from scipy import stats

from evalbot.stats.exact_binary import p_values_all
from tests.stats import verdict_sim as sim

SIZES = (2, 3, 5, 8, 15, 29, 30, 50, 200)
SIMULATED = {
    "Likert 1-5 grades": "likert",
    "continuous, symmetric": "symmetric",
    "continuous, skewed right": "skewed-right",
    "continuous, skewed left": "skewed-left",
    "sparse drops (10 % drop 2 grades)": "sparse",
    "pass/fail, K=3 samples": "samples",
    "latency, ties (40 % unchanged)": "latency",
}


def binary_power(n: int = 200, base: float = 0.80, head: float = 0.70) -> float:
    """Exact P(regressed) at margin 0 when the two sides pass independently."""
    p_worse, p_better = base * (1 - head), (1 - base) * head
    b, c, p_less = p_values_all(n, 0.0, "less")
    pmf = stats.multinomial.pmf(
        np.stack([b, c, n - b - c], 1), n, [p_worse, p_better, 1 - p_worse - p_better]
    )
    return float(pmf[p_less < sim.ALPHA].sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2000, help="simulated runs per cell")
    args = parser.parse_args()
    started = time.perf_counter()
    rows: list[tuple[str, str, str, str, sim.Rates]] = []

    for n in SIZES:
        for margin in (0.0, 0.10):
            rows.append(("pass/fail, discordance 20 %", f"{margin:g}", str(n), "exact",
                         sim.binary_exact(n, margin, 0.2)))  # fmt: skip
            rows.append(("pass/fail, worst discordance", f"{margin:g}", str(n), "exact",
                         sim.binary_exact_worst(n, margin)))  # fmt: skip
        for margin in (0.0, 0.05):
            # W − 1/2 = θ/2: a margin of 0.05 on the win rate is θ0 = −0.10; 40 % ties.
            rows.append(("pairwise, 40 % ties", f"{margin:g}", str(n), "exact",
                         sim.binary_exact(n, 2 * margin, 0.6)))  # fmt: skip
    for label, design in SIMULATED.items():
        for n in SIZES:
            for margin in (0.0, sim.SIM_MARGINS[design]):
                rates = sim.simulated(design, n, margin, runs=args.runs, seed=11)
                rows.append((label, f"{margin:g}", str(n), f"{args.runs} runs", rates))
    for label, sizes in sim.CLUSTER_DESIGNS.items():
        for margin in (0.0, 0.2):
            rates = sim.clustered(sizes, margin, runs=args.runs, seed=12)
            rows.append((f"clusters: {label}", f"{margin:g}", f"{sum(sizes)} (G={len(sizes)})",
                         f"{args.runs} runs", rates))  # fmt: skip

    print("| design | margin | n | method | P(regressed) A/A | P(regressed) boundary "
          "| P(unchanged or improved) boundary | limit |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    failed = 0
    for design, margin, n, method, r in rows:
        flag = "" if r.ok else " **over**"
        failed += not r.ok
        cells = (r.regressed_aa, r.regressed_boundary, r.passed_boundary, r.bound)
        rates = " | ".join(f"{x:.4f}" for x in cells)
        print(f"| {design} | {margin} | {n} | {method} | {rates}{flag} |")
    power = binary_power()
    print(f"\nbinary power, n = 200, pass rate 0.80 -> 0.70 (independent sides), margin 0: "
          f"{power:.3f} (exact; the mid-p McNemar test gave 0.744)")  # fmt: skip
    print(f"cells over the limit: {failed} of {len(rows)}")
    print(f"({time.perf_counter() - started:.0f} s; alpha = {sim.ALPHA}, one-sided)")


if __name__ == "__main__":
    main()

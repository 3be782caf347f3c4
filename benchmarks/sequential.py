"""The sequential gate (early stop) against the fixed design, by simulation, as a Markdown table.

Run from the repository root:  python benchmarks/sequential.py [--runs 2000] [--n 1000]

n examples, batches of 50, margin 2 points (pass/fail, 20 % discordance unless said) or 0.2
grade (1-5 grades), α = 0.05. Columns: P(regressed), P(pass: unchanged or improved), mean and
largest share of the golden set evaluated, and the fixed-n gate's P(regressed) and P(pass) on
the same data. Bounds checked (printed below the table): A/A P(regressed) and P(pass) at a drop
equal to the margin ≤ 0.05 + 3·MCSE; examples used ≤ 50 % for a 10-point drop, ≤ 60 % for
Δ = 0 with margin 5 points, never > 100 %; power at the fixed design's MDE within 0.05 of
the fixed design's. Vectorized over runs; a few seconds on one core.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.stats import sequential_sim as sim

BATCH = 50


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--n", type=int, default=1000)
    args = parser.parse_args()
    bound = sim.ALPHA + 3 * sim.mcse(args.runs)
    start = time.perf_counter()
    print(
        "| design | true Δ | margin | P(regressed) | P(pass) | examples used (mean) | "
        "(max) | fixed-n P(regressed) | fixed-n P(pass) |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    checks: list[tuple[str, bool]] = []
    for i, design in enumerate(sim.designs(args.n)):
        r = sim.simulate(design, runs=args.runs, n=args.n, batch=BATCH, seed=100 + i)
        extra = f", discordance {design.discordance:.0%}" if design.kind == "binary" else ""
        print(
            f"| {design.name}{extra} | {design.delta:+.3f} | {design.margin:g} | "
            f"{r['regressed']:.4f} | {r['passed']:.4f} | {r['used']:.1%} | {r['max_used']:.0%} "
            f"| {r['fixed_regressed']:.4f} | {r['fixed_passed']:.4f} |"
        )
        checks.append((f"{design.name}: never more than 100 %", r["max_used"] <= 1.0))
        if "A/A" in design.name:
            checks.append((f"{design.name}: P(regressed) ≤ {bound:.4f}", r["regressed"] <= bound))
        if "drop = margin" in design.name:
            checks.append((f"{design.name}: P(pass) ≤ {bound:.4f}", r["passed"] <= bound))
        if "10-point" in design.name:
            checks.append((f"{design.name}: used ≤ 50 %", r["used"] <= 0.5))
        if "margin 5 pts" in design.name:
            checks.append(
                (f"{design.name} ({design.discordance:.0%}): used ≤ 60 %", r["used"] <= 0.6)
            )
        if "MDE" in design.name:
            gap = r["fixed_regressed"] - r["regressed"]
            checks.append((f"{design.name}: power {gap:+.3f} below fixed-n (≤ 0.05)", gap <= 0.05))
    print()
    for label, ok in checks:
        print(f"- {'ok  ' if ok else 'MISS'} {label}")
    print(
        f"\n{args.runs} runs per design, n = {args.n}, batches of {BATCH}: "
        f"{time.perf_counter() - start:.1f} s"
    )


if __name__ == "__main__":
    main()

"""Measure evalbot's statistical error rates by simulation and print them as a table.

Run from the repository root:  python benchmarks/stats_error_rates.py [--runs-scale 1]

Same seeded simulations as tests/stats/test_error_rates.py (tests/stats/simulate.py), which
call the functions compare_metric uses. Figures are quoted in docs/statistics.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evalbot.stats import mcnemar_power
from tests.stats import simulate as sim


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs-scale", type=float, default=1.0, help="multiply run counts")
    args = parser.parse_args()
    r4000 = int(4000 * args.runs_scale)
    r2000 = int(2000 * args.runs_scale)
    started = time.perf_counter()
    rows: list[tuple[str, str, int, float, str]] = []

    def add(name: str, setting: str, runs: int, rate: float, target: str | None = None) -> None:
        bound = f"<= {sim.ALPHA + 3 * sim.mcse(runs):.3f} (0.05 + 3 MCSE)"
        rows.append((name, setting, runs, rate, target or bound))

    for psi in (0.05, 0.10, 0.20):
        rates = sim.binary_aa(psi, runs=r4000, seed=1)
        setting = f"psi={psi:.2f} n=200"
        add("A/A binary K=1, McNemar mid-p, one-sided", setting, r4000, rates["midp_one_sided"])
        add("A/A binary K=1, McNemar mid-p, two-sided", setting, r4000, rates["midp_two_sided"])
        add("A/A binary K=1, exact conditional (reference)", setting, r4000,
            rates["exact_one_sided"], "conservative")  # fmt: skip
    for n in (10, 20, 200):
        rates = sim.likert_aa(n=n, runs=r2000, seed=2)
        add("A/A Likert 1-5 grades, sign-flip", f"n={n} {rates['method']}", r2000,
            rates["one_sided"])  # fmt: skip
    add("A/A continuous skewed, sign-flip", "n=200", r2000,
        sim.continuous_aa(runs=r2000, seed=3)["one_sided"])  # fmt: skip
    add("A/A binary K=3 samples, sign-flip", "n=200", r2000,
        sim.samples_aa(runs=r2000, seed=4)["one_sided"])  # fmt: skip
    rates = sim.clustered_aa(runs=r2000, seed=5)
    add("A/A clustered, cluster sign-flip", "G=20 x 10", r2000, rates["clustered_one_sided"])
    add("A/A clustered, naive sign-flip (wrong)", "G=20 x 10", r2000, rates["naive_one_sided"],
        "inflated")  # fmt: skip
    for kind, runs in [("binary", 300), ("likert", 300), ("samples", 200), ("heavy", 500),
                       ("clustered", 500)]:  # fmt: skip
        runs = int(runs * args.runs_scale)
        add(f"A/A via compare_metric(), {kind}", "n=200", runs,
            sim.compare_metric_aa(kind, runs=runs, seed=6))  # fmt: skip
    holm = sim.holm_family(runs=r2000, seed=10)
    add("A/A 10 correlated metrics, any regressed, Holm", "n=200", r2000, holm["holm_any"])
    add("A/A 10 correlated metrics, any regressed, raw", "n=200", r2000, holm["raw_any"],
        "inflated")  # fmt: skip
    for psi in (0.10, 0.20):
        add("true drop = margin (5 pts): shown 'unchanged', Tango", f"psi={psi:.2f} n=200", r4000,
            sim.tango_ni_size(0.05, psi, runs=r4000, seed=8))  # fmt: skip
    add("true drop = margin: shown 'unchanged', paired t", "n=200", r4000,
        sim.t_ni_size(0.1, runs=r4000, seed=9))  # fmt: skip
    add("A/B power, 5-pt drop, mid-p (simulated)", "psi=0.20 n=200", r4000,
        sim.binary_power(0.05, 0.20, runs=r4000, seed=7),
        f"mcnemar_power() = {mcnemar_power(200, 0.05, 0.20):.3f}")  # fmt: skip

    width = max(len(r[0]) for r in rows)
    print(f"{'scenario':<{width}}  {'setting':<17} {'runs':>5}  {'rate':>6}  target")
    for name, setting, runs, rate, target in rows:
        print(f"{name:<{width}}  {setting:<17} {runs:>5}  {rate:6.3f}  {target}")
    print(f"\n({time.perf_counter() - started:.1f} s; alpha = {sim.ALPHA}, one-sided)")


if __name__ == "__main__":
    main()

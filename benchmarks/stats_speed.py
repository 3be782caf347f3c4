"""Time compare_metric + apply_gate on a large suite: 100,000 examples x 10 metrics.

Run from the repository root:  python benchmarks/stats_speed.py [--n 100000]

The metrics mix every kind and path: binary with one sample (McNemar + Tango), binary with
three samples and 1-5 grades (sign-flip + paired t), latency/cost/tokens (Wilcoxon +
Hodges-Lehmann), a pairwise preference (sign test + Wilson) and a clustered metric
(cluster sign flips + cluster-robust t), with 2 % missing scores.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from evalbot.inputs.config import Threshold
from evalbot.records import MetricKind
from evalbot.stats import apply_gate, compare_metric


def make_suite(n: int, rng: np.random.Generator) -> list[dict]:
    def missing(a: np.ndarray) -> np.ndarray:
        a = a.astype(float)
        a[rng.random(a.shape) < 0.02] = np.nan
        return a

    quality = rng.random(n)
    groups = [f"doc{i // 25}" for i in range(n)]
    latency = rng.lognormal(7, 0.8, n)
    metrics = [
        ("correct", MetricKind.BINARY, True, rng.random(n) < quality, rng.random(n) < quality),
        ("exact", MetricKind.BINARY, True, rng.random(n) < 0.7, rng.random(n) < 0.69),
        ("refusal", MetricKind.BINARY, False, rng.random(n) < 0.05, rng.random(n) < 0.05),
        (
            "correct_k3",
            MetricKind.BINARY,
            True,
            rng.random((n, 3)) < quality[:, None],
            rng.random((n, 3)) < quality[:, None],
        ),
        ("helpful", MetricKind.CONTINUOUS, True, rng.integers(1, 6, n), rng.integers(1, 6, n)),
        ("faithful", MetricKind.CONTINUOUS, True, rng.random((n, 3)), rng.random((n, 3))),
        (
            "latency_ms",
            MetricKind.HEAVY_TAILED,
            False,
            latency,
            latency * rng.lognormal(0.01, 0.2, n),
        ),
        ("output_tokens", MetricKind.HEAVY_TAILED, False, rng.poisson(300, n), rng.poisson(302, n)),
        ("preferred", MetricKind.PAIRWISE, True, None, rng.choice([-1, 0, 1], n)),
        ("grounded", MetricKind.BINARY, True, rng.random(n) < 0.8, rng.random(n) < 0.8),
    ]
    return [
        {
            "metric": name,
            "kind": kind,
            "higher_is_better": hib,
            "base": None if base is None else missing(base),
            "head": missing(head),
            "groups": groups if name == "grounded" else None,
        }
        for name, kind, hib, base, head in metrics
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="examples")
    args = parser.parse_args()
    suite = make_suite(args.n, np.random.default_rng(0))
    compare_metric("warmup", np.zeros(50), np.ones(50), kind=MetricKind.CONTINUOUS)
    thresholds = {"correct": Threshold(max_drop=0.02), "latency_ms": Threshold(max_drop=50.0)}
    started = time.perf_counter()
    comparisons = []
    for spec in suite:
        t0 = time.perf_counter()
        threshold = thresholds.get(spec["metric"])
        comparisons.append(
            compare_metric(
                spec["metric"],
                spec["base"],
                spec["head"],
                kind=spec["kind"],
                higher_is_better=spec["higher_is_better"],
                groups=spec["groups"],
                max_drop=threshold.max_drop if threshold else 0.0,
                blocking=threshold is not None,
            )
        )
        c = comparisons[-1]
        print(f"  {c.metric:<14} {c.test:<45} {time.perf_counter() - t0:6.3f} s  {c.verdict}")
    apply_gate(comparisons, thresholds)
    elapsed = time.perf_counter() - started
    print(f"{args.n:,} examples x {len(suite)} metrics: {elapsed:.2f} s")


if __name__ == "__main__":
    main()

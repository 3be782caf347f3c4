"""Statistics engine: paired per-example tests, intervals, verdicts, gate and power planning.

The pipeline calls ``compare_metric`` per metric, ``apply_gate`` per suite, then
``absolute_checks`` and ``suite_gate``. ``docs/statistics.md`` explains the output to reviewers.
"""

from __future__ import annotations

from evalbot.stats.clustered import cluster_robust_se, clustered_signflip
from evalbot.stats.compare import compare_metric
from evalbot.stats.gate import absolute_checks, apply_gate, decide_verdict, holm, suite_gate
from evalbot.stats.intervals import hodges_lehmann, tango_interval, wilson_interval
from evalbot.stats.paired import mcnemar_midp, signflip_pvalues, wilcoxon_pvalues
from evalbot.stats.power import (
    mcnemar_mde,
    mcnemar_power,
    mcnemar_sample_size,
    mde,
    mean_power,
    mean_sample_size,
)

__all__ = [
    "absolute_checks",
    "apply_gate",
    "cluster_robust_se",
    "clustered_signflip",
    "compare_metric",
    "decide_verdict",
    "hodges_lehmann",
    "holm",
    "mcnemar_mde",
    "mcnemar_midp",
    "mcnemar_power",
    "mcnemar_sample_size",
    "mde",
    "mean_power",
    "mean_sample_size",
    "signflip_pvalues",
    "suite_gate",
    "tango_interval",
    "wilcoxon_pvalues",
    "wilson_interval",
]

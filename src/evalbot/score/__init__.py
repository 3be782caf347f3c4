"""The score stage: one ``Scorer`` per metric config, looked up by ``type`` in one registry.

Import the public names from here. Importing this package registers every built-in metric type:
``metrics`` (deterministic) and ``judges`` (LLM-graded) call ``base.register`` at import time,
and ``base`` imports neither, so the package has no import cycle.
"""

from __future__ import annotations

from evalbot.score import judges, metrics, word_count
from evalbot.score.base import (
    JudgeRuntime,
    MetricOptions,
    MetricSpec,
    PairScorer,
    Score,
    Scorer,
    ScoreSetup,
    build_scorer,
    judged_types,
    metric_specs,
    proportion_types,
    register,
    registered_types,
    spec_for,
)

__all__ = [
    "JudgeRuntime",
    "MetricOptions",
    "MetricSpec",
    "PairScorer",
    "Score",
    "ScoreSetup",
    "Scorer",
    "build_scorer",
    "judged_types",
    "judges",
    "metric_specs",
    "metrics",
    "proportion_types",
    "register",
    "registered_types",
    "spec_for",
    "word_count",
]

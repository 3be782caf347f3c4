"""The score stage: one ``Scorer`` per metric config, looked up by ``type`` in one registry.

Import the public names from here. Every metric type is listed, with the facts the rest of
evalbot reads about it, in ``catalog`` (which imports no scorer); a type's scorer module
(``metrics``, ``word_count``, ``rubric``, ``pairwise``, ``rag``) is imported when a scorer of
that type is built, and registers its factory with ``base.register`` then.
"""

from __future__ import annotations

from evalbot.score.base import (
    JudgeRuntime,
    MetricOptions,
    MetricSpec,
    MetricType,
    PairScorer,
    Score,
    Scorer,
    ScoreSetup,
    build_scorer,
    check_judge_metric,
    judged_types,
    metric_specs,
    metric_type,
    metric_types,
    proportion_types,
    register,
    registered_types,
    spec_for,
)

__all__ = [
    "JudgeRuntime",
    "MetricOptions",
    "MetricSpec",
    "MetricType",
    "PairScorer",
    "Score",
    "ScoreSetup",
    "Scorer",
    "build_scorer",
    "check_judge_metric",
    "judged_types",
    "metric_specs",
    "metric_type",
    "metric_types",
    "proportion_types",
    "register",
    "registered_types",
    "spec_for",
]

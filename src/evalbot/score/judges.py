"""Registers every LLM-judge metric type (imported by ``score.base`` for its side effects).

| type | scorer | kind |
| --- | --- | --- |
| ``llm_rubric`` | G-Eval rubric grading with frozen steps | continuous |
| ``pairwise`` | head vs base, both orders | pairwise |
| ``faithfulness``, ``answer_relevance`` | claim/statement-level RAG | continuous |
| ``context_precision``, ``context_recall`` | retrieval quality against ``expected`` | continuous |
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from evalbot.errors import ConfigError
from evalbot.inputs.config import MetricConfig
from evalbot.records import MetricKind
from evalbot.score.base import PairScorer, Scorer, ScoreSetup, register, spec_for
from evalbot.score.judge_io import NoJudgeError
from evalbot.score.pairwise import (
    PairwiseOptions,
    PairwiseScorer,
    build_pairwise,
    pairwise_diagnostics,
)
from evalbot.score.rag import (
    AnswerRagOptions,
    AnswerRelevanceScorer,
    ContextPrecisionScorer,
    ContextRecallScorer,
    FaithfulnessScorer,
    RagOptions,
    build_rag,
)
from evalbot.score.rubric import RubricOptions, RubricScorer, build_rubric

if TYPE_CHECKING:
    from evalbot.inputs.tree import FileTree

__all__ = [
    "AnswerRelevanceScorer",
    "ContextPrecisionScorer",
    "ContextRecallScorer",
    "FaithfulnessScorer",
    "PairwiseScorer",
    "RubricScorer",
    "check_judge_metric",
    "pairwise_diagnostics",
]


@register("llm_rubric", kind=MetricKind.CONTINUOUS, needs_judge=True, options=RubricOptions)
def _llm_rubric(metric: MetricConfig, setup: ScoreSetup, options: RubricOptions) -> Scorer:
    return build_rubric(metric, setup, options)


@register(
    "pairwise", kind=MetricKind.PAIRWISE, needs_judge=True, proportion=True, options=PairwiseOptions
)
def _pairwise(metric: MetricConfig, setup: ScoreSetup, options: PairwiseOptions) -> PairScorer:
    return build_pairwise(metric, setup, options)


def _rag(metric: MetricConfig, setup: ScoreSetup, options: RagOptions) -> Scorer:
    return build_rag(metric, setup, options)


register(
    "faithfulness",
    "answer_relevance",
    kind=MetricKind.CONTINUOUS,
    needs_judge=True,
    proportion=True,
    options=AnswerRagOptions,
)(_rag)
register(
    "context_precision",
    "context_recall",
    kind=MetricKind.CONTINUOUS,
    needs_judge=True,
    proportion=True,
    options=RagOptions,
)(_rag)


def check_judge_metric(metric: MetricConfig, tree: FileTree, *, where: str) -> None:
    """Check a judge metric's options and files without a judge or any call (for ``validate``).

    Raises ``ConfigError`` naming ``where`` (the config file) on a bad option or missing file.
    """
    spec = spec_for(metric.type)
    if spec is None or not spec.needs_judge:
        raise ValueError(f"{metric.type!r} is not a judge metric type")
    try:
        spec.build(metric, ScoreSetup(tree=tree))
    except NoJudgeError:
        return  # every other check passed; whether a judge is configured is validate's concern
    except (TypeError, ValueError, KeyError) as exc:
        raise ConfigError(
            f"metric {metric.name!r} ({metric.type}): {exc}", file=where, hint="see docs/judges.md"
        ) from exc

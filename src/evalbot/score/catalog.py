"""Every metric type evalbot knows, with the facts the rest of evalbot reads about it, without
importing its scorer.

The config rules (which thresholds are fractions), ``evalbot validate`` (is it judged? is the
type known? did you mean…), detection (does a judge change matter?) and the pipeline read these
facts; the scorer's module (``module``) is imported only when a scorer of that type is built
(``base.spec_for``), where it registers its factory and options model (``base.register``). So
loading a config or validating one loads only the scorers its metrics use.

| type | module: what it scores | kind |
| --- | --- | --- |
| ``llm_rubric`` | ``rubric``: G-Eval rubric grading, frozen steps | continuous |
| ``pairwise`` | ``pairwise``: head vs base, both orders | pairwise |
| ``faithfulness``, ``answer_relevance`` | ``rag``: claims/statements | continuous |
| ``context_precision``, ``context_recall`` | ``rag``: retrieval vs ``expected`` | continuous |
| ``equals``, ``contains``, ``icontains``, ``not_contains`` | ``metrics``: strings | binary |
| ``regex``, ``json_valid``, ``json_schema``, ``numeric_close`` | ``metrics`` | binary |
| ``word_count`` | ``word_count``: words (lower is better) | heavy-tailed |
"""

from __future__ import annotations

from dataclasses import dataclass

from evalbot.records import MetricKind

__all__ = ["CATALOG", "MetricType"]


@dataclass(frozen=True)
class MetricType:
    """What evalbot may know about a metric type before its scorer is imported."""

    type: str
    kind: MetricKind
    """The statistical kind of its scores (picks the paired test)."""
    module: str
    """The ``evalbot.score`` module that implements it and registers its factory."""
    needs_judge: bool = False
    """Graded by an LLM judge: needs a judge model and counts judge usage."""
    proportion: bool = False
    """Scores are fractions in [0, 1] (pass rates, win rates, RAG ratios): so are thresholds."""
    higher_is_better: bool = True
    """The default direction (a metric config's ``higher_is_better`` overrides it)."""


def _judged(type_: str, kind: MetricKind, module: str, *, proportion: bool) -> MetricType:
    return MetricType(type_, kind, module, needs_judge=True, proportion=proportion)


def _binary(type_: str) -> MetricType:
    return MetricType(type_, MetricKind.BINARY, "metrics", proportion=True)


CATALOG: tuple[MetricType, ...] = (
    _judged("llm_rubric", MetricKind.CONTINUOUS, "rubric", proportion=False),
    _judged("pairwise", MetricKind.PAIRWISE, "pairwise", proportion=True),
    _judged("faithfulness", MetricKind.CONTINUOUS, "rag", proportion=True),
    _judged("answer_relevance", MetricKind.CONTINUOUS, "rag", proportion=True),
    _judged("context_precision", MetricKind.CONTINUOUS, "rag", proportion=True),
    _judged("context_recall", MetricKind.CONTINUOUS, "rag", proportion=True),
    _binary("equals"),
    _binary("contains"),
    _binary("icontains"),
    _binary("not_contains"),
    _binary("regex"),
    _binary("json_valid"),
    _binary("json_schema"),
    _binary("numeric_close"),
    MetricType("word_count", MetricKind.HEAVY_TAILED, "word_count", higher_is_better=False),
)
"""In the order error messages and ``evalbot calibrate`` list them."""

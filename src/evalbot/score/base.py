"""The scorer contract and the registry that maps a metric ``type`` in evalbot.yml to a factory.

Two shapes of scorer exist:

* ``Scorer``: scores one output of one side (``contains``, ``llm_rubric``, ``faithfulness``…).
* ``PairScorer``: compares the base and head outputs of one example (``pairwise``); it runs after
  both sides are generated and yields a preference in {-1, 0, +1} (head loses / tie / head wins).

Scores are floats; ``None`` means errored or undefined (e.g. an answer with no claims) and is
never counted as a pass or a failure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from evalbot.errors import ConfigError
from evalbot.inputs.config import MetricConfig, ModelConfig
from evalbot.records import Completion, Example, MetricKind

if TYPE_CHECKING:
    from evalbot.inputs.tree import FileTree
    from evalbot.run.runner import ModelRunner

__all__ = [
    "JUDGED_TYPES",
    "JudgeRuntime",
    "PairScorer",
    "Score",
    "ScoreSetup",
    "Scorer",
    "build_scorer",
    "register",
    "registered_types",
]


JUDGED_TYPES = frozenset(
    {
        "llm_rubric",
        "pairwise",
        "faithfulness",
        "answer_relevance",
        "context_precision",
        "context_recall",
    }
)
"""Metric types graded by an LLM judge (they need a judge model and count judge usage)."""


@dataclass(frozen=True)
class Score:
    value: float | None
    """None = errored or undefined; excluded from tests, counted as dropped."""
    details: dict[str, Any] = field(default_factory=dict)
    """Kept in results.json: judge reasons, claim counts, the matched pattern, …"""


@runtime_checkable
class Scorer(Protocol):
    name: str
    kind: MetricKind
    higher_is_better: bool

    async def score(self, example: Example, output: Completion) -> Score: ...


@runtime_checkable
class PairScorer(Protocol):
    name: str
    kind: MetricKind  # always MetricKind.PAIRWISE
    higher_is_better: bool

    async def compare(self, example: Example, base: Completion, head: Completion) -> Score: ...


@dataclass
class JudgeRuntime:
    """What LLM-graded metrics need, built once at the entrypoint and passed in."""

    runner: ModelRunner
    model: ModelConfig
    model_path: str
    calibration: dict[str, Any] | None = None


@dataclass
class ScoreSetup:
    """Context a factory may use to resolve files and judges. Files come from the head tree:
    both sides are scored with the head's metric definitions."""

    tree: FileTree
    judge: JudgeRuntime | None = None
    cache_dir: Path | None = None
    """Where frozen judge artefacts (e.g. G-Eval steps) may be cached."""


Factory = Callable[[MetricConfig, ScoreSetup], "Scorer | PairScorer"]
_REGISTRY: dict[str, Factory] = {}


def register(*types: str) -> Callable[[Factory], Factory]:
    """Decorator: ``@register("contains", "icontains")`` makes a factory available by type name."""

    def decorate(factory: Factory) -> Factory:
        for name in types:
            _REGISTRY[name] = factory
        return factory

    return decorate


def registered_types() -> list[str]:
    # Filled by importing ``evalbot.score``, which every import of this module does first.
    return sorted(_REGISTRY)


def build_scorer(metric: MetricConfig, setup: ScoreSetup, *, where: str) -> Scorer | PairScorer:
    """Build the scorer for one metric config; ``where`` names the config file for errors."""
    factory = _REGISTRY.get(metric.type)
    if factory is None:
        raise ConfigError(
            f"metric {metric.name!r}: unknown type {metric.type!r}",
            file=where,
            hint=f"use one of {', '.join(sorted(_REGISTRY))}",
        )
    try:
        return factory(metric, setup)
    except ConfigError:
        raise
    except (TypeError, ValueError, KeyError) as exc:
        raise ConfigError(
            f"metric {metric.name!r} ({metric.type}): {exc}", file=where, hint="see docs/config.md"
        ) from exc

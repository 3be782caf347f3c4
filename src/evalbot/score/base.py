"""The scorer contract and the registry that maps a metric ``type`` in evalbot.yml to a factory.

Two shapes of scorer exist:

* ``Scorer``: scores one output of one side (``contains``, ``llm_rubric``, ``faithfulness``…).
* ``PairScorer``: compares the base and head outputs of one example (``pairwise``); it runs after
  both sides are generated and yields a preference in {-1, 0, +1} (head loses / tie / head wins).

Scores are floats; ``None`` means errored or undefined (e.g. an answer with no claims) and is
never counted as a pass or a failure.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, ValidationError

from evalbot.errors import ConfigError
from evalbot.inputs.config import MetricConfig, ModelConfig
from evalbot.records import Completion, Example, MetricKind

if TYPE_CHECKING:
    from evalbot.inputs.tree import FileTree
    from evalbot.run.runner import ModelRunner

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
    "metric_specs",
    "proportion_types",
    "register",
    "registered_types",
    "spec_for",
    "unknown_type_hint",
]


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


class MetricOptions(BaseModel):
    """Base of every metric type's options model: a key the model does not declare is refused.

    Field validators raise ``ValueError`` with the whole message (``option 'x' must be …``); a
    required field's ``description`` is said after "is required"."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, arbitrary_types_allowed=True, defer_build=True
    )


OptionsModel = type[MetricOptions]
"""(An alias: inside ``MetricSpec`` the name ``type`` is the metric-type field.)"""

Factory = Callable[[MetricConfig, ScoreSetup, Any], "Scorer | PairScorer"]
"""``factory(metric, setup, options)``: ``options`` is the validated options model, or None for
a type registered without one (its factory checks ``metric.options`` itself)."""


def _option_problem(metric: MetricConfig, model: type[MetricOptions], exc: ValidationError) -> str:
    """The first problem of a failed options validation, as one line in evalbot's wording."""
    # Unknown keys first: a misspelt option also shows up as a missing required one.
    errors = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
    error = errors[0]
    key = str(error["loc"][0]) if error["loc"] else "?"
    fields = {field.alias or name: field for name, field in model.model_fields.items()}
    if error["type"] == "extra_forbidden":
        allowed = ", ".join(sorted(fields)) or "no options"
        return f"unknown option {key!r}; {metric.type!r} takes {allowed}"
    if error["type"] == "missing":
        about = fields[key].description if key in fields else None
        return f"option {key!r} is required" + (f" ({about})" if about else "")
    if error["type"] == "value_error" and "error" in error.get("ctx", {}):
        return str(error["ctx"]["error"])
    if error["type"] == "bool_type":
        return f"option {key!r} must be true or false, got {error['input']!r}"
    return f"option {key!r}: {error['msg']}"


@dataclass(frozen=True)
class MetricSpec:
    """Everything the rest of evalbot may know about a metric type, declared once, next to its
    factory, by ``@register``. Every list of metric types is derived from these specs."""

    type: str
    factory: Factory
    kind: MetricKind
    """The statistical kind of its scores (picks the paired test)."""
    needs_judge: bool = False
    """Graded by an LLM judge: needs a judge model and counts judge usage."""
    proportion: bool = False
    """Scores are fractions in [0, 1] (pass rates, win rates, RAG ratios): so are thresholds."""
    higher_is_better: bool = True
    """The default direction (a metric config's ``higher_is_better`` overrides it)."""
    options: OptionsModel | None = None
    """The type's options (the metric's keys besides name, type and higher_is_better); None
    means the factory still checks ``metric.options`` itself."""

    def check(self, metric: MetricConfig) -> MetricOptions | None:
        """Validate a metric config's options against this type's model (``validate`` and
        ``run`` both come here, through ``build``). Raises ValueError with one line."""
        if self.options is None:
            return None
        try:
            return self.options.model_validate(metric.options)
        except ValidationError as exc:
            raise ValueError(_option_problem(metric, self.options, exc)) from None

    def build(self, metric: MetricConfig, setup: ScoreSetup) -> Scorer | PairScorer:
        """Check the options, then hand the validated model to the factory."""
        return self.factory(metric, setup, self.check(metric))


_REGISTRY: dict[str, MetricSpec] = {}


def register(
    *types: str,
    kind: MetricKind,
    needs_judge: bool = False,
    proportion: bool = False,
    higher_is_better: bool = True,
    options: type[MetricOptions] | None = None,
) -> Callable[[Factory], Factory]:
    """Decorator: ``@register("contains", kind=MetricKind.BINARY, proportion=True)`` makes a
    factory available by type name, with the facts the config, validate and the pipeline use."""

    def decorate(factory: Factory) -> Factory:
        for name in types:
            if name in _REGISTRY:
                raise RuntimeError(f"metric type {name!r} is registered twice")
            _REGISTRY[name] = MetricSpec(
                name, factory, kind, needs_judge, proportion, higher_is_better, options
            )
        return factory

    return decorate


# The registry is filled by importing ``evalbot.score``, which every import of this module does
# first (the package __init__ imports the modules that register).


def registered_types() -> list[str]:
    return sorted(_REGISTRY)


def metric_specs() -> list[MetricSpec]:
    """In registration order (the order error messages list them in)."""
    return list(_REGISTRY.values())


def spec_for(metric_type: str) -> MetricSpec | None:
    return _REGISTRY.get(metric_type)


def judged_types() -> frozenset[str]:
    """Metric types graded by an LLM judge (they need a judge model and count judge usage)."""
    return frozenset(s.type for s in _REGISTRY.values() if s.needs_judge)


def proportion_types() -> frozenset[str]:
    """Metric types whose values are fractions in [0, 1]."""
    return frozenset(s.type for s in _REGISTRY.values() if s.proportion)


def unknown_type_hint(name: str) -> str:
    """The fix for a misspelled metric type: the closest registered one, then the list."""
    known = sorted(_REGISTRY)
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    listed = f"use one of {', '.join(known)}"
    return f"did you mean {close[0]!r}? Known types: {', '.join(known)}" if close else listed


def build_scorer(metric: MetricConfig, setup: ScoreSetup, *, where: str) -> Scorer | PairScorer:
    """Build the scorer for one metric config; ``where`` names the config file for errors."""
    spec = _REGISTRY.get(metric.type)
    if spec is None:
        raise ConfigError(
            f"metric {metric.name!r}: unknown type {metric.type!r}",
            file=where,
            hint=unknown_type_hint(metric.type),
        )
    try:
        return spec.build(metric, setup)
    except ConfigError:
        raise
    except (TypeError, ValueError, KeyError) as exc:
        raise ConfigError(
            f"metric {metric.name!r} ({metric.type}): {exc}", file=where, hint="see docs/config.md"
        ) from exc

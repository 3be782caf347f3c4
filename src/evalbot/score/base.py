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
import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, ValidationError

from evalbot.errors import ConfigError
from evalbot.inputs.config import MetricConfig, ModelConfig
from evalbot.records import Completion, Example, MetricKind
from evalbot.score.catalog import CATALOG, MetricType

if TYPE_CHECKING:
    from evalbot.inputs.tree import FileTree
    from evalbot.run.runner import ModelRunner

__all__ = [
    "JudgeRuntime",
    "MetricOptions",
    "MetricSpec",
    "MetricType",
    "NoJudgeError",
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


class NoJudgeError(ValueError):
    """A judge metric built without a judge runtime (factories check everything else first)."""


@dataclass(frozen=True)
class MetricSpec:
    """A metric type's catalog facts (``score/catalog.py``) with what its module registered by
    ``@register``: the factory and the options model."""

    about: MetricType
    factory: Factory
    options: OptionsModel | None = None
    """The type's options (the metric's keys besides name, type and higher_is_better); None
    means the factory still checks ``metric.options`` itself."""

    @property
    def type(self) -> str:
        return self.about.type

    @property
    def kind(self) -> MetricKind:
        return self.about.kind

    @property
    def needs_judge(self) -> bool:
        return self.about.needs_judge

    @property
    def proportion(self) -> bool:
        return self.about.proportion

    @property
    def higher_is_better(self) -> bool:
        return self.about.higher_is_better

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


_TYPES: dict[str, MetricType] = {t.type: t for t in CATALOG}
_REGISTRY: dict[str, MetricSpec] = {}
"""Filled by the scorer modules as they are imported (``spec_for`` imports them)."""


def register(
    *types: str, options: type[MetricOptions] | None = None
) -> Callable[[Factory], Factory]:
    """Decorator: ``@register("contains", "icontains", options=ContainsOptions)`` makes a factory
    the implementation of catalog types; the module must be the one the catalog names."""

    def decorate(factory: Factory) -> Factory:
        for name in types:
            about = _TYPES.get(name)
            if about is None:
                raise RuntimeError(f"metric type {name!r} is not in evalbot.score.catalog")
            if factory.__module__ != f"{__package__}.{about.module}":
                raise RuntimeError(
                    f"metric type {name!r} is registered by {factory.__module__}, "
                    f"but the catalog names {__package__}.{about.module}"
                )
            if name in _REGISTRY:
                raise RuntimeError(f"metric type {name!r} is registered twice")
            _REGISTRY[name] = MetricSpec(about, factory, options)
        return factory

    return decorate


def metric_types() -> tuple[MetricType, ...]:
    """Every metric type's facts, in catalog order; imports no scorer."""
    return CATALOG


def metric_type(name: str) -> MetricType | None:
    """A metric type's facts, or None for an unknown type; imports no scorer."""
    return _TYPES.get(name)


def registered_types() -> list[str]:
    return sorted(_TYPES)


def spec_for(metric_type: str) -> MetricSpec | None:
    """The type's facts and implementation: imports its scorer module on first use."""
    about = _TYPES.get(metric_type)
    if about is None:
        return None
    if metric_type not in _REGISTRY:
        importlib.import_module(f"{__package__}.{about.module}")
    spec = _REGISTRY.get(metric_type)
    if spec is None:
        raise RuntimeError(f"{__package__}.{about.module} registers no {metric_type!r} scorer")
    return spec


def metric_specs() -> list[MetricSpec]:
    """Every type with its implementation (imports every scorer module), in catalog order."""
    return [spec for t in CATALOG if (spec := spec_for(t.type)) is not None]


def judged_types() -> frozenset[str]:
    """Metric types graded by an LLM judge (they need a judge model and count judge usage)."""
    return frozenset(t.type for t in CATALOG if t.needs_judge)


def proportion_types() -> frozenset[str]:
    """Metric types whose values are fractions in [0, 1]."""
    return frozenset(t.type for t in CATALOG if t.proportion)


def unknown_type_hint(name: str) -> str:
    """The fix for a misspelled metric type: the closest registered one, then the list."""
    known = sorted(_TYPES)
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    listed = f"use one of {', '.join(known)}"
    return f"did you mean {close[0]!r}? Known types: {', '.join(known)}" if close else listed


def build_scorer(metric: MetricConfig, setup: ScoreSetup, *, where: str) -> Scorer | PairScorer:
    """Build the scorer for one metric config; ``where`` names the config file for errors."""
    spec = spec_for(metric.type)
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

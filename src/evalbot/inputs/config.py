"""evalbot.yml and model configs: pydantic models and loaders.

Files are read through a ``FileTree`` (the work tree or a git revision), so the same loader reads
the head and the base side without a checkout.
"""

from __future__ import annotations

import difflib
import hashlib
import re
import types
import typing
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from evalbot.errors import ConfigError
from evalbot.inputs.model_params import ParamError
from evalbot.inputs.tree import FileTree
from evalbot.parsing import ParseProblem, check_size, load_yaml

__all__ = [
    "BUILTIN_METRICS",
    "EvalbotConfig",
    "GateConfig",
    "JudgeConfig",
    "MetricConfig",
    "ModelConfig",
    "Price",
    "SuiteConfig",
    "Threshold",
    "load_config",
    "load_model_config",
    "parse_yaml",
    "sha256_text",
]

DEFAULT_CONFIG_PATH = "evalbot.yml"
MAX_CONFIG_BYTES = 1024 * 1024
"""evalbot.yml and model configs are small; anything larger is refused unread."""
MAX_WATCH_GLOBS = 100
MAX_GLOB_CHARS = 256

BUILTIN_METRICS: dict[str, str] = {
    "latency_ms": "mean latency per call (lower is better)",
    "latency_p95_ms": "95th percentile latency (absolute thresholds only)",
    "output_tokens": "output tokens per call (lower is better)",
    "cost_usd": "cost per example in USD (lower is better)",
    "error": "share of calls that errored (lower is better)",
}

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class _Strict(BaseModel):
    # defer_build: validators are built on first use, not at import (start-up CPU).
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class Price(_Strict):
    """USD per million tokens."""

    input: float = Field(ge=0)
    output: float = Field(ge=0)


def _default_provider() -> str:
    # Imported when called: the provider registry imports this module.
    from evalbot.run.providers import DEFAULT_KIND

    return DEFAULT_KIND


class ModelConfig(_Strict):
    """A model config file (YAML). Endpoints and keys never come from here: only the *names* of
    the environment variables to read them from, and those are checked against allowed hosts."""

    provider: str = Field(default_factory=lambda: _default_provider())
    """A provider kind registered in ``evalbot.run`` (checked against the registry); default:
    any OpenAI-compatible endpoint."""
    model: str = ""
    params: dict[str, Any] = Field(default_factory=dict)
    price: Price | None = None
    base_url_env: str = "OPENAI_BASE_URL"
    api_key_env: str = "OPENAI_API_KEY"
    target: str | None = None
    """``python`` provider: ``module:function`` of the user's own app."""
    command: list[str] | None = None
    """``exec`` provider: argv of a command speaking JSON on stdin/stdout."""
    timeout_s: float = Field(default=60.0, gt=0, le=3600, allow_inf_nan=False)
    """Per call; finite and at most an hour, so a PR cannot make a call wait forever."""

    @field_validator("base_url_env", "api_key_env")
    @classmethod
    def _env_name(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Z][A-Z0-9_]*", value):
            raise ValueError(f"{value!r} is not an environment variable name (A-Z, 0-9, _)")
        return value

    @field_validator("base_url_env")
    @classmethod
    def _url_env_looks_like_url(cls, value: str) -> str:
        # Otherwise a PR could name a secret here and have it printed as an unknown "host".
        if not value.endswith("_URL"):
            raise ValueError(f"{value!r} must end in _URL (e.g. OPENAI_BASE_URL)")
        return value

    @field_validator("api_key_env")
    @classmethod
    def _key_env_looks_like_key(cls, value: str) -> str:
        # A PR may edit this file; restricting it to *_API_KEY / *_KEY stops it from pointing the
        # key slot at an unrelated secret such as GITHUB_TOKEN.
        if not (value.endswith("_API_KEY") or value.endswith("_KEY")):
            raise ValueError(f"{value!r} must end in _API_KEY or _KEY")
        return value

    @field_validator("provider")
    @classmethod
    def _registered_provider(cls, value: str) -> str:
        from evalbot.run.providers import provider_kinds

        if value not in provider_kinds():
            raise ValueError(
                f"unknown provider {value!r}; use one of {', '.join(provider_kinds())}"
            )
        return value

    @model_validator(mode="after")
    def _provider_fields(self) -> ModelConfig:
        # The provider registry states what each kind needs (imported here: run imports config).
        from evalbot.run.providers import provider_spec

        provider_spec(self.provider).check(self)
        return self


class MetricConfig(BaseModel):
    """One metric of a suite. Type-specific keys are checked by the metric's factory."""

    model_config = ConfigDict(extra="allow", frozen=True, defer_build=True)

    name: str
    type: str
    higher_is_better: bool | None = None
    """Override of the metric type's own direction."""

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(f"metric name {value!r}: use letters, digits, '_', '-', '.'")
        return value

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class Threshold(_Strict):
    min: float | None = None
    max: float | None = None
    max_drop: float | None = Field(default=None, ge=0)
    """Largest tolerated worsening, in metric units (0 = any significant drop fails)."""
    blocking: bool = True
    max_total_drop: float | None = Field(default=None, ge=0)
    """Drift budget: largest tolerated worsening since ``gate.baseline``, in metric units."""

    @property
    def margin(self) -> float:
        """The non-inferiority margin the gate tests: ``max_drop``, or 0 when it is unset."""
        return 0.0 if self.max_drop is None else float(self.max_drop)

    @property
    def implicit_margin(self) -> bool:
        """No ``max_drop`` was written: a significant drop fails, an inconclusive one passes
        (the user asked for a bound, not for a shown non-inferiority)."""
        return self.max_drop is None

    @model_validator(mode="after")
    def _bounds_in_order(self) -> Threshold:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min:g} > max {self.max:g}: swap or fix the bounds")
        return self


def _check_fraction_units(metric: str, threshold: Threshold) -> None:
    """Proportions take fractions: ``max_drop: 2`` meant 2 points, ``min: 85`` meant 85 %."""
    for key in ("max_drop", "max_total_drop"):
        drop = getattr(threshold, key)
        if drop is not None and drop >= 1:
            raise ValueError(
                f"thresholds.{metric}.{key}: {drop:g} is not a fraction; "
                f"{metric} is a proportion in [0, 1], so a drop is written as a fraction "
                f"(did you mean {drop / 100:g}?)"
            )
    for key in ("min", "max"):
        value = getattr(threshold, key)
        if value is not None and not 0 <= value <= 1:
            raise ValueError(
                f"thresholds.{metric}.{key}: {value:g} is outside [0, 1]; {metric} is a "
                f"proportion (did you mean {value / 100:g}?)"
            )


SLICE_SEP = "@"
"""``correct@lang=de``: the threshold of metric ``correct`` on the slice ``lang=de``."""


def _check_slice_thresholds(thresholds: dict[str, Threshold]) -> None:
    """A slice threshold names a slice and takes only ``max_drop`` and ``blocking``: absolute
    bounds and the drift budget apply to the whole suite."""
    for key, threshold in thresholds.items():
        if SLICE_SEP not in key:
            continue
        metric, label = key.split(SLICE_SEP, 1)
        if not metric or not label:
            raise ValueError(f"thresholds.{key}: write METRIC@SLICE, e.g. correct@lang=de")
        extra = [k for k in ("min", "max", "max_total_drop") if getattr(threshold, k) is not None]
        if extra:
            raise ValueError(
                f"thresholds.{key}: a slice threshold takes only max_drop and blocking, not "
                f"{', '.join(extra)}"
            )


class JudgeConfig(_Strict):
    model: str
    """Path of the judge's model config file."""
    calibration: str | None = None
    """Path of a calibration record written by ``evalbot calibrate``."""


class GateConfig(_Strict):
    alpha: float = Field(default=0.05, gt=0, lt=0.5)
    on_inconclusive: Literal["warn", "fail"] = "warn"
    max_error_rate: float = Field(default=0.05, ge=0, le=1)
    informational_floor: float = Field(default=0.05, ge=0, lt=1)
    """Practical floor of informational metrics, relative to base: a change whose whole interval
    stays within ±floor·|base| reads "unchanged (below the floor)" (0 turns it off)."""
    baseline: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$")
    """Drift budget: the pinned revision (tag, branch or sha) the head is also compared with,
    against each threshold's ``max_total_drop``."""
    sequential: bool = False
    """Evaluate in seeded random batches and stop when every blocking metric is decided
    (anytime-valid betting tests, evalbot.stats.sequential); ``--sequential`` turns it on too."""


class SuiteConfig(_Strict):
    name: str
    prompt: str
    model: str
    dataset: str
    watch: list[str] = Field(default_factory=list)
    samples: int = Field(default=1, ge=1, le=100)
    metrics: list[MetricConfig] = Field(default_factory=list)
    thresholds: dict[str, Threshold] = Field(default_factory=dict)
    judge: JudgeConfig | None = None
    """Overrides the top-level judge for this suite."""

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(f"suite name {value!r}: use letters, digits, '_', '-', '.'")
        return value

    @field_validator("watch")
    @classmethod
    def _watch_bounded(cls, value: list[str]) -> list[str]:
        # Detection runs before any check is posted: keep its work bounded whatever the PR says.
        if len(value) > MAX_WATCH_GLOBS:
            raise ValueError(f"{len(value)} watch globs; at most {MAX_WATCH_GLOBS} are allowed")
        for pattern in value:
            if not pattern or len(pattern) > MAX_GLOB_CHARS:
                raise ValueError(
                    f"watch glob {pattern[:40]!r}: use 1 to {MAX_GLOB_CHARS} characters"
                )
        return value

    @model_validator(mode="after")
    def _thresholds_name_metrics(self) -> SuiteConfig:
        names = [m.name for m in self.metrics]
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise ValueError(f"duplicate metric names: {sorted(dupes)}")
        known = set(names) | set(BUILTIN_METRICS)
        _check_slice_thresholds(self.thresholds)
        unknown = sorted({k.split(SLICE_SEP, 1)[0] for k in self.thresholds} - known)
        if unknown:
            raise ValueError(f"thresholds name unknown metrics {unknown}; known: {sorted(known)}")
        # Which types score fractions is declared by each metric's spec in the score registry,
        # imported here, at validation time: the score stage itself imports this module.
        from evalbot.score import proportion_types

        p95 = self.thresholds.get("latency_p95_ms")
        if p95 is not None and (p95.max_drop is not None or p95.max_total_drop is not None):
            raise ValueError(
                "thresholds.latency_p95_ms takes only min/max: use latency_ms for max_drop "
                "(compared per example)"
            )
        fractions = {m.name for m in self.metrics if m.type in proportion_types()} | {"error"}
        for metric, threshold in self.thresholds.items():
            if metric.split(SLICE_SEP, 1)[0] in fractions:
                _check_fraction_units(metric, threshold)
        return self

    def files(self) -> list[str]:
        """Every file whose change affects this suite (besides ``watch`` globs)."""
        paths = [self.prompt, self.model, self.dataset]
        for metric in self.metrics:
            for key in ("rubric", "schema", "steps"):
                value = metric.options.get(key)
                if isinstance(value, str) and not value.lstrip().startswith("{"):
                    paths.append(value)
        return paths


class EvalbotConfig(_Strict):
    version: Literal[1] = 1
    judge: JudgeConfig | None = None
    gate: GateConfig = Field(default_factory=GateConfig)
    max_retries: int = Field(default=4, ge=0, le=10)
    """Retries per model call (the openai SDK's, with backoff); ``--max-retries`` / the action
    input ``max-retries`` override it. Behind a gateway that retries too, the two multiply."""
    suites: list[SuiteConfig]

    @model_validator(mode="after")
    def _unique_suites(self) -> EvalbotConfig:
        names = [s.name for s in self.suites]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate suite names: {dupes}")
        return self

    def suite(self, name: str) -> SuiteConfig | None:
        return next((s for s in self.suites if s.name == name), None)

    def judge_for(self, suite: SuiteConfig) -> JudgeConfig | None:
        return suite.judge or self.judge


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def parse_yaml(text: str, *, label: str, max_bytes: int = MAX_CONFIG_BYTES) -> Any:
    """A config file through the shared safe loader (no aliases, bounded size and depth)."""
    try:
        check_size(text, max_bytes=max_bytes, what="the file")
        return load_yaml(text)
    except ParseProblem as exc:
        raise ConfigError(
            exc.reason.removeprefix("invalid YAML: "),
            file=label,
            line=exc.line,
            hint="see docs/config.md",
        ) from None


def _locate(text: str, loc: tuple[Any, ...]) -> int | None:
    """Best-effort line of a pydantic error location in YAML source (by the last key name)."""
    keys = [part for part in loc if isinstance(part, str)]
    for key in reversed(keys):
        pattern = re.compile(rf"^\s*-?\s*{re.escape(key)}\s*:", re.MULTILINE)
        match = pattern.search(text)
        if match:
            return text.count("\n", 0, match.start()) + 1
    return None


def _fields_at(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The keys the model accepts at ``loc`` (the location of an unknown key's parent)."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            args = typing.get_args(current)
            current = args[0] if args else current
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return []
        field = current.model_fields.get(part)
        if field is None:
            return []
        current = field.annotation
        # Optional[X] / X | None: look through to X.
        if typing.get_origin(current) in (typing.Union, types.UnionType):
            inner = [a for a in typing.get_args(current) if a is not type(None)]
            current = inner[0] if len(inner) == 1 else current
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _validation_error(
    exc: ValidationError, *, label: str, text: str, model: type[BaseModel]
) -> ConfigError:
    errors = exc.errors()
    # An unknown key explains a "missing" one next to it (``datset`` for ``dataset``): report it.
    first = next((e for e in errors if e.get("type") == "extra_forbidden"), errors[0])
    loc = tuple(first.get("loc", ()))
    cause = (first.get("ctx") or {}).get("error")
    if isinstance(cause, ParamError):
        loc = ("params", cause.key)
    where = ".".join(str(part) for part in loc) or "(top level)"
    message = first.get("msg", "invalid value").removeprefix("Value error, ")
    if isinstance(cause, ParamError):
        message = str(cause).removeprefix(f"{where}: ")
        hint = "see the parameters in docs/config.md#model-configs"
    elif first.get("type") == "extra_forbidden":
        key = str(loc[-1])
        message = f"unknown key {key!r}"
        close = difflib.get_close_matches(key, _fields_at(model, loc[:-1]), n=1, cutoff=0.6)
        if close:
            hint = f"did you mean {close[0]}?"
        else:
            hint = "remove it or check its spelling against docs/config.md"
    elif first.get("type") == "missing":
        hint = "add the missing key"
    else:
        hint = "see docs/config.md"
    return ConfigError(f"{where}: {message}", file=label, line=_locate(text, loc), hint=hint)


def load_config(tree: FileTree, path: str = DEFAULT_CONFIG_PATH) -> EvalbotConfig:
    """Parse and validate evalbot.yml from a tree; raises ConfigError with file and line."""
    return load_config_and_sha(tree, path)[0]


def load_config_and_sha(
    tree: FileTree, path: str = DEFAULT_CONFIG_PATH
) -> tuple[EvalbotConfig, str]:
    """``load_config`` with the sha256 of the text it parsed (for provenance): the file is read
    once (from a git revision, each read is a ``git show``)."""
    if not tree.exists(path):
        raise ConfigError(
            "config file not found",
            file=tree.label(path),
            hint="create evalbot.yml at the repository root or pass --config PATH",
        )
    text = tree.read_text(path)
    data = parse_yaml(text, label=tree.label(path))
    if not isinstance(data, dict):
        raise ConfigError(
            "expected a mapping with 'version' and 'suites'", file=tree.label(path), line=1
        )
    try:
        return EvalbotConfig.model_validate(data), sha256_text(text)
    except ValidationError as exc:
        raise _validation_error(
            exc, label=tree.label(path), text=text, model=EvalbotConfig
        ) from exc


def load_model_config(tree: FileTree, path: str) -> tuple[ModelConfig, str]:
    """Parse a model config; returns it with the sha256 of its text (for provenance)."""
    if not tree.exists(path):
        raise ConfigError(
            "model config not found", file=tree.label(path), hint="check the suite's 'model' path"
        )
    text = tree.read_text(path)
    data = parse_yaml(text, label=tree.label(path))
    if not isinstance(data, dict):
        raise ConfigError("expected a mapping (provider, model, params)", file=tree.label(path))
    try:
        return ModelConfig.model_validate(data), sha256_text(text)
    except ValidationError as exc:
        raise _validation_error(exc, label=tree.label(path), text=text, model=ModelConfig) from exc

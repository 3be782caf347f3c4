"""Deterministic metrics (no model call) and the built-ins every suite gets.

Pass/fail metrics are ``BINARY`` (1.0 pass, 0.0 fail). An errored output scores ``None`` for
every metric except the built-ins ``error`` and ``latency_ms``, so an error is never counted as a
pass or a failure. Option values may hold ``{{placeholders}}`` (see ``evalbot.inputs.render``),
filled per example; ``check(example)`` renders them without scoring, for ``evalbot validate``.

Each type declares its options as a ``MetricOptions`` model at registration; the registry checks a
metric config against it (``MetricSpec.check``) and the factory receives the validated model.
Validators and factories raise ``ValueError``; ``build_scorer`` turns that into a ``ConfigError``
naming the config file.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass, field
from typing import Annotated, Any

import regex
from pydantic import BeforeValidator, Field, StrictBool, ValidationInfo

from evalbot.errors import InputError
from evalbot.inputs.config import MetricConfig
from evalbot.inputs.render import parse_template, render_string, resolve_value, to_text
from evalbot.parsing import ParseProblem, check_size, load_json, load_yaml
from evalbot.records import Completion, Example, MetricKind
from evalbot.score.base import MetricOptions, Score, Scorer, ScoreSetup, register
from evalbot.score.builtins import (
    CostUsd,
    ErrorRate,
    LatencyMs,
    OutputTokens,
    builtin_scorers,
)

__all__ = [
    "STARTER_METRIC",
    "CostUsd",
    "ErrorRate",
    "LatencyMs",
    "OutputTokens",
    "builtin_scorers",
    "extract_number",
]

_SHORT = 120
MAX_SCHEMA_BYTES = 1024 * 1024
_NUMBER = re.compile(
    r"(?<![\w.])[-+]?(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)(?:[eE][-+]?\d+)?"
)
_FLAGS = {
    "i": regex.IGNORECASE,
    "ignorecase": regex.IGNORECASE,
    "m": regex.MULTILINE,
    "multiline": regex.MULTILINE,
    "s": regex.DOTALL,
    "dotall": regex.DOTALL,
    "x": regex.VERBOSE,
    "verbose": regex.VERBOSE,
    "a": regex.ASCII,
    "ascii": regex.ASCII,
}
_FENCE = re.compile(r"^\s*```[A-Za-z0-9_-]*\s*\n(.*?)\n?\s*```\s*$", re.DOTALL)


def _short(text: Any) -> str:
    text = text if isinstance(text, str) else to_text(text)
    return text if len(text) <= _SHORT else text[: _SHORT - 1] + "…"


def _nonnegative(value: Any, info: ValidationInfo) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"option {info.field_name!r} must be a number >= 0, got {value!r}")
    return float(value)


def _template_list(value: Any, info: ValidationInfo) -> list[str]:
    """A string/number option or a list of them, each checked for placeholder syntax now."""
    key = info.field_name
    if value is None:
        raise ValueError(f"option {key!r} is required")
    items = value if isinstance(value, list) else [value]
    if not items:
        raise ValueError(f"option {key!r} must not be an empty list")
    out: list[str] = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, str | int | float):
            raise ValueError(f"option {key!r} must be a string or a list of strings")
        text = str(item)
        try:
            parse_template(text)
        except InputError as exc:
            raise ValueError(f"option {key!r}: {exc.message}; {exc.hint}") from None
        out.append(text)
    return out


_Tolerance = Annotated[float, BeforeValidator(_nonnegative)]
_Templates = Annotated[tuple[str, ...], BeforeValidator(_template_list)]


def _strip_fences(text: str) -> str:
    match = _FENCE.match(text)
    return match.group(1) if match else text


@dataclass
class _Metric:
    """Shared behaviour: errored outputs score None; option templates render per example."""

    name: str
    kind: MetricKind = MetricKind.BINARY
    higher_is_better: bool = True

    async def score(self, example: Example, output: Completion) -> Score:
        if not output.ok or output.text is None:
            return Score(None, {"error": _short(output.error or "no output")})
        return self.judge(example, output.text)

    def judge(self, example: Example, text: str) -> Score:
        raise NotImplementedError

    def check(self, example: Example) -> None:
        """Render this example's option values; raises InputError when one cannot be filled."""

    def where(self, option: str) -> str:
        return f"metric {self.name!r} option {option!r}"


def _direction(metric: MetricConfig, default: bool) -> bool:
    return default if metric.higher_is_better is None else metric.higher_is_better


# --------------------------------------------------------------------------------------------
# String matching
# --------------------------------------------------------------------------------------------


@dataclass
class _Match(_Metric):
    """equals / contains / icontains / not_contains against one or more rendered values."""

    mode: str = "contains"
    values: list[str] = field(default_factory=list)
    ignore_case: bool = False
    strip: bool = True
    require_all: bool = False

    def needles(self, example: Example) -> list[str]:
        out: list[str] = []
        for template in self.values:
            value = resolve_value(template, example, where=self.where("value"))
            items = value if isinstance(value, list) else [value]
            out.extend(to_text(item) for item in items)
        return out

    def check(self, example: Example) -> None:
        self.needles(example)

    def judge(self, example: Example, text: str) -> Score:
        needles = self.needles(example)
        if self.mode != "equals" and any(not n for n in needles):
            return Score(None, {"error": "the value is empty for this example"})
        fold = str.casefold if self.ignore_case else (lambda s: s)
        hay = fold(text.strip() if self.strip and self.mode == "equals" else text)

        def hit(needle: str) -> bool:
            target = fold(needle.strip() if self.strip and self.mode == "equals" else needle)
            return hay == target if self.mode == "equals" else target in hay

        found = [n for n in needles if hit(n)]
        if self.mode == "not_contains":
            if found:
                return Score(0.0, {"found": _short(found[0])})
            return Score(1.0)
        ok = len(found) == len(needles) if self.require_all else bool(found)
        if ok:
            return Score(1.0, {"matched": _short(found[0])})
        missed = [n for n in needles if n not in found]
        details: dict[str, Any] = {"missed": [_short(n) for n in missed[:3]]}
        if self.mode == "equals":
            details["got"] = _short(text)
        return Score(0.0, details)


class NotContainsOptions(MetricOptions):
    value: _Templates
    ignore_case: StrictBool | None = None
    """None: the type's default (true for ``icontains`` only)."""


class ContainsOptions(NotContainsOptions):
    value: _Templates = ("{{expected}}",)
    all: StrictBool = False


class EqualsOptions(NotContainsOptions):
    value: _Templates = ("{{expected}}",)
    strip: StrictBool = True


_MatchOptions = NotContainsOptions | ContainsOptions | EqualsOptions


def _match_factory(metric: MetricConfig, setup: ScoreSetup, options: _MatchOptions) -> Scorer:
    mode = metric.type
    ignore_case = options.ignore_case
    return _Match(
        name=metric.name,
        higher_is_better=_direction(metric, True),
        mode="contains" if mode == "icontains" else mode,
        values=list(options.value),
        ignore_case=mode == "icontains" if ignore_case is None else ignore_case,
        strip=options.strip if isinstance(options, EqualsOptions) else True,
        require_all=options.all if isinstance(options, ContainsOptions) else False,
    )


register("equals", options=EqualsOptions)(_match_factory)
register("contains", "icontains", options=ContainsOptions)(_match_factory)
register("not_contains", options=NotContainsOptions)(_match_factory)

STARTER_METRIC: dict[str, str] = {
    "name": "mentions_expected",
    "type": "icontains",
    "value": "{{expected}}",
}
"""The metric ``evalbot init`` gives every starter suite: the answer mentions the golden
example's ``expected`` phrase (case-insensitive)."""


# --------------------------------------------------------------------------------------------
# Regex
# --------------------------------------------------------------------------------------------


REGEX_TIMEOUT_S = 1.0
"""Per match. The pattern comes from the PR and the text from a model: a catastrophic pattern
such as ``^(a+)+$`` must cost one example error, not the whole run."""


@functools.lru_cache(maxsize=1024)
def _compile(pattern: str, flags: int) -> regex.Pattern[str]:
    # The ``regex`` package (not ``re``) because its matching takes a timeout; VERSION0 keeps
    # ``re``'s syntax and semantics.
    return regex.compile(pattern, flags | regex.VERSION0)


@dataclass
class _Regex(_Metric):
    pattern: str = ""
    flags: int = 0
    fullmatch: bool = False

    def compiled(self, example: Example) -> regex.Pattern[str]:
        where = self.where("pattern")
        # Substituted values are matched literally: an expected "$5.99" must not become a regex.
        pattern = render_string(self.pattern, example, where=where, quote=regex.escape)
        try:
            return _compile(pattern, self.flags)
        except regex.error as exc:
            raise InputError(
                f"{where}: invalid regex for example {example.id!r}: {exc}",
                hint="fix the pattern",
            ) from None

    def check(self, example: Example) -> None:
        self.compiled(example)

    def judge(self, example: Example, text: str) -> Score:
        compiled = self.compiled(example)
        try:
            if self.fullmatch:
                match = compiled.fullmatch(text.strip(), timeout=REGEX_TIMEOUT_S)
            else:
                match = compiled.search(text, timeout=REGEX_TIMEOUT_S)
        except TimeoutError:
            return Score(
                None,
                {"error": f"regex timed out after {REGEX_TIMEOUT_S:g}s (catastrophic pattern?)"},
            )
        if match:
            return Score(1.0, {"matched": _short(match.group())})
        return Score(0.0, {"missed": _short(compiled.pattern)})


def _regex_flags(value: Any) -> int:
    if value is None:
        return 0
    names = value if isinstance(value, list) else [value]
    flags = 0
    for name in names:
        if not isinstance(name, str):
            raise ValueError(f"option 'flags': {name!r} is not a flag name")
        letters = [name] if name.lower() in _FLAGS else list(name)
        for letter in letters:
            if letter.lower() not in _FLAGS:
                raise ValueError(
                    f"option 'flags': unknown flag {name!r}; use i, m, s, x, a "
                    "(ignorecase, multiline, dotall, verbose, ascii)"
                )
            flags |= _FLAGS[letter.lower()]
    return flags


def _pattern(value: Any, info: ValidationInfo) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError("option 'pattern' is required (a regular expression)")
    return _template_list(value, info)[0]


class RegexOptions(MetricOptions):
    pattern: Annotated[str, BeforeValidator(_pattern)] = Field(description="a regular expression")
    flags: Annotated[int, BeforeValidator(_regex_flags)] = 0
    fullmatch: StrictBool = False


@register("regex", options=RegexOptions)
def _regex_factory(metric: MetricConfig, setup: ScoreSetup, options: RegexOptions) -> Scorer:
    pattern, flags = options.pattern, options.flags
    # Compile once with a neutral stand-in for every placeholder, so a broken pattern fails at
    # build time instead of on the first example.
    parts = parse_template(pattern).parts
    probe = "".join(part if isinstance(part, str) else "x" for part in parts)
    try:
        _compile(probe, flags)
    except regex.error as exc:
        raise ValueError(f"invalid regex {pattern!r}: {exc}") from None
    return _Regex(
        name=metric.name,
        higher_is_better=_direction(metric, True),
        pattern=pattern,
        flags=flags,
        fullmatch=options.fullmatch,
    )


# --------------------------------------------------------------------------------------------
# JSON
# --------------------------------------------------------------------------------------------


class _Unchecked(Exception):
    """The output cannot be checked safely (too deep, a number too long): an example error."""


def _parse_json(text: str, allow_fences: bool) -> tuple[Any, str | None]:
    body = _strip_fences(text) if allow_fences else text
    try:
        return load_json(body), None
    except ParseProblem as exc:
        if exc.line is None:  # not a syntax error: a limit evalbot sets
            raise _Unchecked(f"output not checked: {exc.reason}") from None
        return None, "not valid JSON: " + exc.reason.removeprefix("invalid JSON: ")


@dataclass
class _JsonValid(_Metric):
    allow_fences: bool = False

    def judge(self, example: Example, text: str) -> Score:
        try:
            _, problem = _parse_json(text, self.allow_fences)
        except _Unchecked as exc:
            return Score(None, {"error": str(exc)})
        return Score(0.0, {"missed": problem}) if problem else Score(1.0)


class JsonValidOptions(MetricOptions):
    allow_fences: StrictBool = False


@register("json_valid", options=JsonValidOptions)
def _json_valid_factory(
    metric: MetricConfig, setup: ScoreSetup, options: JsonValidOptions
) -> Scorer:
    return _JsonValid(
        name=metric.name,
        higher_is_better=_direction(metric, True),
        allow_fences=options.allow_fences,
    )


@dataclass
class _JsonSchema(_Metric):
    validator: Any = None
    allow_fences: bool = False

    def judge(self, example: Example, text: str) -> Score:
        # jsonschema is imported by the suites that use it, not by every start (the registry).
        import jsonschema.exceptions
        import referencing.exceptions

        try:
            data, problem = _parse_json(text, self.allow_fences)
        except _Unchecked as exc:
            return Score(None, {"error": str(exc)})
        if problem:
            return Score(0.0, {"missed": problem})
        try:
            error = jsonschema.exceptions.best_match(self.validator.iter_errors(data))
        except referencing.exceptions.Unresolvable as exc:
            return Score(None, {"error": _short(f"schema $ref could not be resolved: {exc}")})
        except RecursionError:  # a $ref loop the static check could not see (e.g. via $id)
            return Score(None, {"error": "schema recursion too deep: check its $ref loops"})
        if error is None:
            return Score(1.0)
        path = "/".join(str(part) for part in error.absolute_path) or "(root)"
        return Score(0.0, {"missed": _short(f"{path}: {error.message}")})


def _load_schema(value: Any, setup: ScoreSetup) -> dict[str, Any]:
    if isinstance(value, str) and value.lstrip().startswith("{"):
        try:
            value = load_json(value)
        except ParseProblem as exc:
            raise ValueError(f"option 'schema' is not valid inline JSON: {exc.reason}") from None
    elif isinstance(value, str):
        if not setup.tree.exists(value):
            raise ValueError(
                f"schema file {value!r} not found; give a path from the repository root "
                "or an inline mapping"
            )
        text = setup.tree.read_text(value)
        try:
            check_size(text, max_bytes=MAX_SCHEMA_BYTES, what="the schema file")
            value = load_json(text) if value.lower().endswith(".json") else load_yaml(text)
        except ParseProblem as exc:
            where = f" (line {exc.line})" if exc.line else ""
            raise ValueError(f"schema file {value!r}{where}: {exc.reason}") from None
    if not isinstance(value, dict):
        raise ValueError("option 'schema' must be a mapping or the path of a JSON/YAML file")
    return value


def _remote_refs(schema: Any) -> list[str]:
    if isinstance(schema, dict):
        refs = [v for k, v in schema.items() if k == "$ref" and isinstance(v, str)]
        refs = [r for r in refs if not r.startswith("#")]
        return refs + [r for v in schema.values() for r in _remote_refs(v)]
    if isinstance(schema, list):
        return [r for v in schema for r in _remote_refs(v)]
    return []


_IN_PLACE = ("allOf", "anyOf", "oneOf", "not", "if", "then", "else", "dependentSchemas")
"""Applicators that apply a subschema to the *same* value: a cycle through them (and $ref)
never descends into the data, so validation would recurse forever."""


def _pointer_get(schema: Any, pointer: str) -> Any:
    node = schema
    for raw in pointer.split("/")[1:] if pointer else []:
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def _ref_loop(schema: Any) -> list[str] | None:
    """A cycle of local ``$ref``s and in-place applicators, as JSON pointers, or None."""
    edges: dict[str, list[str]] = {}
    stack: list[tuple[str, Any]] = [("", schema)]
    while stack:  # every subschema: where it sends the same value next
        pointer, node = stack.pop()
        if isinstance(node, list):
            stack += [(f"{pointer}/{i}", v) for i, v in enumerate(node)]
            continue
        if not isinstance(node, dict):
            continue
        nexts = edges.setdefault(pointer, [])
        ref = node.get("$ref")
        if isinstance(ref, str) and (ref == "#" or ref.startswith("#/")):
            nexts.append(ref[1:])
        for key, value in node.items():
            child = f"{pointer}/{key.replace('~', '~0').replace('/', '~1')}"
            stack.append((child, value))
            if key in _IN_PLACE and isinstance(value, dict) and key != "dependentSchemas":
                nexts.append(child)
            elif key in _IN_PLACE and isinstance(value, list | dict):
                items = value.items() if isinstance(value, dict) else enumerate(value)
                nexts += [f"{child}/{k}" for k, _ in items]
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    for start in edges:
        if state.get(start):
            continue
        path, iters = [start], [iter(edges.get(start, ()))]
        state[start] = 1
        while path:
            target = next(iters[-1], None)
            if target is None:
                state[path.pop()] = 2
                iters.pop()
            elif state.get(target) == 1:
                return [*path[path.index(target) :], target]
            elif not state.get(target) and _pointer_get(schema, target) is not None:
                state[target] = 1
                path.append(target)
                iters.append(iter(edges.get(target, ())))
    return None


class JsonSchemaOptions(MetricOptions):
    schema_: Any = Field(alias="schema", description="an inline mapping or a file path")
    allow_fences: StrictBool = False


@register("json_schema", options=JsonSchemaOptions)
def _json_schema_factory(
    metric: MetricConfig, setup: ScoreSetup, options: JsonSchemaOptions
) -> Scorer:
    import jsonschema.exceptions
    import referencing
    from jsonschema.validators import validator_for

    schema = _load_schema(options.schema_, setup)
    remote = _remote_refs(schema)
    if remote:
        # Nothing is fetched from the network while scoring; only refs inside the schema work.
        raise ValueError(f"schema $ref {remote[0]!r} is not local; inline it under $defs")
    loop = _ref_loop(schema)
    if loop:
        chain = " -> ".join("#" + pointer for pointer in loop)
        raise ValueError(f"schema $ref loop that never reaches a value: {chain}")
    cls = validator_for(schema)
    try:
        cls.check_schema(schema)
    except jsonschema.exceptions.SchemaError as exc:
        raise ValueError(f"invalid JSON Schema: {exc.message}") from None
    return _JsonSchema(
        name=metric.name,
        higher_is_better=_direction(metric, True),
        validator=cls(schema, registry=referencing.Registry()),
        allow_fences=options.allow_fences,
    )


# --------------------------------------------------------------------------------------------
# Numbers
# --------------------------------------------------------------------------------------------


def extract_number(text: str) -> float | None:
    """The first number in ``text`` (``-3``, ``1,234.5``, ``.5``, ``2e-3``), or None."""
    match = _NUMBER.search(text)
    return float(match.group().replace(",", "")) if match else None


@dataclass
class _NumericClose(_Metric):
    value: str = "{{expected}}"
    tolerance: float = 0.0
    rel_tolerance: float = 0.0

    def target(self, example: Example) -> float:
        where = self.where("value")
        raw = resolve_value(self.value, example, where=where)
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            return float(raw)
        number = extract_number(raw) if isinstance(raw, str) else None
        if number is None or _NUMBER.fullmatch(raw.strip()) is None:
            raise InputError(
                f"{where}: {_short(raw)!r} is not a number for example {example.id!r}",
                hint="put a plain number in the golden set (e.g. 42 or 3.5)",
            )
        return number

    def check(self, example: Example) -> None:
        self.target(example)

    def judge(self, example: Example, text: str) -> Score:
        target = self.target(example)
        got = extract_number(text)
        if got is None:
            return Score(0.0, {"missed": "no number in the output", "expected": target})
        ok = math.isclose(got, target, rel_tol=self.rel_tolerance, abs_tol=self.tolerance)
        ok = ok or got == target
        return Score(1.0 if ok else 0.0, {"got": got, "expected": target})


def _one_template(value: Any, info: ValidationInfo) -> str:
    values = _template_list(value, info)
    if len(values) != 1:
        raise ValueError("option 'value' must be one number or one placeholder, not a list")
    return values[0]


class NumericCloseOptions(MetricOptions):
    value: Annotated[str, BeforeValidator(_one_template)] = "{{expected}}"
    tolerance: _Tolerance = 0.0
    rel_tolerance: _Tolerance = 0.0


@register("numeric_close", options=NumericCloseOptions)
def _numeric_factory(
    metric: MetricConfig, setup: ScoreSetup, options: NumericCloseOptions
) -> Scorer:
    return _NumericClose(
        name=metric.name,
        higher_is_better=_direction(metric, True),
        value=options.value,
        tolerance=options.tolerance,
        rel_tolerance=options.rel_tolerance,
    )

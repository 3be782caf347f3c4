"""The one way evalbot parses YAML and JSON that a pull request or a model wrote.

Everything the PR carries is untrusted, so parsing must be bounded in memory and time:

* YAML anchors and aliases are refused. An alias shares a node, and nine aliases per level
  multiply nine times per level once the data is walked (a 600-byte ``evalbot.yml`` used about
  1 GiB). evalbot's files never need them.
* Nesting depth and node count are capped before anything is built (PyYAML's composer and the
  JSON decoder recurse, and a deep file would end in ``RecursionError``).
* Text size is capped by the caller (``max_bytes``); the defaults suit config files.
* JSON integers longer than Python's int-string limit, and nesting past the cap, are reported
  as a ``ParseProblem`` instead of a ``ValueError``/``RecursionError`` traceback.

``ParseProblem`` carries a one-line reason and, when known, the 1-based line; callers turn it into
their own ``ConfigError``/``InputError`` naming the file.
"""

from __future__ import annotations

import itertools
import json
import re
import sys
from dataclasses import dataclass
from typing import Any

import yaml

__all__ = [
    "MAX_DEPTH",
    "MAX_YAML_NODES",
    "ParseProblem",
    "check_size",
    "compose_yaml",
    "load_json",
    "load_yaml",
    "scrub_surrogates",
]

MAX_DEPTH = 64
"""Deepest nesting of lists and mappings accepted in any YAML or JSON evalbot reads."""
MAX_YAML_NODES = 2_000_000
"""Scalars, lists and mappings in one YAML document (a large golden set has a few 100,000)."""


_SURROGATE = re.compile("[\ud800-\udfff]")
_SURROGATE_ESCAPE = re.compile(r"\\(?:u[dD][89a-fA-F]|U0000[dD][89a-fA-F])")
"""A JSON or YAML escape of a UTF-16 surrogate: the only way one gets into parsed text."""


def scrub_surrogates(value: Any) -> Any:
    """Replace lone UTF-16 surrogates (which UTF-8 cannot encode) by U+FFFD in a string, or in
    every string of lists and mappings (depth is already capped by the loaders)."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value) if _SURROGATE.search(value) else value
    if isinstance(value, list):
        return [scrub_surrogates(item) for item in value]
    if isinstance(value, dict):
        return {scrub_surrogates(k): scrub_surrogates(v) for k, v in value.items()}
    return value


@dataclass
class ParseProblem(Exception):
    """Why a text could not be parsed safely; ``line`` is 1-based when known."""

    reason: str
    line: int | None = None

    def __str__(self) -> str:
        return self.reason


def check_size(text: str | bytes, *, max_bytes: int, what: str) -> None:
    """Refuse a text larger than ``max_bytes`` (measured in UTF-8) before parsing it."""
    size = len(text) if isinstance(text, bytes) else len(text.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        raise ParseProblem(f"{what} is {size:,} bytes, more than the {max_bytes:,} allowed")


def _line(event: yaml.Event) -> int | None:
    mark = getattr(event, "start_mark", None)
    return mark.line + 1 if mark is not None else None


_LIBYAML: type[yaml.CSafeLoader] | None = getattr(yaml, "CSafeLoader", None)
"""PyYAML's parser in C (libyaml), when PyYAML was built with it: ~10x faster than the pure
Python one on the config, prompt and golden files every command reads. It only ever answers a
text the pure parser would accept: any problem is re-parsed by the pure parser, whose message
and line evalbot reports (tests/core/test_parsing.py compares both on every YAML file here)."""


def _vet_events(
    text: str, *, max_depth: int, max_nodes: int, loader: type[yaml.SafeLoader | yaml.CSafeLoader]
) -> None:
    """Walk PyYAML's event stream (iterative, no recursion) and refuse what could explode."""
    depth = nodes = 0
    try:
        for event in yaml.parse(text, Loader=loader):
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                raise ParseProblem(
                    "YAML anchors and aliases (&name, *name, <<: *name) are not allowed: "
                    "write the values out",
                    _line(event),
                )
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > max_depth:
                    raise ParseProblem(f"nested more than {max_depth} levels deep", _line(event))
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
            if isinstance(event, yaml.NodeEvent):
                nodes += 1
                if nodes > max_nodes:
                    raise ParseProblem(f"more than {max_nodes:,} YAML values", _line(event))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = str(getattr(exc, "problem", None) or exc)
        raise ParseProblem(f"invalid YAML: {problem}", mark.line + 1 if mark else None) from None


def compose_yaml(
    text: str, *, max_depth: int = MAX_DEPTH, max_nodes: int = MAX_YAML_NODES
) -> tuple[Any, yaml.Node | None]:
    """Parse one YAML document safely: (data, node). The node gives line numbers."""
    # libyaml does not count a byte-order mark in its marks' index (render.py locates text by it)
    if _LIBYAML is not None and not text.startswith("\ufeff"):
        try:
            return _compose(text, max_depth=max_depth, max_nodes=max_nodes, loader=_LIBYAML)
        except Exception:  # the pure parser below says what is wrong, in its words, as always
            pass
    return _compose(text, max_depth=max_depth, max_nodes=max_nodes, loader=yaml.SafeLoader)


def _compose(
    text: str, *, max_depth: int, max_nodes: int, loader: type[yaml.SafeLoader | yaml.CSafeLoader]
) -> tuple[Any, yaml.Node | None]:
    _vet_events(text, max_depth=max_depth, max_nodes=max_nodes, loader=loader)
    try:
        node = yaml.compose(text, Loader=loader)
        if node is None:
            return None, None
        constructor = yaml.SafeLoader("")
        try:
            data = constructor.construct_document(node)
        finally:
            constructor.dispose()
        return (scrub_surrogates(data) if _SURROGATE_ESCAPE.search(text) else data), node
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = str(getattr(exc, "problem", None) or exc)
        raise ParseProblem(f"invalid YAML: {problem}", mark.line + 1 if mark else None) from None
    except (ValueError, OverflowError) as exc:  # e.g. a timestamp out of range
        raise ParseProblem(f"invalid YAML value: {exc}") from None


def load_yaml(text: str, **limits: int) -> Any:
    """``compose_yaml`` without the node."""
    return compose_yaml(text, **limits)[0]


_JSON_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


def _json_too_deep(text: str, max_depth: int) -> bool:
    """Whether ``text`` nests lists/objects past ``max_depth`` (brackets in strings ignored).
    Linear, no recursion: the JSON decoder itself recurses once per level."""
    if text.count("[") + text.count("{") <= max_depth:
        return False
    brackets = _NOT_BRACKET.sub("", _JSON_STRING.sub("", text))
    steps = (1 if char in "[{" else -1 for char in brackets)
    return max(itertools.accumulate(steps), default=0) > max_depth


def load_json(text: str, *, max_depth: int = MAX_DEPTH) -> Any:
    """``json.loads`` that never raises anything but ``ParseProblem`` for bad input."""
    if _json_too_deep(text, max_depth):
        raise ParseProblem(f"invalid JSON: nested more than {max_depth} levels deep")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ParseProblem(
            f"invalid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})", exc.lineno
        ) from None
    except RecursionError:  # pragma: no cover - the depth check comes first
        raise ParseProblem(f"invalid JSON: nested more than {max_depth} levels deep") from None
    except ValueError:  # Python's int-string conversion limit (sys.get_int_max_str_digits)
        limit = sys.get_int_max_str_digits()
        raise ParseProblem(f"invalid JSON: a number has more than {limit} digits") from None
    return scrub_surrogates(data) if _SURROGATE_ESCAPE.search(text) else data

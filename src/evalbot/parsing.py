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
]

MAX_DEPTH = 64
"""Deepest nesting of lists and mappings accepted in any YAML or JSON evalbot reads."""
MAX_YAML_NODES = 2_000_000
"""Scalars, lists and mappings in one YAML document (a large golden set has a few 100,000)."""


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


def _vet_events(text: str, *, max_depth: int, max_nodes: int) -> None:
    """Walk PyYAML's event stream (iterative, no recursion) and refuse what could explode."""
    depth = nodes = 0
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
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
    _vet_events(text, max_depth=max_depth, max_nodes=max_nodes)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        if node is None:
            return None, None
        loader = yaml.SafeLoader("")
        try:
            return loader.construct_document(node), node
        finally:
            loader.dispose()
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
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ParseProblem(
            f"invalid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})", exc.lineno
        ) from None
    except RecursionError:  # pragma: no cover - the depth check comes first
        raise ParseProblem(f"invalid JSON: nested more than {max_depth} levels deep") from None
    except ValueError:  # Python's int-string conversion limit (sys.get_int_max_str_digits)
        limit = sys.get_int_max_str_digits()
        raise ParseProblem(f"invalid JSON: a number has more than {limit} digits") from None

"""YAML is parsed by libyaml (PyYAML's C parser) when PyYAML has it, for start-up speed, and by the
pure Python parser otherwise or when libyaml refuses a text. Both must give the same data and the
same line of every node (the line numbers of config, prompt and golden-set errors), and every
refused text must be refused in the pure parser's words, as before."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from evalbot import parsing
from evalbot.parsing import ParseProblem, compose_yaml

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(parsing._LIBYAML is None, reason="PyYAML built without libyaml")

ACCEPTED = [
    "a: 1\nb: [x, 'y', \"z\"]\nc: {d: e}\n",
    "when: 2024-01-02\nt: 2024-01-02T03:04:05Z\nf: 1.5e3\nn: ~\nb: yes\no: 0o17\nh: 0x1F\n",
    "text: |\n  line one\n  line two\n\nfolded: >-\n  a\n  b\n",
    "unicode: é€😀 ü\nnext:\n  - content: hello\n",
    "\ufeffbom: 1\n",
    "a: x\n\u0085b: 1\nc: \u2028\n",
    "a: 1\r\nb:\r\n  - c\r\n  - 'd\r\n    e'\r\n",
    "a: \ufeff\ne: \ue000\n",
    "- id: 1\n  input: {q: 'what?'}\n- id: 2\n  input: {q: \"tab\\there\"}\n",
    "",
    "# only a comment\n",
    "key: 'it''s'\nother: \"\\u00e9\\U0001F600\"\n",
    "- [1, 2, [3, [4]]]\n- {a: {b: {c: d}}}\n",
    "? complex\n: value\n",
    "!!str 123: !!int '7'\n",
]

REFUSED = [
    "a: &x 1\nb: *x\n",
    "a: 1\n---\nb: 2\n",
    "a: [1, 2\n",
    "a: b: c\n",
    "a:\n\t- x\n",
    "bell: \x07\n",
    "a: 1\na: 2\n" + "x: " + "[" * 70 + "]" * 70 + "\n",
    "when: 2024-13-45\n",
    "key: '\ud800'\n",
    "- a\nb: c\n",
    "'unterminated\n",
    "nel: a\u0085b\nls: c\u2028d\n",
    "a: \ufffe\n",
    "a: \x7f\n",
    "!!python/object:os.system x\n",
]


def _lines(node: yaml.Node | None) -> list[tuple[str, int, int, int]]:
    """Every node's tag and start mark, depth first."""
    out: list[tuple[str, int, int, int]] = []
    stack = [node] if node is not None else []
    while stack:
        current = stack.pop()
        mark = current.start_mark
        out.append((current.tag, mark.line, mark.column, mark.index))
        if isinstance(current, yaml.SequenceNode):
            stack += reversed(current.value)
        elif isinstance(current, yaml.MappingNode):
            stack += [part for pair in reversed(current.value) for part in reversed(pair)]
    return out


def _pure(text: str) -> tuple[Any, yaml.Node | None]:
    limits = {"max_depth": parsing.MAX_DEPTH, "max_nodes": parsing.MAX_YAML_NODES}
    return parsing._compose(text, **limits, loader=yaml.SafeLoader)


def _libyaml(text: str) -> tuple[Any, yaml.Node | None]:
    assert parsing._LIBYAML is not None
    limits = {"max_depth": parsing.MAX_DEPTH, "max_nodes": parsing.MAX_YAML_NODES}
    return parsing._compose(text, **limits, loader=parsing._LIBYAML)


def _repository_yaml() -> list[Path]:
    return sorted(
        p
        for p in ROOT.rglob("*")
        if p.suffix in (".yml", ".yaml") and ".git" not in p.parts and p.is_file()
    )


@pytest.mark.parametrize("text", ACCEPTED + [p.read_text() for p in _repository_yaml()])
def test_libyaml_and_the_pure_parser_agree_on_data_and_lines(text: str) -> None:
    data, node = compose_yaml(text)
    pure_data, pure_node = _pure(text)
    assert data == pure_data
    assert _lines(node) == _lines(pure_node)
    if not text.startswith("\ufeff"):  # (a byte-order mark goes to the pure parser)
        fast_data, fast_node = _libyaml(text)  # libyaml really parsed it: the comparison counts
        assert (fast_data, _lines(fast_node)) == (data, _lines(node))


@pytest.mark.parametrize("text", REFUSED)
def test_a_refused_text_is_refused_in_the_pure_parsers_words(text: str) -> None:
    with pytest.raises(ParseProblem) as fast_path:
        compose_yaml(text)
    with pytest.raises(ParseProblem) as pure_path:
        _pure(text)
    assert (fast_path.value.reason, fast_path.value.line) == (
        pure_path.value.reason,
        pure_path.value.line,
    )


def test_the_repository_has_yaml_to_compare() -> None:
    assert any(p.name == "evalbot.yml" for p in _repository_yaml())

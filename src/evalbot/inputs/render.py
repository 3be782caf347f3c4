"""Prompt files and ``{{variable}}`` placeholders, filled from one golden example.

Two prompt formats:

* plain text / Markdown (any extension but ``.yaml``/``.yml``/``.json``): the whole file is one
  user message;
* chat messages (``.yaml``/``.yml``/``.json``): a mapping with ``messages:`` (a list of
  ``{role, content}``), or that list at the top level.

Placeholder syntax, deliberately tiny (a PR controls these files, so nothing here executes code):

* ``{{name}}`` or ``{{ name }}``: a template variable (a non-reserved golden-set key) or one of
  ``id``, ``expected``, ``group``, ``context``, ``metadata``;
* ``{{customer.name}}``, ``{{items.0}}``: dotted access into mappings and lists;
* ``{{context}}`` renders the passages joined by blank lines; other lists and mappings render as
  JSON, booleans as ``true``/``false``;
* ``\\{{`` is a literal ``{{`` (the backslash is dropped);
* anything else inside ``{{ }}`` (filters, expressions, Jinja tags) is an error, as is a
  placeholder whose value is missing or null for an example.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import yaml

from evalbot.errors import InputError
from evalbot.inputs.tree import FileTree
from evalbot.parsing import ParseProblem, check_size, compose_yaml, load_json
from evalbot.records import Example, Message

__all__ = [
    "CHAT_EXTENSIONS",
    "Placeholder",
    "PromptTemplate",
    "Template",
    "lookup",
    "parse_template",
    "render_string",
    "resolve_value",
    "to_text",
]

CHAT_EXTENSIONS = (".yaml", ".yml", ".json")
MAX_PROMPT_BYTES = 8 * 1024 * 1024
ROLES = ("system", "user", "assistant", "developer")

_RESERVED = ("id", "expected", "group", "context", "metadata")
_OPEN = re.compile(r"\\\{\{|\{\{")
_PLACEHOLDER = re.compile(r"\{\{([^{}\n]*)\}\}")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)*")
_SYNTAX_HINT = r"write {{name}} or {{name.key}} (no filters or code); write \{{ for literal braces"
_MISSING = object()


@dataclass(frozen=True)
class Placeholder:
    name: str
    """As written, without braces and spaces: ``question``, ``customer.name``."""
    token: str
    """The exact source text, e.g. ``{{ question }}``."""
    line: int | None = None
    """1-based line in the prompt file, when known."""


@dataclass(frozen=True)
class Template:
    """A parsed template string: literal text and placeholders, in order."""

    parts: tuple[str | Placeholder, ...]

    @property
    def placeholders(self) -> list[Placeholder]:
        return [p for p in self.parts if isinstance(p, Placeholder)]

    @property
    def single(self) -> Placeholder | None:
        """The placeholder when the template is exactly one placeholder (surrounding blanks
        allowed), else None."""
        rest = [p for p in self.parts if not (isinstance(p, str) and not p.strip())]
        return rest[0] if len(rest) == 1 and isinstance(rest[0], Placeholder) else None

    def render(
        self,
        example: Example,
        *,
        missing: Callable[[Placeholder], InputError],
        quote: Callable[[str], str] | None = None,
    ) -> str:
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            value = lookup(example, part.name)
            if value is _MISSING:
                raise missing(part)
            text = to_text(value, name=part.name)
            out.append(quote(text) if quote else text)
        return "".join(out)


def parse_template(
    text: str,
    *,
    file: str | None = None,
    where: str = "",
    locate: Callable[[int, str], int | None] | None = None,
) -> Template:
    """Split ``text`` into literals and placeholders; ``locate(offset, token)`` gives the file
    line of a placeholder. Raises InputError on a malformed placeholder."""
    parts: list[str | Placeholder] = []
    literal: list[str] = []
    pos = 0
    while True:
        found = _OPEN.search(text, pos)
        if found is None:
            literal.append(text[pos:])
            break
        literal.append(text[pos : found.start()])
        if found.group() != "{{":  # the escape \{{
            literal.append("{{")
            pos = found.end()
            continue
        if text.startswith("{{{", found.start()):
            # "{{{x}}}": the first brace is literal, so JSON-like text around a placeholder works.
            literal.append("{")
            pos = found.start() + 1
            continue
        match = _PLACEHOLDER.match(text, found.start())
        name = match.group(1).strip() if match else ""
        line = locate(found.start(), match.group() if match else "{{") if locate else None
        if match is None or not _NAME.fullmatch(name):
            shown = match.group() if match else text[found.start() : found.start() + 20]
            prefix = f"{where}: " if where else ""
            raise InputError(
                f"{prefix}invalid placeholder {shown.strip()!r}",
                file=file,
                line=line,
                hint=_SYNTAX_HINT,
            )
        parts.append("".join(literal))
        literal = []
        parts.append(Placeholder(name=name, token=match.group(), line=line))
        pos = match.end()
    parts.append("".join(literal))
    return Template(tuple(p for p in parts if p != ""))


def lookup(example: Example, name: str) -> Any:
    """The value a placeholder name refers to, or a private sentinel when missing or null."""
    first, *rest = name.split(".")
    value: Any = getattr(example, first) if first in _RESERVED else example.vars.get(first)
    for key in rest:
        if isinstance(value, dict) and key in value:
            value = value[key]
        elif isinstance(value, list) and key.isdigit() and int(key) < len(value):
            value = value[int(key)]
        else:
            return _MISSING
    if first == "metadata" and not rest and not value:
        return _MISSING
    return _MISSING if value is None else value


def to_text(value: Any, *, name: str = "") -> str:
    """How a value appears in a rendered prompt."""
    if isinstance(value, str):
        return value
    if name == "context" and isinstance(value, list):
        return "\n\n".join(str(passage) for passage in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def _missing_error(
    example: Example, *, file: str | None, where: str = ""
) -> Callable[[Placeholder], InputError]:
    def build(placeholder: Placeholder) -> InputError:
        prefix = f"{where}: " if where else ""
        return InputError(
            f"{prefix}placeholder {{{{{placeholder.name}}}}} has no value "
            f"for example {example.id!r}",
            file=file,
            line=placeholder.line,
            hint=f"add {placeholder.name!r} to the golden set or remove the placeholder",
        )

    return build


@functools.lru_cache(maxsize=512)
def _parsed(template: str, where: str) -> Template:
    return parse_template(template, where=where)


def render_string(
    template: str,
    example: Example,
    *,
    where: str,
    file: str | None = None,
    line: int | None = None,
    quote: Callable[[str], str] | None = None,
) -> str:
    """Fill the placeholders of a short template (a metric's ``value``, a regex ``pattern``).

    ``where`` names the template in messages (e.g. ``metric 'correct' option 'value'``); ``quote``
    transforms each substituted value (``re.escape`` for patterns). Raises InputError when a
    placeholder is malformed or has no value for this example.
    """
    try:
        parsed = _parsed(template, where)
    except InputError as exc:
        raise InputError(exc.message, file=file, line=line, hint=exc.hint) from None
    located = _missing_error(example, file=file, where=where)

    def missing(p: Placeholder) -> InputError:
        return located(Placeholder(p.name, p.token, line))

    return parsed.render(example, missing=missing, quote=quote)


def resolve_value(template: str, example: Example, *, where: str, file: str | None = None) -> Any:
    """Like ``render_string``, but a template that is one placeholder (``"{{expected}}"``)
    returns the raw value, so a list stays a list and a number a number."""
    single = _parsed(template, where).single
    if single is None:
        return render_string(template, example, where=where, file=file)
    value = lookup(example, single.name)
    if value is _MISSING:
        raise _missing_error(example, file=file, where=where)(single)
    return value


# --------------------------------------------------------------------------------------------
# Prompt files
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _MessageTemplate:
    role: str
    content: Template


@dataclass(frozen=True)
class PromptTemplate:
    """A loaded prompt file, ready to render any example."""

    path: str
    """The file as named in messages (``tree.label(path)``)."""
    sha256: str
    """sha256 of the file's text, recorded as provenance."""
    format: Literal["text", "chat"]
    messages: tuple[_MessageTemplate, ...]
    variables: frozenset[str]
    """Every placeholder name used, as written (``question``, ``customer.name``)."""

    def render(self, example: Example) -> list[Message]:
        """The chat messages for one example; raises InputError naming the prompt file, the
        line, the variable and the example id when a placeholder has no value."""
        missing = _missing_error(example, file=self.path)
        return [
            Message(role=m.role, content=m.content.render(example, missing=missing))  # type: ignore[arg-type]
            for m in self.messages
        ]


def load_prompt(tree: FileTree, path: str) -> PromptTemplate:
    """Load and parse a prompt file; the format comes from the extension (see module docs).

    Raises:
        InputError: missing file, invalid YAML/JSON, a bad message list, a malformed placeholder.
    """
    label = tree.label(path)
    if not tree.exists(path):
        raise InputError(
            "prompt file not found", file=label, hint="check the suite's 'prompt' path"
        )
    raw = tree.read_text(path)
    try:
        check_size(raw, max_bytes=MAX_PROMPT_BYTES, what="the prompt file")
    except ParseProblem as exc:
        raise InputError(str(exc), file=label, hint="keep prompts under 8 MiB") from None
    sha = hashlib.sha256(raw.encode("utf-8")).hexdigest()
    # A git blob keeps CRLF where the work tree reads LF: render the same messages from both.
    text = raw.removeprefix("\ufeff").replace("\r\n", "\n")
    if path.lower().endswith(CHAT_EXTENSIONS):
        messages = _chat_messages(text, label, is_json=path.lower().endswith(".json"))
        fmt: Literal["text", "chat"] = "chat"
    else:
        if not text.strip():
            raise InputError("prompt file is empty", file=label, hint="write the prompt text")

        def locate(offset: int, token: str) -> int:
            return text.count("\n", 0, offset) + 1

        content = parse_template(text, file=label, locate=locate)
        messages = (_MessageTemplate("user", content),)
        fmt = "text"
    names = frozenset(p.name for m in messages for p in m.content.placeholders)
    return PromptTemplate(path=label, sha256=sha, format=fmt, messages=messages, variables=names)


_CHAT_HINT = "write messages: [{role: system, content: ...}, {role: user, content: ...}]"


def _chat_messages(text: str, label: str, *, is_json: bool) -> tuple[_MessageTemplate, ...]:
    data, items = _load_structured(text, label, is_json=is_json)
    if isinstance(data, dict):
        unknown = sorted(str(k) for k in data if k != "messages")
        if unknown or "messages" not in data:
            raise InputError(
                f"unknown top-level key {unknown[0]!r}" if unknown else "no 'messages' key",
                file=label,
                line=_key_line(text, unknown[0] if unknown else "messages"),
                hint=_CHAT_HINT,
            )
        data = data["messages"]
        items = _child(items, "messages")
    if not isinstance(data, list) or not data:
        raise InputError(
            "expected a non-empty list of messages", file=label, line=1, hint=_CHAT_HINT
        )
    nodes = items.value if isinstance(items, yaml.SequenceNode) else []
    cursor = 0
    out: list[_MessageTemplate] = []
    for index, item in enumerate(data):
        node = nodes[index] if index < len(nodes) else None
        line = node.start_mark.line + 1 if node is not None else None
        if not isinstance(item, dict) or set(item) - {"role", "content"}:
            raise InputError(
                f"message {index + 1}: expected a mapping with only 'role' and 'content'",
                file=label,
                line=line,
                hint=_CHAT_HINT,
            )
        role, content = item.get("role"), item.get("content")
        if role not in ROLES:
            raise InputError(
                f"message {index + 1}: unknown role {role!r}",
                file=label,
                line=line,
                hint="use one of " + ", ".join(ROLES),
            )
        if not isinstance(content, str):
            raise InputError(
                f"message {index + 1}: 'content' must be a string",
                file=label,
                line=line,
                hint="write the content as text (a YAML block scalar '|' keeps line breaks)",
            )
        content_node = _child(node, "content")
        if content_node is not None:
            cursor = content_node.start_mark.index
        fallback = content_node.start_mark.line + 1 if content_node is not None else line

        def locate(offset: int, token: str, fallback: int | None = fallback) -> int | None:
            # Search the raw file for the token from the content's start: exact for block and
            # plain scalars and for JSON strings, and never fooled by comments above it.
            nonlocal cursor
            found = text.find(token, cursor)
            if found == -1:
                return fallback
            cursor = found + len(token)
            return text.count("\n", 0, found) + 1

        template = parse_template(content, file=label, locate=locate)
        out.append(_MessageTemplate(role, template))
    return tuple(out)


def _load_structured(text: str, label: str, *, is_json: bool) -> tuple[Any, yaml.Node | None]:
    try:
        if is_json:
            data = load_json(text)
        else:
            return compose_yaml(text)
    except ParseProblem as exc:
        hint = "fix the JSON syntax" if is_json else "fix the YAML syntax"
        raise InputError(exc.reason, file=label, line=exc.line, hint=hint) from None
    try:  # line numbers only: the JSON was parsed above
        node = compose_yaml(text)[1]
    except ParseProblem:
        node = None  # JSON that PyYAML cannot read (e.g. tabs): lines become best-effort
    return data, node


def _child(node: yaml.Node | None, key: str) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode) and k.value == key:
                return v
    return None


def _key_line(text: str, key: str) -> int | None:
    match = re.search(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*:", text, re.MULTILINE)
    return text.count("\n", 0, match.start()) + 1 if match else 1

"""Untrusted text (model outputs, golden sets, file paths) made safe for Markdown, terminals, XML.

Everything a PR can influence goes through one of these before it reaches the comment: a model
output can contain ``|`` (breaks the table), ``@user`` (pings people), ``#12`` or an issue URL
(cross-references), HTML, or a copy of our hidden marker (would make the publisher edit the wrong
comment). GitHub's rules: docs/github-platform.md §2 and the GFM spec §4.10 (``\\|`` is needed
even inside code spans).
"""

from __future__ import annotations

import re
import textwrap

__all__ = ["ZWJ", "escape_cell", "fenced", "plain", "xml_safe"]

ZWJ = "\u200d"
"""Zero-width joiner: invisible, but it breaks GitHub's mention and reference patterns."""

ELLIPSIS = "…"

_LINE_BREAK = re.compile(r"\r\n|[\r\n\v\f\x85\u2028\u2029]")
# C0/C1 controls (tab and newline are handled separately) and bidi overrides ("Trojan source").
_INVISIBLE = re.compile(
    r"[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)
_XML_INVALID = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

_CELL_ESCAPES = {
    "&": "&amp;",
    "<": "&lt;",
    ">": "&gt;",
    "\n": "<br>",
    **{ch: "\\" + ch for ch in "\\`*_[]|~$"},
}
_CELL_TABLE = str.maketrans(_CELL_ESCAPES)

_MENTION = re.compile(r"@")
_REFERENCE = re.compile(r"(#|\bGH-)(?=\d)", re.IGNORECASE)
_URL_SCHEME = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*):(?=//)")
_WWW = re.compile(r"(?i)\bwww\.")


def _normalise(text: str) -> str:
    """One line-break character, no control or bidi characters."""
    text = _LINE_BREAK.sub("\n", text)
    return _INVISIBLE.sub("", text)


def _truncate(text: str, limit: int) -> str:
    if limit < 1:
        return ELLIPSIS if text else ""
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS


def _neutralise_links(text: str) -> str:
    """Break mentions, issue references and autolinks without changing what a reader sees."""
    text = _MENTION.sub("@" + ZWJ, text)
    text = _REFERENCE.sub(lambda m: m.group(1) + ZWJ, text)
    text = _URL_SCHEME.sub(lambda m: m.group(1) + ":" + ZWJ, text)
    return _WWW.sub(lambda m: m.group(0)[:3] + ZWJ + ".", text)


def escape_cell(text: object, *, limit: int = 200) -> str:
    """Untrusted text → one line that is inert inside a GitHub Markdown table cell.

    Truncates to ``limit`` characters (with "…"), then escapes ``&``, ``<``, ``>`` as entities (no
    HTML, no ``<!--`` marker forgery), backslash-escapes Markdown punctuation (``|`` even inside
    code, backticks, ``[`` ``]`` so no link or image), turns newlines into ``<br>`` and breaks
    ``@mentions``, ``#123`` / ``GH-123`` references and autolinks with a zero-width joiner.
    The result is also safe in a heading, a list item or a ``<summary>``.
    """
    raw = _truncate(_normalise(str(text)).replace("\t", " "), limit)
    return _neutralise_links(raw.translate(_CELL_TABLE))


def fenced(text: object, *, limit: int, wrap: int | None = None) -> str:
    """Untrusted multi-line text → a fenced code block it cannot close early.

    The fence is one backtick longer than the longest backtick run inside (at least three).
    Inside a fence nothing renders, but ``<!--`` is neutralised anyway: the publisher finds its
    comment by the literal marker, and a fence does not hide it from a substring search.
    """
    raw = str(text)
    body = _normalise(raw[: max(limit, 0) + 1])  # +1: keeps a trailing "\r\n" whole
    more = len(raw) - limit
    if more > 0 or len(body) > limit:
        # Say how much was cut only when saying it is shorter than what it replaces.
        tail = f"\n[{more:,} more characters]" if more > 30 else ""
        body = f"{body[: max(limit, 0)]}{ELLIPSIS}{tail}"
    if wrap:
        # Code blocks do not wrap on GitHub: long model answers would scroll sideways.
        body = "\n".join(
            textwrap.fill(line, width=wrap, break_long_words=False, break_on_hyphens=False)
            if len(line) > wrap
            else line
            for line in body.split("\n")
        )
    body = body.replace("<!--", "<!" + ZWJ + "--")
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{body}\n{fence}"


def plain(text: object, *, limit: int = 200) -> str:
    """Untrusted text → one line for a terminal, a log or a commit-status description.

    No control characters (so no ANSI escapes), no line breaks, and ``::`` broken up so that a
    line in the Actions log cannot be read as a workflow command.
    """
    line = _normalise(str(text)).replace("\n", " ⏎ ").replace("\t", " ")
    return _truncate(line.replace("::", ":" + ZWJ + ":"), limit)


def xml_safe(text: object) -> str:
    """Drop the characters XML 1.0 cannot carry (ElementTree would write them as-is)."""
    return _XML_INVALID.sub("", str(text))

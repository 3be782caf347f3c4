"""Replacing secret values with ``***`` in everything evalbot writes or posts.

The runner's ``::add-mask::`` only hides the exact value in the job log. A key can also reach a
file or the PR in another spelling: upper-cased by an error formatter, URL-encoded in a query
string, base64-encoded in a ``Basic`` header. The ``Scrubber`` knows every secret of the step
(see ``settings.secret_values``) in all those spellings and is applied at a few choke points:
the run result before anything renders it (``scrub_result``), every completion as the runner
receives it, and the job log stream (``ScrubbingStream``).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TextIO, TypeVar
from urllib.parse import quote, quote_plus

from pydantic import BaseModel

__all__ = ["MASK", "Scrubber", "ScrubbingReporter", "ScrubbingStream", "internal_error_line"]

MASK = "***"
_MIN_LENGTH = 4
_MIN_VARIANT_LENGTH = 8
"""Shorter values are replaced only as written: matched without case or encoded, a 4-letter
value would eat ordinary words."""
_MIN_B64_CORE = 8
_TRIVIAL = frozenset({"true", "false", "none", "null", "undefined", "dummy", "placeholder"})
"""Values of ``*_KEY``-named variables that are flags or placeholders, not secrets."""

M = TypeVar("M", bound=BaseModel)


def _base64_cores(value: bytes) -> set[str]:
    """The base64 text of ``value`` at each of the three byte alignments it can have inside a
    longer encoded string, without the edge characters that depend on its neighbours."""
    cores: set[str] = set()
    for offset in range(3):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            text = encode(b"\0" * offset + value).decode("ascii").rstrip("=")
            # Characters holding bits of the padding prefix, or of whatever follows the value.
            lead = (offset * 8 + 5) // 6
            tail = 1 if (offset + len(value)) % 3 else 0
            core = text[lead : len(text) - tail]
            if len(core) >= _MIN_B64_CORE:
                cores.add(core)
    return cores


def _spellings(secret: str) -> set[str]:
    if len(secret) < _MIN_VARIANT_LENGTH:
        return {secret}
    raw = secret.encode("utf-8")
    found = {secret, quote(secret, safe=""), quote_plus(secret), quote(secret)}
    found |= _base64_cores(raw)
    return {s for s in found if len(s) >= _MIN_LENGTH}


class Scrubber:
    """Replaces each known secret (case-insensitively, and in its URL-encoded and base64
    spellings) with ``***``."""

    def __init__(self, secrets: Iterable[str]) -> None:
        values = {s.strip() for s in secrets if s and len(s.strip()) >= _MIN_LENGTH}
        values -= {v for v in values if v.lower() in _TRIVIAL}
        exact = {v for v in values if len(v) < _MIN_VARIANT_LENGTH}
        spellings: set[str] = set()
        for value in values - exact:
            spellings |= _spellings(value)
        # Longest first, so that no partial leftover of a longer spelling survives.
        alternatives = [re.escape(s) for s in sorted(spellings, key=len, reverse=True)]
        alternatives += [f"(?-i:{re.escape(s)})" for s in sorted(exact, key=len, reverse=True)]
        self._pattern = re.compile("|".join(alternatives), re.IGNORECASE) if alternatives else None

    @classmethod
    def from_env(cls, env: Mapping[str, str], extra: Iterable[str] = ()) -> Scrubber:
        from evalbot.github.settings import secret_values

        return cls([*secret_values(env), *extra])

    def __bool__(self) -> bool:
        return self._pattern is not None

    def text(self, value: str) -> str:
        if self._pattern is None or not value:
            return value
        return self._pattern.sub(MASK, value)

    def tree(self, value: Any) -> Any:
        """A JSON-like value with every string scrubbed (dict keys included)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.tree(k): self.tree(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.tree(v) for v in value]
        return value

    def model(self, record: M) -> M:
        """A pydantic record rebuilt from its scrubbed dump (unchanged when nothing matched)."""
        if self._pattern is None:
            return record
        # Python mode, not JSON: NaN and infinities survive the round trip unchanged.
        dumped = record.model_dump()
        if not self._contains(dumped):
            return record
        return type(record).model_validate(self.tree(dumped))

    def _contains(self, value: Any) -> bool:
        assert self._pattern is not None
        if isinstance(value, str):
            return self._pattern.search(value) is not None
        if isinstance(value, dict):
            return any(self._contains(k) or self._contains(v) for k, v in value.items())
        if isinstance(value, list | tuple):
            return any(self._contains(v) for v in value)
        return False


class ScrubbingStream:
    """A text stream that scrubs what is written through it (the job log)."""

    def __init__(self, stream: TextIO, scrubber: Scrubber) -> None:
        self._stream = stream
        self._scrubber = scrubber

    def write(self, text: str) -> int:
        self._stream.write(self._scrubber.text(text))
        return len(text)

    def flush(self) -> None:
        self._stream.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def internal_error_line(exc: BaseException) -> str:
    """One line for an unexpected exception: its type and first line of text, never its
    ``repr`` (which quotes the arguments verbatim: a ``UnicodeEncodeError`` carries the whole
    header it failed on, key included)."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    text = lines[0][:300] if lines else ""
    return f"internal error: {type(exc).__name__}" + (f": {text}" if text else "")


class ScrubbingReporter:
    """A ``publish.Reporter`` whose every input result and every output text is scrubbed: the
    one door through which the action renders, writes and posts."""

    def __init__(self, reporter: Any, scrubber: Scrubber) -> None:
        self._reporter = reporter
        self._scrubber = scrubber

    def render_comment(self, result: Any, **kwargs: Any) -> str:
        return self._scrubber.text(
            self._reporter.render_comment(self._scrubber.model(result), **kwargs)
        )

    def render_summary(self, result: Any, **kwargs: Any) -> str:
        return self._scrubber.text(
            self._reporter.render_summary(self._scrubber.model(result), **kwargs)
        )

    def check_title_and_summary(self, result: Any) -> tuple[str, str]:
        title, summary = self._reporter.check_title_and_summary(self._scrubber.model(result))
        return self._scrubber.text(title), self._scrubber.text(summary)

    def short_description(self, result: Any) -> str:
        return self._scrubber.text(self._reporter.short_description(self._scrubber.model(result)))

    def write_outputs(self, result: Any, out_dir: Path, **kwargs: Any) -> None:
        self._reporter.write_outputs(self._scrubber.model(result), out_dir, **kwargs)

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._reporter, name)
        if name == "render_terminal" and callable(attr):
            return lambda result, *a, **k: self._scrubber.text(
                attr(self._scrubber.model(result), *a, **k)
            )
        return attr

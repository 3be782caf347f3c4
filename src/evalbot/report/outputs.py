"""``--out DIR``: results.json, comment.md and junit.xml, each replaced atomically."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from evalbot.records import RunResult
from evalbot.report.comment import render_comment
from evalbot.report.junit import render_junit
from evalbot.safe_paths import safe_output_dir

__all__ = ["write_outputs"]


def _write_atomic(path: Path, text: str) -> None:
    """Write next to ``path`` and rename over it: a reader never sees half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_outputs(
    result: RunResult, out_dir: Path, *, check_name: str = "evalbot", root: Path | None = None
) -> None:
    """Write results.json first (so it survives a rendering failure), then comment.md, junit.xml.

    results.json is strict JSON: the records serialise NaN and infinities as ``null``. Refuses
    an ``out_dir`` that is, or passes below ``root`` through, a symlink (``safe_output_dir``).
    """
    out_dir = safe_output_dir(out_dir, root=root)
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_atomic(out_dir / "results.json", result.model_dump_json(indent=2) + "\n")
    _write_atomic(out_dir / "comment.md", render_comment(result, check_name=check_name))
    _write_atomic(out_dir / "junit.xml", render_junit(result))

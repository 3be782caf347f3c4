"""``--out DIR``: results.json, comment.md, junit.xml and report.html, each replaced atomically."""

from __future__ import annotations

from pathlib import Path

from evalbot.fsio import ensure_dir, write_atomic
from evalbot.records import RunResult
from evalbot.report.comment import render_comment
from evalbot.report.html import write_html
from evalbot.report.junit import render_junit
from evalbot.safe_paths import safe_output_dir

__all__ = ["write_outputs"]


def write_outputs(
    result: RunResult, out_dir: Path, *, check_name: str = "evalbot", root: Path | None = None
) -> None:
    """Write results.json first (so it survives a rendering failure), then comment.md, junit.xml
    and report.html (the page of the results directory, so an uploaded artifact is browsable).

    results.json is strict JSON: the records serialise NaN and infinities as ``null``. Refuses
    an ``out_dir`` that is, or passes below ``root`` through, a symlink (``safe_output_dir``).
    """
    out_dir = safe_output_dir(out_dir, root=root)
    ensure_dir(out_dir)
    json_text = result.model_dump_json(indent=2) + "\n"
    write_atomic(out_dir / "results.json", json_text, fsync=True)
    write_atomic(out_dir / "comment.md", render_comment(result, check_name=check_name), fsync=True)
    write_atomic(out_dir / "junit.xml", render_junit(result), fsync=True)
    write_html(result, out_dir)

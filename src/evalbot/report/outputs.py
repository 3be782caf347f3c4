"""``--out DIR``: outputs.jsonl.gz, results.json, comment.md, junit.xml and report.html, each
replaced atomically."""

from __future__ import annotations

from pathlib import Path

from evalbot.fsio import ensure_dir, write_atomic
from evalbot.records import RunResult
from evalbot.report.comment import render_comment
from evalbot.report.html import write_html
from evalbot.report.junit import render_junit
from evalbot.report.results_io import write_results
from evalbot.safe_paths import safe_output_dir

__all__ = ["write_outputs"]


def write_outputs(
    result: RunResult, out_dir: Path, *, check_name: str = "evalbot", root: Path | None = None
) -> None:
    """Write the results first (so they survive a rendering failure): the per-example outputs
    file, then the compact results.json (``results_io.write_results``); then comment.md,
    junit.xml and report.html (the page of the results directory, so an uploaded artifact is
    browsable), rendered from the whole in-memory result.

    results.json is strict JSON: the records serialise NaN and infinities as ``null``. Refuses
    an ``out_dir`` that is, or passes below ``root`` through, a symlink (``safe_output_dir``).
    """
    out_dir = safe_output_dir(out_dir, root=root)
    ensure_dir(out_dir)
    write_results(result, out_dir)
    write_atomic(out_dir / "comment.md", render_comment(result, check_name=check_name), fsync=True)
    write_atomic(out_dir / "junit.xml", render_junit(result), fsync=True)
    write_html(result, out_dir)

"""Where evalbot may write: never through a symlink a pull request committed.

A PR can commit ``evalbot-results`` (or any directory on the way to the results) as a symbolic
link to somewhere else on the runner; writing there would let it overwrite files outside the
workspace. Components above ``root`` (the repository or workspace, chosen by the user or the
workflow) are trusted; every component from ``root`` down to the directory itself must be a real
directory or not exist yet.
"""

from __future__ import annotations

import os
from pathlib import Path

from evalbot.errors import UserError

__all__ = ["safe_output_dir"]


def safe_output_dir(out_dir: Path, *, root: Path | None = None) -> Path:
    """``out_dir`` made absolute (lexically, links not followed), after checking that neither
    it nor any directory between ``root`` and it is a symlink. Raises ``UserError`` (exit 2)."""
    target = Path(os.path.normpath(Path(out_dir).absolute()))
    start = Path(os.path.normpath(Path(root).absolute())) if root is not None else None
    if start is not None and not target.is_relative_to(start):
        start = None  # outside the repository: only the directory itself is checked
    parts = target.relative_to(start).parts if start is not None else ()
    checked = [start.joinpath(*parts[: i + 1]) for i in range(len(parts))] if start else []
    if target not in checked:
        checked.append(target)
    for path in checked:
        if path.is_symlink():
            raise UserError(
                "the output directory is or passes through a symbolic link: refusing to write "
                "through it",
                file=str(path),
                hint="remove the link (a pull request may not redirect evalbot's output), "
                "or choose another --out directory",
            )
    return target

"""``evalbot cache clear``: empty the response cache, whatever its file layout.

The cache is the directory ``--cache-dir`` names (default ``.evalbot/cache`` in the repository);
clearing deletes everything inside it and keeps the directory. Its format belongs to
``evalbot.run.cache``: nothing here reads it, so it can change without touching this command.
"""

from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path

from evalbot.errors import UserError

__all__ = ["add_arguments", "clear_cache", "default_cache_dir", "run"]


def default_cache_dir(repo: Path) -> Path:
    """Where ``diff`` and ``run`` keep answers when ``--cache-dir`` is not given."""
    return repo / ".evalbot" / "cache"


def _refuse(directory: Path) -> str | None:
    """Why ``directory`` must not be emptied: it is not a cache, whatever --cache-dir says."""
    resolved = directory.resolve()
    if resolved == Path(resolved.anchor):
        return "is a filesystem root"
    if resolved == Path.home().resolve():
        return "is the home directory"
    if (resolved / ".git").exists():
        return "is a git repository (pass the cache directory, e.g. .evalbot/cache)"
    return None


def clear_cache(directory: Path) -> tuple[int, int]:
    """Delete everything inside ``directory`` (links are removed, never followed); return
    (files, bytes) deleted. A missing directory is an empty cache."""
    if directory.is_symlink():
        raise UserError("the cache directory is a symbolic link", file=str(directory))
    if not directory.exists():
        return 0, 0
    if not directory.is_dir():
        raise UserError("not a directory", file=str(directory), hint="pass --cache-dir DIR")
    why = _refuse(directory)
    if why:
        raise UserError(f"refusing to clear it: it {why}", file=str(directory))
    files = size = 0
    for root, _, names in os.walk(directory):
        for name in names:
            path = Path(root) / name
            files += 1
            size += path.lstat().st_size
    for child in directory.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()
    return files, size


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="cache_command", metavar="ACTION", required=True)
    clear = sub.add_parser("clear", help="delete every cached answer (keeps the directory)")
    clear.add_argument(
        "-C",
        "--repo",
        type=Path,
        help="repository root (default: found as for diff)",
    )
    clear.add_argument(
        "--cache-dir",
        type=Path,
        help="the cache to clear (default: .evalbot/cache in the repository)",
    )
    clear.add_argument("--config", default="evalbot.yml", help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    from evalbot.cli.app import find_repo

    directory = args.cache_dir or default_cache_dir(find_repo(args.repo, args.config))
    files, size = clear_cache(directory)
    print(f"evalbot: cleared {directory}: {files:,} files, {size / 1e6:.1f} MB")
    return 0

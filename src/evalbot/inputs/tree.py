"""Read-only views of the repository's files: the work tree, or one git revision (no checkout)."""

from __future__ import annotations

import tempfile
from pathlib import Path, PurePosixPath
from typing import Protocol

from evalbot.errors import InputError
from evalbot.inputs.git import Git

__all__ = ["MAX_FILE_BYTES", "FileTree", "GitTree", "WorkTree"]

MAX_FILE_BYTES = 256 * 1024 * 1024
"""No prompt, config or golden set evalbot reads may be larger (it is read whole)."""

_SYMLINK_MODE = "120000"
_LINK_HINT = "commit the file itself: evalbot does not follow links out of the repository"


class FileTree(Protocol):
    """What every stage needs of a side's files."""

    @property
    def rev(self) -> str:
        """``WORKTREE`` or the revision as the user named it."""
        ...

    @property
    def sha(self) -> str | None:
        """Commit SHA, or None for the work tree."""
        ...

    def exists(self, path: str) -> bool: ...

    def read_text(self, path: str) -> str: ...

    def label(self, path: str) -> str:
        """How to name the file in messages, e.g. ``prompts/a.md`` or ``main:prompts/a.md``."""
        ...

    def code_version(self) -> str | None:
        """Git tree id of this side (None for a dirty work tree): keys caches of user code."""
        ...

    def materialize(self) -> Path:
        """A directory holding this side's files, for providers that run the user's code."""
        ...


def _clean(path: str) -> str:
    posix = PurePosixPath(path.replace("\\", "/"))
    if posix.is_absolute() or ".." in posix.parts:
        raise InputError(
            "path must be relative to the repository root and stay inside it",
            file=path,
            hint="use a path such as prompts/support.md",
        )
    return str(posix)


class WorkTree:
    """The files on disk under ``root`` (the head side when no --head revision is given)."""

    def __init__(self, root: Path, *, git: Git | None = None) -> None:
        self.root = root.resolve()
        self.rev = "WORKTREE"
        self.sha: str | None = None
        self._git = git

    def exists(self, path: str) -> bool:
        return (self.root / _clean(path)).is_file()

    def _inside(self, path: str) -> Path:
        """The file's real path; refused when it (or a directory on the way) is a symlink
        leading out of the repository (a PR could link a prompt to /proc/self/environ)."""
        full = (self.root / _clean(path)).resolve()
        if not full.is_relative_to(self.root):
            raise InputError(
                "is a symbolic link leading out of the repository", file=path, hint=_LINK_HINT
            )
        return full

    def read_text(self, path: str) -> str:
        full = self._inside(path)
        try:
            if full.stat().st_size > MAX_FILE_BYTES:
                raise InputError(f"file is larger than {MAX_FILE_BYTES // 2**20} MiB", file=path)
            return full.read_text(encoding="utf-8")
        except FileNotFoundError as exc:
            raise InputError("file not found", file=path) from exc
        except OSError as exc:  # a directory, a FIFO, no permission...
            raise InputError(f"cannot read: {exc.strerror}", file=path) from exc
        except UnicodeDecodeError as exc:
            raise InputError("not UTF-8 text", file=path, hint="save it as UTF-8") from exc

    def label(self, path: str) -> str:
        return _clean(path)

    def code_version(self) -> str | None:
        if self._git is None or self._git.is_dirty():
            return None
        return self._git.tree_id("HEAD")

    def materialize(self) -> Path:
        return self.root


class GitTree:
    """The files of one commit, read with ``git show`` (the work tree is never touched)."""

    def __init__(self, git: Git, rev: str, sha: str | None = None) -> None:
        self.git = git
        self.rev = rev
        self.sha = sha or git.rev_parse(rev)
        self._listing: dict[str, str] | None = None
        self._export: Path | None = None

    def _files(self) -> dict[str, str]:
        """Path -> git mode, listed once."""
        if self._listing is None:
            self._listing = self.git.ls_tree(self.sha)
        return self._listing

    def exists(self, path: str) -> bool:
        return _clean(path) in self._files()

    def read_text(self, path: str) -> str:
        clean = _clean(path)
        if clean not in self._files():
            raise InputError("file not found at this revision", file=self.label(path))
        if self._files()[clean] == _SYMLINK_MODE:
            # git show would return the link's target as if it were the file's text.
            raise InputError("is a symbolic link", file=self.label(path), hint=_LINK_HINT)
        data = self.git.show_bytes(self.sha, clean)
        if len(data) > MAX_FILE_BYTES:
            raise InputError(
                f"file is larger than {MAX_FILE_BYTES // 2**20} MiB", file=self.label(path)
            )
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError("not UTF-8 text", file=self.label(path)) from exc

    def label(self, path: str) -> str:
        return f"{self.rev}:{_clean(path)}"

    def code_version(self) -> str | None:
        return self.git.tree_id(self.sha)

    def materialize(self) -> Path:
        if self._export is None:
            target = Path(tempfile.mkdtemp(prefix=f"evalbot-{self.sha[:12]}-"))
            self.git.export(self.sha, target)
            self._export = target
        return self._export

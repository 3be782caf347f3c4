"""A thin wrapper over the git command line; every failure becomes a GitError with the fix."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from evalbot.errors import GitError, InputError

__all__ = ["Change", "Git"]

SHALLOW_HINT = (
    "fetch the full history: in actions/checkout set 'fetch-depth: 0', "
    "or run 'git fetch --unshallow'"
)


@dataclass(frozen=True)
class Change:
    """One changed path between two revisions. ``old_path`` is set for renames."""

    status: str
    """A (added), M (modified), D (deleted), R (renamed), C (copied), T (type change)."""
    path: str
    old_path: str | None = None

    def paths(self) -> list[str]:
        return [p for p in (self.path, self.old_path) if p]


class Git:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _run(
        self, *args: str, check: bool = True, binary: bool = False
    ) -> subprocess.CompletedProcess:
        try:
            proc = subprocess.run(
                ["git", "-c", "core.quotepath=off", *args],
                cwd=self.root,
                capture_output=True,
                check=False,
            )
        except FileNotFoundError as exc:
            raise GitError("git is not installed", hint="install git") from exc
        if check and proc.returncode != 0:
            err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
            detail = err[-1] if err else f"exit {proc.returncode}"
            if "not a git repository" in detail:
                raise InputError(
                    f"{self.root} is not inside a git repository (diff compares two revisions)",
                    hint="run it in a clone (or pass -C DIR), or use 'evalbot run' for the "
                    "files on disk",
                )
            if "dubious ownership" in detail:
                raise GitError(
                    f"git refused the repository: {detail}",
                    hint="git config --global --add safe.directory '*'",
                )
            raise GitError(f"git {' '.join(args[:2])} failed: {detail}")
        return proc

    def _out(self, *args: str) -> str:
        return self._run(*args).stdout.decode("utf-8", "replace").strip()

    def toplevel(self) -> Path:
        return Path(self._out("rev-parse", "--show-toplevel"))

    def is_shallow(self) -> bool:
        return self._out("rev-parse", "--is-shallow-repository") == "true"

    def rev_parse(self, rev: str) -> str:
        proc = self._run("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", check=False)
        if proc.returncode != 0:
            if self.is_shallow():  # the history is missing, not the name wrong
                # A single-branch clone (actions/checkout's default) has no other branch at
                # all, so --unshallow would not help: fetch the branch itself.
                branch = rev.removeprefix("origin/")
                raise GitError(
                    f"unknown revision {rev!r} in this shallow clone",
                    hint=f"git fetch --unshallow origin {branch}:refs/remotes/origin/{branch}, "
                    f"then pass --base origin/{branch} (in actions/checkout: fetch-depth: 0)",
                )
            raise InputError(
                f"unknown revision {rev!r}", hint="check the name (git branch -a, git log)"
            )
        return proc.stdout.decode().strip()

    def merge_base(self, base: str, head: str, *, head_sha: str | None = None) -> str:
        """``head_sha``: ``head`` already resolved by ``rev_parse`` (saves running git again)."""
        base_sha, head_sha = self.rev_parse(base), head_sha or self.rev_parse(head)
        proc = self._run("merge-base", base_sha, head_sha, check=False)
        if proc.returncode != 0:
            if self.is_shallow():
                raise GitError(
                    f"no merge-base of {base} and {head} in this shallow clone", hint=SHALLOW_HINT
                )
            raise GitError(f"{base} and {head} share no history", hint="pass --base explicitly")
        return proc.stdout.decode().strip()

    def changes(self, base: str, head: str | None) -> list[Change]:
        """Changed paths from ``base`` to ``head`` (None = the work tree, untracked files too)."""
        args = ["diff", "--name-status", "-z", "-M", base]
        if head is not None:
            args.append(head)
        raw = self._run(*args).stdout.decode("utf-8", "replace")
        changes = _parse_name_status(raw)
        if head is None:
            untracked = self._out("ls-files", "--others", "--exclude-standard", "-z")
            changes += [Change("A", p) for p in untracked.split("\0") if p]
        return changes

    def ls_tree(self, rev: str) -> dict[str, str]:
        """Every path at ``rev`` with its mode (``100644``, ``120000`` for a symbolic link…)."""
        raw = self._run("ls-tree", "-r", "-z", rev).stdout.decode("utf-8", "replace")
        files = {}
        for entry in raw.split("\0"):
            meta, _, path = entry.partition("\t")
            if path:
                files[path] = meta.split(" ", 1)[0]
        return files

    def show_bytes(self, rev: str, path: str) -> bytes:
        return self._run("show", f"{rev}:{path}", binary=True).stdout

    def tree_id(self, rev: str) -> str:
        return self._out("rev-parse", f"{rev}^{{tree}}")

    def is_dirty(self) -> bool:
        return bool(self._out("status", "--porcelain", "--untracked-files=no"))

    def export(self, rev: str, target: Path) -> None:
        """Write the files of ``rev`` under ``target`` (git archive; no checkout, no index)."""
        import io
        import tarfile  # (only a side whose code runs is exported)

        data = self._run("archive", "--format=tar", rev, binary=True).stdout
        with tarfile.open(fileobj=io.BytesIO(data)) as archive:
            archive.extractall(target, filter="data")


def _parse_name_status(raw: str) -> list[Change]:
    fields = [f for f in raw.split("\0") if f != ""]
    changes: list[Change] = []
    i = 0
    while i < len(fields):
        status = fields[i][0]
        if status in ("R", "C"):
            changes.append(Change(status, fields[i + 2], old_path=fields[i + 1]))
            i += 3
        else:
            changes.append(Change(status, fields[i + 1]))
            i += 2
    return changes

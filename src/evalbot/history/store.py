"""A data branch as a small file store (as python-coverage-comment-action keeps its badge and
history): files on an orphan branch, default ``evalbot-data``, never checked out.

Reads come from the local ref (``refs/remotes/<remote>/<branch>``, else ``refs/heads/<branch>``),
so a fork PR, which only reads, needs nothing but a fetch. Writes build a commit with plumbing in
a private index (the work tree and the user's index are never touched) and push it as a
fast-forward; when another writer pushed first, the push is rejected, and the write fetches the
new tip, re-applies its change on top and pushes again. Never a force-push.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from evalbot.errors import GitError

__all__ = ["DEFAULT_BRANCH", "DataBranch", "GitRunner", "PushConflict"]

DEFAULT_BRANCH = "evalbot-data"
MAX_FILE_BYTES = 5 * 1024 * 1024


class PushConflict(GitError):
    """Another writer moved the branch between our fetch and our push."""


@dataclass
class GitRunner:
    """``git -C root`` through subprocess (built at the entrypoint, passed in)."""

    root: Path

    def run(
        self,
        *args: str,
        input: bytes | None = None,
        env: Mapping[str, str] | None = None,
        check: bool = True,
    ) -> subprocess.CompletedProcess:
        try:
            proc = subprocess.run(
                ["git", "-c", "core.quotepath=off", *args],
                cwd=self.root,
                input=input,
                capture_output=True,
                env={**os.environ, **env} if env else None,
                check=False,
            )
        except FileNotFoundError as exc:
            raise GitError("git is not installed", hint="install git") from exc
        if check and proc.returncode != 0:
            err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
            raise GitError(
                f"git {' '.join(args[:2])} failed: {err[-1] if err else proc.returncode}"
            )
        return proc

    def out(self, *args: str, **kwargs) -> str:
        return self.run(*args, **kwargs).stdout.decode("utf-8", "replace").strip()


Mutation = Callable[[Callable[[str], str | None]], Mapping[str, str]]
"""Given a reader of the current files, the files to write (path → text)."""


class DataBranch:
    def __init__(
        self,
        git: GitRunner,
        *,
        branch: str = DEFAULT_BRANCH,
        remote: str | None = "origin",
        author: tuple[str, str] = ("evalbot", "evalbot@users.noreply.github.com"),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.git = git
        self.branch = branch
        self.remote = remote
        self.author = author
        self.sleep = sleep

    @property
    def _remote_ref(self) -> str:
        return f"refs/remotes/{self.remote}/{self.branch}"

    def _tip(self) -> str | None:
        refs = [self._remote_ref] if self.remote else []
        refs.append(f"refs/heads/{self.branch}")
        for ref in refs:
            proc = self.git.run(
                "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False
            )
            if proc.returncode == 0:
                return proc.stdout.decode().strip()
        return None

    def fetch(self) -> bool:
        """Fetch the branch from the remote; False when the remote has none yet."""
        if self.remote is None:
            return False
        proc = self.git.run(
            "fetch",
            "--quiet",
            "--no-tags",
            self.remote,
            f"+refs/heads/{self.branch}:{self._remote_ref}",
            check=False,
        )
        if proc.returncode == 0:
            return True
        err = proc.stderr.decode("utf-8", "replace")
        if "couldn't find remote ref" in err or "not found" in err.lower():
            return False
        raise GitError(f"git fetch {self.remote} {self.branch} failed: {err.strip()[-300:]}")

    def read(self, path: str, *, at: str | None = None) -> str | None:
        """The file's text on the branch (None when the branch or the file is absent)."""
        tip = at or self._tip()
        if tip is None:
            return None
        proc = self.git.run("cat-file", "-s", f"{tip}:{path}", check=False)
        if proc.returncode != 0:
            return None
        if int(proc.stdout.decode().strip() or 0) > MAX_FILE_BYTES:
            raise GitError(f"{self.branch}:{path} is larger than {MAX_FILE_BYTES:,} bytes")
        return self.git.run("cat-file", "blob", f"{tip}:{path}").stdout.decode("utf-8", "replace")

    def _commit(self, parent: str | None, files: Mapping[str, str], message: str) -> str:
        with tempfile.TemporaryDirectory(prefix="evalbot-index-") as tmp:
            env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
            if parent is not None:
                self.git.run("read-tree", parent, env=env)
            for path, text in files.items():
                blob = self.git.out("hash-object", "-w", "--stdin", input=text.encode("utf-8"))
                self.git.run(
                    "update-index", "--add", "--cacheinfo", f"100644,{blob},{path}", env=env
                )
            tree = self.git.out("write-tree", env=env)
        name, email = self.author
        ident = {
            "GIT_AUTHOR_NAME": name,
            "GIT_AUTHOR_EMAIL": email,
            "GIT_COMMITTER_NAME": name,
            "GIT_COMMITTER_EMAIL": email,
        }
        args = ["commit-tree", tree, "-m", message]
        if parent is not None:
            args += ["-p", parent]
        return self.git.out(*args, env=ident)

    def _push(self, commit: str, parent: str | None) -> None:
        if self.remote is None:
            old = parent or "0" * 40
            self.git.run("update-ref", f"refs/heads/{self.branch}", commit, old)
            return
        # A plain push (no "+", no --force): refused unless it fast-forwards the branch, so a
        # writer that lost the race is told so and never overwrites the other's records.
        proc = self.git.run(
            "push", "--quiet", "--porcelain", self.remote, f"{commit}:refs/heads/{self.branch}",
            check=False,
        )  # fmt: skip
        if proc.returncode == 0:
            self.git.run("update-ref", self._remote_ref, commit)
            return
        text = (proc.stdout + proc.stderr).decode("utf-8", "replace")
        if any(w in text for w in ("rejected", "stale info", "non-fast-forward", "fetch first")):
            raise PushConflict(f"the {self.branch} branch moved while writing")
        raise GitError(f"git push {self.remote} {self.branch} failed: {text.strip()[-300:]}")

    def update(self, mutate: Mutation, message: str, *, attempts: int = 5) -> str:
        """Apply ``mutate`` to the branch's tip and push; on a conflict, fetch and re-apply.
        Returns the new commit."""
        for attempt in range(attempts):
            self.fetch()
            parent = self._tip()

            def reader(path: str, parent: str | None = parent) -> str | None:
                return self.read(path, at=parent) if parent else None

            files = dict(mutate(reader))
            commit = self._commit(parent, files, message)
            try:
                self._push(commit, parent)
                return commit
            except PushConflict:
                if attempt == attempts - 1:
                    raise
                self.sleep(0.2 * 2**attempt)
        raise AssertionError("unreachable")

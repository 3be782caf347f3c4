"""Build the support-bot example as a real git repository with a base branch and a PR branch.

    python examples/support-bot/make_repo.py DIR [--force]

* commit 1 on ``main`` (the base): ``repo/`` with the files of ``pr/BASE_OVERRIDES/`` applied;
* commit 2 on ``pr`` (the head, left checked out): ``repo/`` as it is, with ``pr/PR_TITLE.txt``
  (and ``pr/PR_BODY.md``) as the commit message;
* ``recorded/`` (the recorded demo-model responses) is copied to ``DIR/.evalbot/cache``,
  untracked (the repository's .gitignore lists ``.evalbot/``).

A file in BASE_OVERRIDES with no counterpart in repo/ exists on the base only (the PR deletes it).
Author, committer and dates are fixed, so the commit SHAs are the same on every machine. DIR must
be empty or absent; ``--force`` deletes its contents first. Only the standard library and the git
command line are used.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE / "repo"
PR = HERE / "pr"
OVERRIDES = PR / "BASE_OVERRIDES"
RECORDED = HERE / "recorded"

AUTHOR = ("Northwind Dev", "dev@northwind-outfitters.example")
BASE_DATE = "2025-03-03T09:00:00+00:00"
HEAD_DATE = "2025-03-04T15:30:00+00:00"
BASE_MESSAGE = (
    "Support bot: policy-grounded answers and ticket triage\n\n"
    "Adds the support-answer and ticket-triage prompts, their golden sets and evalbot.yml."
)
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".DS_Store")


def git(directory: Path, *args: str, date: str | None = None) -> str:
    env = dict(os.environ)
    env.update(GIT_CONFIG_NOSYSTEM="1", GIT_TERMINAL_PROMPT="0")
    if date:
        env.update(GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date)
    command = [
        "git",
        "-c",
        "commit.gpgsign=false",
        "-c",
        f"core.hooksPath={os.devnull}",
        "-c",
        "core.autocrlf=false",
        "-c",
        "init.defaultBranch=main",
        *args,
    ]
    result = subprocess.run(command, cwd=directory, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"git {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout.strip()


def overridden_paths() -> list[Path]:
    return sorted(p.relative_to(OVERRIDES) for p in OVERRIDES.rglob("*") if p.is_file())


def prepare(target: Path, force: bool) -> None:
    if target.exists() and not target.is_dir():
        raise SystemExit(f"{target} exists and is not a directory")
    if target.exists() and any(target.iterdir()):
        if not force:
            raise SystemExit(f"{target} is not empty; pass --force to delete its contents first")
        resolved = target.resolve()
        protected = {Path("/"), Path.home().resolve(), *HERE.parents, HERE}
        if resolved in protected or HERE.is_relative_to(resolved):
            raise SystemExit(f"refusing to delete {resolved}")
        for child in resolved.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
    target.mkdir(parents=True, exist_ok=True)


def commit_message() -> str:
    title = (PR / "PR_TITLE.txt").read_text(encoding="utf-8").strip()
    body_file = PR / "PR_BODY.md"
    body = body_file.read_text(encoding="utf-8").strip() if body_file.exists() else ""
    return f"{title}\n\n{body}" if body else title


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dir", type=Path, help="where to create the repository")
    parser.add_argument("--force", action="store_true", help="delete DIR's contents first")
    args = parser.parse_args(argv)
    if shutil.which("git") is None:
        raise SystemExit("git is not on PATH")
    target: Path = args.dir
    prepare(target, args.force)
    target = target.resolve()

    # Base: the head tree with the PR's changed files as they were before the PR.
    shutil.copytree(REPO, target, dirs_exist_ok=True, ignore=_IGNORE)
    for rel in overridden_paths():
        (target / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(OVERRIDES / rel, target / rel)
    git(target, "init", "--quiet")
    git(target, "symbolic-ref", "HEAD", "refs/heads/main")
    git(target, "config", "user.name", AUTHOR[0])
    git(target, "config", "user.email", AUTHOR[1])
    git(target, "add", "--all")
    git(target, "commit", "--quiet", "-m", BASE_MESSAGE, date=BASE_DATE)

    # Head: the PR branch restores repo/'s version of every overridden file.
    git(target, "checkout", "--quiet", "-b", "pr")
    for rel in overridden_paths():
        if (REPO / rel).is_file():
            shutil.copy2(REPO / rel, target / rel)
        else:
            (target / rel).unlink()
    git(target, "add", "--all")
    git(target, "commit", "--quiet", "-m", commit_message(), date=HEAD_DATE)

    # The recorded responses, so `evalbot diff --offline` needs no model endpoint.
    cache = target / ".evalbot" / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    copied = 0
    for path in sorted(RECORDED.rglob("*")):
        if path.is_file() and path.name != ".gitkeep":
            destination = cache / path.relative_to(RECORDED)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, destination)
            copied += 1

    base_sha = git(target, "rev-parse", "main")
    head_sha = git(target, "rev-parse", "pr")
    changed = git(target, "diff", "--name-only", "main", "pr").splitlines()
    print(f"created {target}")
    print(f"  main (base) {base_sha}")
    print(f"  pr   (head) {head_sha}  changes: {', '.join(changed)}")
    if copied:
        print(
            f"  {copied} recorded response file(s) in .evalbot/cache: DEMO DATA, sample responses"
            " of a scripted stand-in model (demo_model.py), not of a real LLM"
        )
    else:
        print("  recorded/ is empty: run against demo_model.py (see README.md) to record responses")
    print(f"next: cd {target} && evalbot diff --base main --head pr --offline")
    return 0


if __name__ == "__main__":
    sys.exit(main())

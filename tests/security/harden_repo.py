"""A small real git repository for the hardening tests, and a way to run the real CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from tests.gitrepo import Repo

ROOT = Path(__file__).resolve().parents[2]
GUARD_S = 240
"""A subprocess still running after this is a hang (a guard, not a timing assertion)."""


def config(**suite: object) -> str:
    base = {
        "name": "s",
        "prompt": "prompts/p.md",
        "model": "models/m.yaml",
        "dataset": "evals/g.jsonl",
        "metrics": [{"name": "correct", "type": "contains", "value": "{{expected}}"}],
    }
    data = {"version": 1, "gate": {"max_error_rate": 0.5}, "suites": [{**base, **suite}]}
    return yaml.safe_dump(data, sort_keys=False)


def files(**overrides: str) -> dict[str, str]:
    rows = [f'{{"id": "{i}", "question": "q{i}", "expected": "q{i}"}}' for i in range(4)]
    return {
        "evalbot.yml": config(),
        "prompts/p.md": "{{question}}\n",
        "models/m.yaml": "provider: mock\nmodel: m\n",
        "evals/g.jsonl": "\n".join(rows) + "\n",
        **overrides,
    }


def make_repo(tmp_path: Path, **overrides: str) -> Repo:
    """A repository whose ``main`` has a plain suite (mock provider, four examples)."""
    repo = Repo(tmp_path / "repo")
    repo.commit(files(**overrides), "base")
    return repo


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str


def evalbot(repo: Repo, *args: str, env: dict[str, str] | None = None) -> Run:
    """``python -m evalbot ARGS`` in the repository, as a user or a workflow step runs it."""
    full_env = {k: v for k, v in os.environ.items() if k != "GITHUB_ACTIONS"}  # CI sets it
    full_env.update({"PYTHONPATH": str(ROOT / "src"), **(env or {})})
    proc = subprocess.run(
        [sys.executable, "-m", "evalbot", *args],
        cwd=repo.root,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=GUARD_S,
        check=False,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


def error_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("evalbot: ")]

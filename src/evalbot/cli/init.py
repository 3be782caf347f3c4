"""``evalbot init``: a starter setup built from the prompt files the repository already has.

Writes ``evalbot.yml`` (one suite per prompt found), a model config, a small golden-set template
per suite (three rows whose keys are the prompt's ``{{variables}}``) and the workflow
``.github/workflows/evalbot.yml``. Prompts are looked for where people keep them: any file under a
``prompts/`` (or ``prompt/``, ``templates/prompts/``) folder, and ``*.prompt``, ``*.j2``,
``*.jinja`` anywhere. Each is loaded exactly as a run would (``inputs.render.load_prompt``); one
that would not load (a Jinja ``{% if %}``, a YAML file that is not a message list) is skipped
with its reason, so that ``evalbot validate`` passes on what is written. Nothing existing is
overwritten without ``--force``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from evalbot.errors import UserError
from evalbot.fsio import write_atomic

__all__ = ["Starter", "add_arguments", "find_prompts", "run", "starter_files"]

MAX_SUITES = 20
MAX_FILES_SCANNED = 20_000
_SKIP_DIRS = {
    ".git",
    ".evalbot",
    ".venv",
    "venv",
    "node_modules",
    "__pycache__",
    "evalbot-results",
    "dist",
    "build",
    ".tox",
    ".mypy_cache",
    ".pytest_cache",
}
_PROMPT_DIRS = {"prompts", "prompt"}
_PROMPT_SUFFIXES = (".prompt", ".j2", ".jinja", ".jinja2")
_TEXT_SUFFIXES = (".md", ".txt", ".yaml", ".yml", ".json", ".prompt", ".j2", ".jinja", ".jinja2")

MODEL_PATH = "models/default.yaml"
WORKFLOW_PATH = ".github/workflows/evalbot.yml"
EXAMPLE_PROMPT = "prompts/example.md"

MODEL_CONFIG = """\
# The model every suite calls (written by `evalbot init`; see docs/config.md, "Model configs").
# The key is read from OPENAI_API_KEY; set OPENAI_BASE_URL for another OpenAI-compatible
# endpoint. To try evalbot without a key: python -m evalbot.fake_openai (README).
provider: openai
model: gpt-4o-mini
params:
  temperature: 0
  max_tokens: 512
price:            # USD per 1M tokens: the plan's estimate and the cost figures use it
  input: 0.15
  output: 0.60
"""

WORKFLOW = """\
# Written by `evalbot init` (the full version: examples/workflows/pr-gate.yml).
# Make "evalbot" a required status check on the protected branch; do not add a `paths:` filter
# (a skipped workflow leaves a required check pending: evalbot passes untouched PRs in seconds).
name: evalbot

on:
  pull_request:
  merge_group:

permissions:
  contents: read
  pull-requests: write # the sticky comment
  checks: write # the check run

concurrency:
  group: evalbot-${{ github.event.pull_request.number || github.ref }}
  cancel-in-progress: true

jobs:
  evalbot:
    runs-on: ubuntu-latest
    timeout-minutes: 30
    steps:
      - uses: actions/checkout@v5
        with:
          fetch-depth: 0 # the merge-base must be in the clone
      - uses: your-org/evalbot@v1 # replace with the published action, pinned to a release
        env:
          OPENAI_API_KEY: ${{ secrets.OPENAI_API_KEY }}
        with:
          max-cost-usd: "5"
          allowed-hosts: api.openai.com
      - uses: actions/upload-artifact@v6
        if: always()
        with:
          name: evalbot-results
          path: evalbot-results/
          retention-days: 14
"""


@dataclass(frozen=True)
class Starter:
    files: dict[str, str]
    """Repository-relative path → content, in the order they are written."""
    suites: list[tuple[str, str]]
    """(suite name, prompt path)."""
    skipped: list[tuple[str, str]]
    """(prompt path, why it was not used)."""


def _is_prompt(rel: Path) -> bool:
    parts = [p.lower() for p in rel.parts[:-1]]
    name = rel.name.lower()
    if name.startswith(".") or name.lower() in ("readme.md", "readme.txt"):
        return False
    if name.endswith(_PROMPT_SUFFIXES):
        return True
    return any(p in _PROMPT_DIRS for p in parts) and name.endswith(_TEXT_SUFFIXES)


def find_prompts(root: Path) -> list[str]:
    """Prompt-looking files under ``root`` (repository-relative, sorted), links not followed."""
    found: list[str] = []
    scanned = 0
    for directory, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS and not d.startswith("."))
        for name in sorted(names):
            scanned += 1
            path = Path(directory) / name
            rel = path.relative_to(root)
            if not path.is_symlink() and _is_prompt(rel):
                found.append(rel.as_posix())
        if scanned > MAX_FILES_SCANNED:
            break
    return sorted(found)


def _suite_name(path: str, taken: set[str]) -> str:
    stem = Path(path).name.split(".")[0] or "suite"
    base = re.sub(r"[^A-Za-z0-9_.-]+", "-", stem).strip("-._") or "suite"
    base = base if base[0].isalnum() else f"s{base}"
    name, i = base, 2
    while name in taken:
        name, i = f"{base}-{i}", i + 1
    taken.add(name)
    return name


def _put(row: dict[str, object], path: str, value: str) -> None:
    """Set ``customer.name`` / ``items.0`` in ``row`` as the placeholder reads it."""
    parts = path.split(".")
    node: object = row
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        child: object = value if last else ([] if parts[i + 1].isdigit() else {})
        if isinstance(node, dict):
            node = node.setdefault(part, child) if not last else node.setdefault(part, value)
        elif isinstance(node, list) and part.isdigit():
            while len(node) <= int(part):
                node.append(value if last else child)
            node = node[int(part)]
        else:
            return  # the same name used as text and as a mapping: leave it to the user


def _golden_rows(variables: list[str]) -> str:
    reserved = {"id", "expected", "group", "metadata"}
    rows = []
    for i in range(1, 4):
        row: dict[str, object] = {"id": f"example-{i}"}
        for var in variables:
            if var == "context":
                row["context"] = [f"TODO: a passage the answer to example {i} should use"]
            elif var.split(".")[0] not in reserved:
                _put(row, var, f"TODO: {var} of example {i}")
        row["expected"] = f"TODO: a phrase the answer to example {i} must contain"
        rows.append(json.dumps(row, ensure_ascii=False))
    return "\n".join(rows) + "\n"


def starter_files(root: Path) -> Starter:
    """What ``init`` would write for the repository at ``root`` (nothing is written here)."""
    from evalbot.errors import UserError as LoadError
    from evalbot.inputs.render import load_prompt
    from evalbot.inputs.tree import WorkTree
    from evalbot.score.metrics import STARTER_METRIC

    tree = WorkTree(root)
    files: dict[str, str] = {}
    suites: list[tuple[str, str, list[str]]] = []
    skipped: list[tuple[str, str]] = []
    taken: set[str] = set()
    for path in find_prompts(root):
        if len(suites) >= MAX_SUITES:
            skipped.append((path, f"more than {MAX_SUITES} prompts: add it by hand"))
            continue
        try:
            prompt = load_prompt(tree, path)
        except LoadError as exc:
            skipped.append((path, exc.message))
            continue
        if "{%" in tree.read_text(path):
            why = "Jinja tags ({% ... %}) would be sent as literal text: evalbot fills only "
            skipped.append((path, why + "{{variables}}"))
            continue
        suites.append((_suite_name(path, taken), path, sorted(prompt.variables)))
    if not suites:
        files[EXAMPLE_PROMPT] = "Answer the customer's question in two sentences.\n\n{{question}}\n"
        suites.append(("example", EXAMPLE_PROMPT, ["question"]))
    config_suites = []
    for name, path, variables in suites:
        dataset = f"evals/{name}.jsonl"
        files[dataset] = _golden_rows(variables)
        config_suites.append(
            {
                "name": name,
                "prompt": path,
                "model": MODEL_PATH,
                "dataset": dataset,
                "samples": 1,
                "metrics": [dict(STARTER_METRIC)],
                "thresholds": {STARTER_METRIC["name"]: {"min": 0.8, "max_drop": 0.05}},
            }
        )
    header = (
        "# evalbot: the LLM regression gate for this repository's pull requests (written by\n"
        "# `evalbot init`; reference: docs/config.md). Replace the TODO rows of each golden\n"
        "# set with real examples, then: evalbot validate && evalbot run\n"
    )
    body = yaml.safe_dump(
        {
            "version": 1,
            "gate": {"alpha": 0.05, "on_inconclusive": "warn", "max_error_rate": 0.05},
            "suites": config_suites,
        },
        sort_keys=False,
        allow_unicode=True,
        width=100,
    )
    files = {"evalbot.yml": header + body, MODEL_PATH: MODEL_CONFIG, **files}
    files[WORKFLOW_PATH] = WORKFLOW
    return Starter(files=files, suites=[(n, p) for n, p, _ in suites], skipped=skipped)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-C",
        "--repo",
        type=Path,
        default=Path("."),
        help="the repository to set up",
    )
    parser.add_argument("--force", action="store_true", help="overwrite files that exist")


def run(args: argparse.Namespace) -> int:
    root = Path(args.repo)
    if not root.is_dir():
        raise UserError("directory not found", file=str(root), hint="check -C DIR")
    root = root.resolve()
    starter = starter_files(root)
    existing = [p for p in starter.files if (root / p).exists() or (root / p).is_symlink()]
    if existing and not args.force:
        shown = ", ".join(existing[:5]) + (
            f" and {len(existing) - 5} more" if len(existing) > 5 else ""
        )
        raise UserError(
            f"evalbot init would overwrite {shown}",
            hint="move them aside, or pass --force to overwrite",
        )
    for rel in starter.files:
        target = root / rel
        if target.is_symlink():
            raise UserError("is a symbolic link: not written through", file=rel)
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(target, starter.files[rel])
    print(f"evalbot init: wrote {len(starter.files)} files in {root}")
    for rel in starter.files:
        print(f"  {rel}")
    for name, path in starter.suites:
        print(f"suite {name}: {path}")
    for path, why in starter.skipped:
        print(f"skipped {path}: {why}")
    print(
        "next: replace the TODO rows in evals/*.jsonl with real examples, then\n"
        "  evalbot validate            # no model call\n"
        "  evalbot run --dry-run       # planned calls and cost\n"
        "  evalbot run                 # needs OPENAI_API_KEY (or: python -m evalbot.fake_openai)"
    )
    return 0

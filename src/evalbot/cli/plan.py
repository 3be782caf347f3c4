"""``evalbot plan``: which suites a change affects, and why, without a model call or a key.

Change detection as ``evalbot diff`` does it (the same selection, the same reasons), printed for
a person or, with ``--json``, for a workflow: the plan job of a sharded workflow reads
``affected`` to skip the shard jobs when nothing is affected::

    {"affected": true, "suites": ["support"], "reasons": {"support": ["prompts/support.md"]},
     "skipped": ["billing"], "base_sha": "…", "head_sha": "…", "merge_base": "…"}

Nothing is written: the results of the detection go to a temporary directory, removed after.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from evalbot.records import RunResult

__all__ = ["add_arguments", "plan_of", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Which suites a change between two revisions affects, and why (no model call, no key)."
    )
    parser.add_argument("--base", required=True, help="base revision; its merge-base is used")
    parser.add_argument("--head", help="head revision (default: the work tree as it is on disk)")
    parser.add_argument(
        "-C",
        "--repo",
        type=Path,
        help="repository root (default: the nearest directory up from here with the config)",
    )
    parser.add_argument("--config", default="evalbot.yml", help="config path in the repository")
    parser.add_argument("--suite", action="append", default=[], help="only this suite (repeat)")
    parser.add_argument("--all", action="store_true", help="every suite, changed or not")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def plan_of(result: RunResult) -> dict[str, Any]:
    """The plan as data, from a dry run's result: a suite is affected when it has reasons."""
    reasons = {s.name: list(s.triggers) for s in result.suites if s.triggers}
    return {
        "affected": bool(reasons),
        "suites": list(reasons),
        "reasons": reasons,
        "skipped": [s.name for s in result.suites if not s.triggers],
        "base_sha": result.base_sha,
        "head_sha": result.head_sha,
        "merge_base": result.merge_base,
    }


def run(args: argparse.Namespace) -> int:
    from evalbot.cli.app import _emit, find_repo
    from evalbot.options import DiffOptions
    from evalbot.pipeline.diff import run_diff

    repo = find_repo(args.repo, args.config)
    with tempfile.TemporaryDirectory(prefix="evalbot-plan-") as scratch:
        options = DiffOptions(
            repo_root=repo,
            base=args.base,
            head=args.head,
            config_path=args.config,
            out_dir=Path(scratch),
            suites=tuple(args.suite),
            run_all=args.all,
            dry_run=True,
        )
        plan = plan_of(run_diff(options, env=os.environ))
    if args.json:
        _emit(json.dumps(plan, ensure_ascii=False))
        return 0
    if not plan["affected"]:
        _emit("Nothing affected: no suite's inputs changed.")
        return 0
    for name, why in plan["reasons"].items():
        shown = ", ".join(why[:10]) + (f" and {len(why) - 10} more" if len(why) > 10 else "")
        _emit(f"{name}: {shown}")
    if plan["skipped"]:
        _emit(f"not affected: {', '.join(plan['skipped'])}")
    return 0

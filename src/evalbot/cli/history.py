"""``evalbot history record``: append a main run's results to the history data branch.

Run it on pushes to the default branch, after ``evalbot run`` (or the action): one record per
suite and metric, the suite's flakiness when the run had samples > 1, and the SVG trend charts,
committed to the data branch and pushed as a fast-forward (retried on a conflict with another
writer; never force-pushed). Pull requests only read the branch.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from evalbot.errors import UserError

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Append a default-branch run (results.json) to the history data branch: values, "
        "intervals, flakiness and SVG trend charts."
    )
    actions = parser.add_subparsers(dest="history_command", metavar="ACTION", required=True)
    record = actions.add_parser("record", help="append a run's results to the data branch")
    record.add_argument("results", type=Path, help="directory with results.json")
    record.add_argument("-C", "--repo", type=Path, default=Path("."), help="repository root")
    record.add_argument("--branch", default="evalbot-data", help="data branch (evalbot-data)")
    record.add_argument("--remote", default="origin", help="remote to push to (origin)")
    record.add_argument(
        "--local", action="store_true", help="write the local branch only, push nothing"
    )


def run(args: argparse.Namespace) -> int:
    from evalbot.history.store import DataBranch, GitRunner
    from evalbot.history.trend import append_records, records_of, suite_flakiness
    from evalbot.records import RunResult

    event = os.environ.get("GITHUB_EVENT_NAME", "")
    if event.startswith("pull_request"):
        raise UserError(
            f"history is written on pushes to the default branch, not on {event} events",
            hint="pull requests read the history; run 'evalbot history record' in the push "
            "(or schedule) workflow of the default branch",
        )
    path = args.results / "results.json"
    try:
        result = RunResult.model_validate_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise UserError("no results.json here", file=str(args.results)) from exc
    except ValueError as exc:
        raise UserError(f"not a results.json of evalbot: {exc}", file=str(path)) from exc
    if result.verdict == "error":
        raise UserError("this run ended in error: its values are not recorded", file=str(path))
    records = records_of(result)
    flakiness = suite_flakiness(result)
    if not records:
        print("evalbot history: nothing to record (no suite was evaluated)")
        return 0
    store = DataBranch(
        GitRunner(args.repo), branch=args.branch, remote=None if args.local else args.remote
    )
    sha = (result.head_sha or "")[:7]
    commit = store.update(
        lambda read: append_records(read, records, flakiness),
        message=f"evalbot history: {sha} ({len(records)} records)",
    )
    suites = len({r.suite for r in records})
    print(
        f"evalbot history: {len(records)} record(s) of {suites} suite(s) written to "
        f"{args.branch} ({commit[:7]})"
        + (f"; flakiness of {', '.join(sorted(flakiness))}" if flakiness else "")
    )
    return 0

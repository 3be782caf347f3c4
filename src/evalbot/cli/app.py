"""The ``evalbot`` command line: parses arguments, builds real side effects, maps errors to exits.

This is the one place where exceptions become exit codes (``errors.exit_code_for``): a user
mistake prints one line and exits 2, an evaluation failure exits 3; no traceback for either.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import NoReturn

from evalbot import __version__
from evalbot.errors import (
    EXIT_ERROR,
    EXIT_USAGE,
    EvalbotError,
    UserError,
    exit_code_for,
    exit_code_for_verdict,
)
from evalbot.options import DEFAULT_CHECK_NAME, DEFAULT_CONCURRENCY, DiffOptions, parse_shard
from evalbot.startup import collection_paused, resume_collection
from evalbot.trust import TrustPolicy, forbid_inspection

__all__ = ["build_parser", "console_main", "find_repo", "main"]

Handler = Callable[[argparse.Namespace], int]


def _shard(value: str) -> str:
    try:
        parse_shard(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return value


def _retries(value: str) -> int:
    if not value.isdigit() or int(value) > 10:
        raise argparse.ArgumentTypeError(f"{value!r}: use a whole number from 0 to 10")
    return int(value)


def _whole(low: int, high: int | None = None) -> Callable[[str], int]:
    """A whole number in [low, high]: 0 or -5 concurrency, or 101 samples, is a mistake to name,
    not a value to clamp silently."""

    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            number = None
        if number is None or number < low or (high is not None and number > high):
            span = f"from {low} to {high}" if high is not None else f"of at least {low}"
            raise argparse.ArgumentTypeError(f"{value!r}: use a whole number {span}")
        return number

    return parse


def _hosts(value: str) -> tuple[str, ...]:
    return tuple(h.strip().lower() for h in value.split(",") if h.strip())


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-C",
        "--repo",
        type=Path,
        help="repository root (default: the nearest directory up from here with the config)",
    )
    parser.add_argument("--config", default="evalbot.yml", help="config path in the repository")
    parser.add_argument(
        "--out", type=Path, help="output directory (default: evalbot-results in the repository)"
    )
    parser.add_argument("--suite", action="append", default=[], help="only this suite (repeat)")
    parser.add_argument("--offline", action="store_true", help="answer from the cache only")
    parser.add_argument("--shard", type=_shard, help="K/N: evaluate one slice of each golden set")
    parser.add_argument(
        "--samples", type=_whole(1, 100), help="override every suite's samples (1-100)"
    )
    parser.add_argument(
        "--concurrency",
        type=_whole(1),
        default=DEFAULT_CONCURRENCY,
        help=f"model calls in flight (default {DEFAULT_CONCURRENCY})",
    )
    parser.add_argument(
        "--cache-dir", type=Path, help="response cache (default: .evalbot/cache in the repository)"
    )
    parser.add_argument(
        "--no-cache",
        action="store_true",
        help="ask the model for every answer: read no cached answer, keep none "
        "(to empty the cache: evalbot cache clear)",
    )
    parser.add_argument(
        "--cache-scope",
        default=os.environ.get("EVALBOT_CACHE_SCOPE") or None,
        help="share cached answers between endpoints: replaces the endpoint URL in the cache "
        "key (env EVALBOT_CACHE_SCOPE)",
    )
    parser.add_argument(
        "--max-cost-usd",
        type=float,
        help="stop with exit 3 when the spend of this run reaches this (default: no cap)",
    )
    parser.add_argument(
        "--max-retries",
        type=_retries,
        help="retries per model call (default: evalbot.yml's max_retries, else 4)",
    )
    parser.add_argument(
        "--allowed-hosts",
        type=_hosts,
        default=_hosts(os.environ.get("EVALBOT_ALLOWED_HOSTS", "")) or None,
        help="comma-separated hosts the API key may be sent to (env EVALBOT_ALLOWED_HOSTS)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of every resampling (permutation tests, bootstrap): a rerun gives the same "
        "figures",
    )
    parser.add_argument(
        "--sequential",
        action="store_true",
        help="evaluate in seeded random batches; stop when every blocking metric is decided",
    )
    parser.add_argument(
        "--check-name",
        default=DEFAULT_CHECK_NAME,
        help="name in comment.md's hidden marker (one sticky comment per name)",
    )
    parser.add_argument(
        "--quiet",
        "-q",
        action="store_true",
        help="print only the verdict line; no plan or progress on stderr",
    )
    _add_json_option(parser)


def _add_json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the summary as one JSON object on stdout instead of the text report "
        "(progress stays on stderr)",
    )


def _out_dir(path: Path) -> Path:
    """``--out``: a directory (created when missing), checked before anything runs, so that a
    whole evaluation is not spent only to fail when the results are written."""
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        what = "is a file" if probe == path else f"is inside {probe}, which is a file"
        raise UserError(
            f"--out {what}; it must be a directory",
            file=str(path),
            hint="pass a directory (created when missing), e.g. --out evalbot-results",
        )
    # Absolute without resolving links: the pipeline refuses a symlinked results directory.
    return Path(os.path.abspath(path))


def find_repo(path: Path | None, config: str) -> Path:
    """``-C DIR`` as given; without it, the nearest directory from here upward that holds the
    config, as git finds ``.git`` (so a run from ``src/`` finds ``evalbot.yml`` at the root)."""
    if path is not None:
        return _repo(path)
    here = Path.cwd()
    for candidate in (here, *here.parents):
        if (candidate / config).is_file():
            return candidate
        if (candidate / ".git").exists():
            break  # the repository root: the config is not further up
    return here


def _repo(path: Path) -> Path:
    if not path.is_dir():
        raise UserError("repository directory not found", file=str(path), hint="check -C DIR")
    return path.resolve()


def _cache_secret() -> bytes | None:
    """``EVALBOT_CACHE_SECRET``: sign the cache in a CI job that runs the CLI on untrusted PRs
    (the action always signs)."""
    import hashlib  # (only the commands with a cache ask: a start loads no OpenSSL)

    secret = (os.environ.get("EVALBOT_CACHE_SECRET") or "").strip()
    return hashlib.sha256(b"evalbot cache key\0" + secret.encode()).digest() if secret else None


def _options(args: argparse.Namespace, *, base: str | None, head: str | None) -> DiffOptions:
    repo = find_repo(args.repo, args.config)
    if args.out is None:
        args.out = repo / "evalbot-results"
    cache_dir = args.cache_dir.resolve() if args.cache_dir else None
    return DiffOptions(
        repo_root=repo,
        base=base,
        head=head,
        config_path=args.config,
        out_dir=_out_dir(args.out),
        suites=tuple(args.suite),
        run_all=getattr(args, "all", False),
        offline=args.offline,
        shard=args.shard,
        samples=args.samples,
        concurrency=args.concurrency,
        cache_dir=cache_dir,
        max_cost_usd=args.max_cost_usd,
        max_retries=args.max_retries,
        allowed_hosts=args.allowed_hosts,
        check_name=args.check_name,
        seed=args.seed,
        dry_run=getattr(args, "dry_run", False),
        sequential=getattr(args, "sequential", False),
        policy=TrustPolicy(cache_scope=args.cache_scope, cache_secret=_cache_secret()),
    )


def _report(result, args: argparse.Namespace) -> int:
    from evalbot.report import render_terminal

    if getattr(args, "json", False):
        from evalbot.report.summary import json_summary

        _emit(json_summary(result, out_dir=args.out))
    elif args.quiet:
        _emit(f"evalbot: {result.verdict}")
    else:
        _emit(render_terminal(result, color=sys.stdout.isatty() and not os.environ.get("NO_COLOR")))
        _emit(
            f"\nResults written to {args.out}/ (results.json, comment.md, junit.xml, report.html)"
        )
    return exit_code_for_verdict(result.verdict)


def _emit(text: str) -> None:
    """Print to stdout; a reader that went away (``| head``) is not an error, and the command
    still exits with its own code (the verdict's)."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        _stdout_gone()


def _stdout_gone() -> None:
    # Point stdout at /dev/null so the interpreter's final flush does not raise again.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def _progress(args: argparse.Namespace):
    from evalbot.report.progress import Progress

    return Progress(stream=sys.stderr, quiet=args.quiet)


@contextlib.contextmanager
def _no_cache(args: argparse.Namespace) -> Iterator[None]:
    """``--no-cache``: a private, empty cache for this run only, removed afterwards (so a request
    identical on both sides is still sent once, and nothing outlives the run)."""
    if not args.no_cache:
        yield
        return
    if args.offline:
        raise UserError("--no-cache and --offline contradict each other", hint="drop one")
    if args.cache_dir is not None:
        raise UserError("--no-cache and --cache-dir contradict each other", hint="drop one")
    import tempfile

    with tempfile.TemporaryDirectory(prefix="evalbot-no-cache-") as directory:
        args.cache_dir = Path(directory)
        yield


def _cmd_diff(args: argparse.Namespace) -> int:
    from evalbot.pipeline.diff import run_diff

    with _no_cache(args):
        options = _options(args, base=args.base, head=args.head)
        result = run_diff(options, env=os.environ, progress=_progress(args))
    return _report(result, args)


def _cmd_run(args: argparse.Namespace) -> int:
    from evalbot.pipeline.diff import run_diff

    with _no_cache(args):
        options = _options(args, base=None, head=args.rev)
        result = run_diff(options, env=os.environ, progress=_progress(args))
    return _report(result, args)


def _cmd_merge(args: argparse.Namespace) -> int:
    from evalbot.pipeline.merge import merge_results

    options = DiffOptions(
        repo_root=Path(".").resolve(),
        base=None,
        out_dir=_out_dir(args.out),
        check_name=args.check_name,
    )
    args.quiet = False
    return _report(merge_results([Path(d) for d in args.dirs], options), args)


def _cmd_validate(args: argparse.Namespace) -> int:
    from evalbot.inputs.tree import WorkTree
    from evalbot.inputs.validate import format_report, validate

    report = validate(WorkTree(find_repo(args.repo, args.config)), args.config)
    _emit(format_report(report))
    return getattr(report, "exit_code", 0)


def _cmd_publish(args: argparse.Namespace) -> int:
    from evalbot.github.publish import publish_command

    if not os.environ.get("GITHUB_ACTIONS") and not os.environ.get("GITHUB_EVENT_NAME"):
        # Run by a person: say so in words, not as a workflow command meant for a log.
        raise UserError(
            "evalbot publish posts the PR comment and check from saved results, and runs only "
            "inside a GitHub Actions job (GITHUB_ACTIONS and GITHUB_EVENT_NAME are not set here)",
            hint=f"to read the results locally, open {args.results}/comment.md; "
            "to evaluate, run evalbot diff --base main",
        )
    return publish_command(args.results, env=os.environ)


def _cmd_report(args: argparse.Namespace) -> int:
    from evalbot.report.html import report_command

    return report_command(args, emit=_emit)


def _cmd_action(args: argparse.Namespace) -> int:
    from evalbot.github.action import main as action_main

    # The container's entrypoint holds every secret of the step and may start the PR's code.
    forbid_inspection()
    return action_main(os.environ)


class _DefaultsShown(argparse.HelpFormatter):
    """``--help`` shows each option's default, where it has a meaningful one (not None/False)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if (
            "default" in text
            or default is None
            or default is False
            or default in ([], ())
            or default is argparse.SUPPRESS
            or not action.option_strings
        ):
            return action.help
        shown = ",".join(default) if isinstance(default, tuple) else default
        return f"{text} (default: {shown})"


class _Parser(argparse.ArgumentParser):
    """argparse with short errors: the error, then one usage line (not the full usage block,
    which buries the line that matters under every option)."""

    def __init__(self, *args, **kwargs) -> None:
        # No prefix matching: `run --all` must not be read as `--allowed-hosts`.
        kwargs.setdefault("allow_abbrev", False)
        kwargs.setdefault("formatter_class", _DefaultsShown)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\nusage: {self.short_usage()}\n")

    def short_usage(self) -> str:
        parts = [self.prog]
        optional = False
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction):
                parts.append("COMMAND")
            elif not action.option_strings:
                parts.append(self._metavar(action) + (" ..." if action.nargs == "+" else ""))
            elif action.required:
                parts.append(f"{action.option_strings[-1]} {self._metavar(action)}")
            elif not isinstance(action, argparse._HelpAction | argparse._VersionAction):
                optional = True
        if optional:
            parts.append("[options]")
        return " ".join(parts) + f"  (see {self.prog} --help)"

    @staticmethod
    def _metavar(action: argparse.Action) -> str:
        metavar = action.metavar or action.dest.upper()
        return metavar if isinstance(metavar, str) else " ".join(metavar)


_LAZY_COMMANDS = {
    "power": "sample size / minimum detectable effect",
    "calibrate": "agreement of a judge with human labels",
    "history": "main's history on the data branch",
    "plan": "which suites a change affects (no model call)",
    "init": "write a starter evalbot.yml, model, golden sets and workflow",
    "cache": "manage the response cache (cache clear)",
}
"""Subcommands implemented in ``evalbot.cli.<name>`` (``add_arguments`` and ``run``), in the
order ``--help`` lists them."""


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole parser, or (``command``) one whose other subcommands carry no options."""
    parser = _Parser(
        prog="evalbot",
        description="Paired base-vs-head LLM evals with significance tests for pull requests.",
    )
    parser.add_argument("--version", action="version", version=f"evalbot {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    diff = sub.add_parser("diff", help="detect, run base and head, test, report (the main job)")
    diff.add_argument(
        "--base", required=True, help="base revision; its merge-base with head is used"
    )
    diff.add_argument("--head", help="head revision (default: the work tree as it is on disk)")
    diff.add_argument("--all", action="store_true", help="run every suite, changed or not")
    diff.add_argument(
        "--dry-run",
        action="store_true",
        help="no model call: list the suites that would run, why (the changed files), their "
        "planned calls, cache hits and estimated cost",
    )
    _add_run_options(diff)
    diff.set_defaults(handler=_cmd_diff)

    run = sub.add_parser("run", help="evaluate one revision (absolute thresholds only)")
    run.add_argument("--rev", help="revision (default: the work tree)")
    run.add_argument(
        "--dry-run",
        action="store_true",
        help="no model call: list every suite with its planned calls, cache hits and "
        "estimated cost",
    )
    _add_run_options(run)
    run.set_defaults(handler=_cmd_run)

    merge = sub.add_parser("merge", help="combine shard results, then test and report")
    merge.add_argument("dirs", nargs="+", help="results directories of the shards")
    merge.add_argument("--out", type=Path, required=True, help="directory for the merged results")
    merge.add_argument(
        "--check-name",
        default=DEFAULT_CHECK_NAME,
        help="name in comment.md's hidden marker (one sticky comment per name)",
    )
    _add_json_option(merge)
    merge.set_defaults(handler=_cmd_merge)

    publish = sub.add_parser("publish", help="post comment and check from saved results")
    publish.add_argument("--results", type=Path, required=True, help="directory with results.json")
    publish.set_defaults(handler=_cmd_publish)

    validate = sub.add_parser("validate", help="check config, prompts, models, golden sets")
    validate.add_argument(
        "-C", "--repo", type=Path, help="repository root (default: found as for diff)"
    )
    validate.add_argument("--config", default="evalbot.yml")
    validate.set_defaults(handler=_cmd_validate)

    report = sub.add_parser("report", help="the report of a results directory (--html: a web page)")
    report.add_argument("results", nargs="?", type=Path, default=Path("evalbot-results"))
    report.add_argument("--html", action="store_true", help="write a self-contained HTML page")
    report.add_argument("-o", "--output", type=Path, help="HTML file (default RESULTS/report.html)")
    report.set_defaults(handler=_cmd_report)

    # These commands' options live next to their code, which needs scipy, yaml or git: each
    # module is imported only when the command line asks for it (or for the whole parser), so
    # --version and the rest start instantly.
    for name, summary in _LAZY_COMMANDS.items():
        lazy_parser = sub.add_parser(name, help=summary)
        if command in (None, name):
            module = importlib.import_module(f"evalbot.cli.{name}")
            module.add_arguments(lazy_parser)
            lazy_parser.set_defaults(handler=module.run)

    action = sub.add_parser("action", help="GitHub Action entrypoint (reads GITHUB_* env)")
    action.set_defaults(handler=_cmd_action)
    parser.set_defaults(commands=sub.choices)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    with collection_paused():
        return _main(argv)


def console_main() -> int:
    """The ``evalbot`` program (console script, ``python -m evalbot``): ``main`` in a process that
    ends when the command returns (see ``evalbot.startup``)."""
    with collection_paused(until_exit=True):
        return _main(None)


_SHORT_OR_RESUMING = frozenset({"validate", "action", "diff", "run"})
"""Commands that keep collection paused: quick ones, and those whose long part (a run) resumes
it itself (``pipeline.diff``). Any other command resumes it as soon as its arguments are read."""


def _main(argv: Sequence[str] | None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    # The top-level options take no value, so the first word is the command.
    parser = build_parser(next((a for a in argv if not a.startswith("-")), ""))
    try:
        args, unknown = parser.parse_known_args(argv)
        if unknown:  # named by the subcommand, with its own usage line
            args.commands[args.command].error(f"unrecognized arguments: {' '.join(unknown)}")
    except SystemExit as exc:  # argparse: --help / --version exit 0, usage errors exit 2
        return int(exc.code or 0) if isinstance(exc.code, int) else EXIT_USAGE
    handler: Handler = args.handler
    if args.command not in _SHORT_OR_RESUMING:
        resume_collection()
    # ``action`` and ``publish`` write workflow commands on purpose and guard what they echo.
    guarded = args.command not in ("action", "publish")
    with _workflow_commands_stopped(enabled=guarded):
        return _run(handler, args)


@contextlib.contextmanager
def _workflow_commands_stopped(*, enabled: bool) -> Iterator[None]:
    """Inside GitHub Actions, a line of output starting with ``::`` is a workflow command
    (``::error::``, ``::add-mask::``, ``::stop-commands::``...). The CLI prints text a PR or a
    model wrote (config keys in error messages, notes, outputs), so command processing is
    stopped, under a random token, for as long as it runs."""
    if not enabled or os.environ.get("GITHUB_ACTIONS") != "true":
        yield
        return
    import secrets  # (inside Actions only: it loads OpenSSL)

    token = secrets.token_hex(16)
    print(f"::stop-commands::{token}", flush=True)
    try:
        yield
    finally:
        sys.stderr.flush()
        print(f"::{token}::", flush=True)


def _one_line(exc: BaseException) -> str:
    """The error as one line, with ``::`` broken up (see ``report.escape.plain``)."""
    from evalbot.report.escape import plain

    return plain(str(exc), limit=2000)


def _run(handler: Handler, args: argparse.Namespace) -> int:
    try:
        return handler(args)
    except UserError as exc:
        print(f"evalbot: error: {_one_line(exc)}", file=sys.stderr)
        return exit_code_for(exc)
    except EvalbotError as exc:
        print(f"evalbot: evaluation could not be completed: {_one_line(exc)}", file=sys.stderr)
        return exit_code_for(exc)
    except KeyboardInterrupt:
        print("evalbot: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output cut short by its reader (`| head`): nothing to report
        _stdout_gone()
        return EXIT_ERROR
    except Exception:  # a bug in evalbot, not a user mistake: show everything
        import traceback

        traceback.print_exc()
        print("evalbot: internal error; please report it with the traceback above", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    raise SystemExit(main())

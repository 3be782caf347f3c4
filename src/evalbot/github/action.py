"""``evalbot action``: the container's entrypoint. Reads the GitHub environment, runs the diff,
publishes the comment and check, writes the job summary and outputs, returns the exit code.

Only ``main`` builds real side effects (the pipeline, the GitHub client, the report renderer);
``run`` receives them, so tests drive the whole path with a loopback GitHub and a stand-in diff.

A fork PR (or a run where none of the key variables the workflow names is set) is never
evaluated and never claims a pass: the pipeline runs with ``dry_run=True`` (detection only, no
model call) and the verdict is ``neutral`` with the list of suites that would have run; when
nothing would have run, it is a plain pass. Whether a key is missing is decided from the workflow
(``model-env``) alone; a model config naming a variable that is not set fails the check.
"""

from __future__ import annotations

import functools
import re
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from evalbot import __version__
from evalbot.errors import (
    EXIT_ERROR,
    EXIT_OK,
    CheckMissing,
    EvalbotError,
    GitError,
    PublishError,
    UserError,
    exit_code_for_verdict,
)
from evalbot.github.client import GithubFactory, GitHubPublisher, make_github
from evalbot.github.event import EventContext, WorkflowCommands, idle_reason, load_event
from evalbot.github.publish import (
    PublishTarget,
    Reporter,
    annotate_error,
    default_reporter,
    finish_step,
    make_publisher,
    publish_result,
    run_publish,
)
from evalbot.github.settings import ActionSettings, secret_values
from evalbot.options import DEFAULT_CONCURRENCY, DiffOptions
from evalbot.records import RunResult, SuiteResult
from evalbot.scrub import Scrubber, ScrubbingReporter, ScrubbingStream, internal_error_line
from evalbot.trust import check_cache_dir

__all__ = ["DiffFn", "main", "plan_revisions", "run"]

DiffFn = Callable[..., RunResult]
"""``evalbot.pipeline.diff.run_diff(options: DiffOptions, *, env: Mapping[str, str])``
-> ``RunResult``."""

FORK_REASON = (
    "this pull request comes from a fork, and GitHub gives workflows triggered by forks no "
    "secrets, so no model could be called"
)


def plan_revisions(settings: ActionSettings, event: EventContext) -> tuple[str | None, str]:
    """(base, head) to evaluate. Head is the PR's head commit, never the merge commit in
    ``GITHUB_SHA``; base is the PR's base (the pipeline takes its merge-base with head) unless
    the ``base`` input overrides it."""
    head = event.head_sha
    if head is None:
        raise UserError(f"the {event.event_name} event names no commit to evaluate")
    base = settings.base or event.base_sha
    if base is None and event.default_branch:
        base = f"origin/{event.default_branch}"  # new branch push, workflow_dispatch
    if base is None:
        raise UserError(
            f"cannot tell the base revision of this {event.event_name} event",
            hint="set the action input 'base' (e.g. base: main)",
        )
    return base, head


_URL_CREDENTIALS = re.compile(r"://[^/@\s]+@")


def _ensure_commits(
    root: Path, revisions: list[str], commands: WorkflowCommands, *, event: str
) -> None:
    """Fetch a commit the checkout lacks (shallow clones): one ``git fetch origin SHA`` each.

    Raises ``GitError`` when the commit is still missing: the event names it, so a later
    "unknown revision" would blame the user's branch names for a checkout or fetch problem.
    """
    shas = [r for r in revisions if len(r) == 40 and all(c in "0123456789abcdef" for c in r)]
    for rev in _missing_commits(root, shas):
        commands.log(f"fetching {rev[:12]} (not in the checkout; use fetch-depth: 0)")
        fetch = ["git", "-C", str(root), "fetch", "--no-tags", "--quiet", "origin", rev]
        try:
            done = subprocess.run(fetch, capture_output=True, check=False, timeout=300, text=True)
            lines = [line.strip() for line in done.stderr.splitlines() if line.strip()]
            fatal = [line for line in lines if line.startswith(("fatal:", "error:"))]
            said = (fatal or lines)[:1] if done.returncode else []
        except (OSError, subprocess.TimeoutExpired) as exc:
            said = [str(exc)]
        if _missing_commits(root, [rev]):
            # git may echo the remote URL, credentials included: never pass those on.
            reason = f": {_URL_CREDENTIALS.sub('://***@', said[0])[:200]}" if said else ""
            raise GitError(
                f"commit {rev[:12]} named by the {event} event is not in the checkout, and "
                f"fetching it from origin failed{reason}",
                hint="check out with actions/checkout and fetch-depth: 0 (the token needs "
                "contents: read); if the branch was force-pushed or deleted since, re-run on "
                "its new head",
            )


def _missing_commits(root: Path, shas: list[str]) -> list[str]:
    """Those of ``shas`` that are not commits in the checkout: one ``git cat-file`` for all."""
    if not shas:
        return []
    probe = ["git", "-C", str(root), "cat-file", "--batch-check"]
    asked = "".join(f"{sha}^{{commit}}\n" for sha in shas)
    done = subprocess.run(probe, input=asked, capture_output=True, check=False, text=True)
    answers = done.stdout.splitlines() if done.returncode == 0 else []
    # One line per object asked, in order: "<commit> commit <size>" (an annotated tag's commit
    # for a tag), or "<name> missing" (also for an object that is no commit).
    answers += [""] * (len(shas) - len(answers))
    is_commit = [line.split(" ")[1:2] == ["commit"] for line in answers]
    return [sha for sha, found in zip(shas, is_commit, strict=False) if not found]


def _cache_dir(settings: ActionSettings, head: str) -> Path:
    """The response cache: outside the checkout by default (``RUNNER_TEMP``), or the
    ``cache-dir`` input when git does not track it and no symlink leads there."""
    if settings.cache_dir is not None:
        return check_cache_dir(settings.cache_dir, workspace=settings.workspace, head=head)
    temp = settings.runner_temp or Path(tempfile.gettempdir())
    return check_cache_dir(temp / "evalbot-cache", workspace=settings.workspace, head=head)


def _missing_keys(settings: ActionSettings, env: Mapping[str, str]) -> list[str]:
    """The key variables the workflow names (``model-env``) when *all* of them are unset, as
    on a fork or Dependabot run: then nothing can be evaluated. Decided from the workflow
    only; a model config naming an unset variable is a config error in the pipeline."""
    names = settings.key_variables()
    if any((env.get(n) or "").strip() for n in names):
        return []
    return list(names)


def _already_answered(
    event: EventContext,
    settings: ActionSettings,
    publisher: GitHubPublisher | None,
    commands: WorkflowCommands,
) -> str | None:
    """Why a pull-request action that changes no code (``labeled``, ``assigned``…) needs no new
    run, or None to run. It needs none when its head commit already carries our completed check
    run (or, with ``check: status``, our commit status): that commit was evaluated, and a new
    run would only repeat it. Without a way to look (no token, ``check: none``, a token that may
    not read checks) it runs; the response cache makes the repeat cheap."""
    if event.changes_code or publisher is None or event.head_sha is None:
        return None
    try:
        found = publisher.has_result(event.head_sha, name=settings.check_name, mode=settings.check)
    except PublishError as exc:
        commands.log(f"could not look for an earlier result ({exc}); evaluating")
        return None
    if not found:
        return None
    return (
        f"pull request #{event.pr_number} {event.action}: no code changed and head "
        f"{event.head_sha[:12]} already has a '{settings.check_name}' result: nothing to do"
    )


def _would_run(result: RunResult) -> list[SuiteResult]:
    return [s for s in result.suites if s.triggers]


def _not_evaluated(result: RunResult, *, reason: str, short: str) -> RunResult:
    """A dry-run result made honest: neutral when suites would have run, else a pass."""
    would = _would_run(result)
    if not would:
        note = f"No model was called ({reason}); no eval input changed, so none was needed."
        return result.model_copy(
            update={"verdict": "pass", "notes": [*result.notes, note], "summary": ""}
        )
    names = ", ".join(s.name for s in would)
    lines = [f"Not evaluated: {reason}. Nothing here is a pass or a fail."]
    lines += [f"Would have run {s.name}: {', '.join(s.triggers[:10])}" for s in would]
    lines.append(
        "To evaluate it, push the branch to this repository or use the fork-safe workflow pair "
        "(docs/action.md#forks)."
    )
    summary = f"Not evaluated ({short}): {len(would)} suite(s) would run: {names}"
    return result.model_copy(
        update={"verdict": "neutral", "summary": summary, "notes": [*result.notes, *lines]}
    )


def _error_result(
    exc: BaseException, *, settings: ActionSettings, head: str | None, started: float
) -> RunResult:
    """What the pipeline wrote before failing, or a minimal error record."""
    path = settings.out_dir / "results.json"
    try:
        if path.stat().st_mtime >= started - 1:
            written = RunResult.model_validate_json(path.read_bytes())
            if written.verdict == "error":
                return written
    except (OSError, ValueError):
        pass
    message = exc.render() if isinstance(exc, EvalbotError) else internal_error_line(exc)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    return RunResult(
        tool_version=__version__,
        command="action",
        created_at=now,
        finished_at=now,
        repo_root=str(settings.workspace),
        config_path=settings.config,
        head_sha=head,
        verdict="error",
        summary=message,
        notes=[message],
    )


def _evaluate(
    options: DiffOptions,
    *,
    settings: ActionSettings,
    event: EventContext,
    env: Mapping[str, str],
    diff: DiffFn,
    commands: WorkflowCommands,
) -> tuple[RunResult, bool]:
    """Run the diff, or its dry run when no model may be called; True when neutralised."""
    if event.is_fork:
        commands.warning(f"Not evaluated: {FORK_REASON}.", title=options.check_name)
        dry = diff(replace(options, dry_run=True), env=env)
        return _not_evaluated(dry, reason=FORK_REASON, short="fork PR"), True
    missing = _missing_keys(settings, env)
    if missing:
        dry = diff(replace(options, dry_run=True), env=env)
        shown = " / ".join(missing)
        verb = "is" if len(missing) == 1 else "are"
        reason = f"{shown} {verb} not set in the environment of this step"
        if _would_run(dry):
            commands.warning(
                f"Not evaluated: {reason}. Pass it as a secret: env: {{{missing[0]}: "
                f"${{{{ secrets.{missing[0]} }}}}}}",
                title=options.check_name,
            )
        return _not_evaluated(dry, reason=reason, short="no API key"), True
    return diff(options, env=env), False


def _options(
    settings: ActionSettings, base: str | None, head: str, env: Mapping[str, str]
) -> DiffOptions:
    return DiffOptions(
        repo_root=settings.workspace,
        base=base,
        head=head,
        config_path=settings.config,
        out_dir=settings.out_dir,
        suites=settings.suites,
        shard=settings.shard,
        samples=settings.samples,
        concurrency=settings.concurrency or DEFAULT_CONCURRENCY,
        max_retries=settings.max_retries,
        cache_dir=_cache_dir(settings, head),
        max_cost_usd=settings.max_cost_usd,
        allowed_hosts=settings.allowed_hosts,
        check_name=settings.check_name,
        details_url=settings.run_url,
        policy=settings.policy(env),
    )


def _outcome(
    settings: ActionSettings,
    *,
    event: EventContext,
    env: Mapping[str, str],
    diff: DiffFn,
    reporter: Reporter,
    commands: WorkflowCommands,
) -> tuple[RunResult, int]:
    """The result and exit code; an error becomes an ``error`` result (written to --out)."""
    started = time.time()
    try:
        with commands.group("evalbot: plan"):
            base, head = plan_revisions(settings, event)
            commands.log(f"event {event.event_name}; base {base}; head {head}")
            if event.pr_number is not None:
                commands.log(f"pull request #{event.pr_number} (fork: {event.is_fork})")
            wanted = [head] if base is None else [base, head]
            _ensure_commits(settings.workspace, wanted, commands, event=event.event_name)
        with commands.group("evalbot: evaluate"):
            result, rewritten = _evaluate(
                _options(settings, base, head, env),
                settings=settings,
                event=event,
                env=env,
                diff=diff,
                commands=commands,
            )
        if rewritten:
            reporter.write_outputs(
                result, settings.out_dir, check_name=settings.check_name, root=settings.workspace
            )
        return result, exit_code_for_verdict(result.verdict)
    except EvalbotError as exc:
        annotate_error(commands, exc, title=settings.check_name)
        error: BaseException = exc
        code = exc.exit_code
    except Exception as exc:  # a bug in evalbot: say so, and still answer the check
        with commands.group("evalbot: internal error"), commands.untrusted():
            commands.log(traceback.format_exc())
        commands.error(internal_error_line(exc), title=settings.check_name)
        error, code = exc, EXIT_ERROR
    result = _error_result(error, settings=settings, head=event.head_sha, started=started)
    try:
        reporter.write_outputs(
            result, settings.out_dir, check_name=settings.check_name, root=settings.workspace
        )
    except Exception as exc:  # the check matters more than the files
        commands.warning(f"could not write {settings.out_dir}: {internal_error_line(exc)}")
    return result, code


def run(
    settings: ActionSettings,
    *,
    event: EventContext,
    env: Mapping[str, str],
    diff: DiffFn,
    publisher: GitHubPublisher | None,
    reporter: Reporter,
    commands: WorkflowCommands,
) -> int:
    """Evaluate, publish, summarise; the contract's exit code (0 pass/neutral, 1 fail, 2 config
    error, 3 evaluation error). An error is reported as a failing check too: a required check
    always gets an answer."""
    result, code = _outcome(
        settings, event=event, env=env, diff=diff, reporter=reporter, commands=commands
    )
    result = Scrubber.from_env(env).model(result)  # also what annotations are made of
    render_terminal = getattr(reporter, "render_terminal", None)
    if callable(render_terminal):
        with commands.group(f"evalbot: {result.verdict}"), commands.untrusted():
            commands.log(render_terminal(result))
    comment: str | None = None
    if event.head_sha is not None:
        target = PublishTarget(
            head_sha=event.head_sha, pr_number=event.pr_number, details_url=settings.run_url
        )
        try:
            with commands.group("evalbot: publish"):
                report = publish_result(
                    result,
                    settings=settings,
                    target=target,
                    publisher=publisher,
                    reporter=reporter,
                    commands=commands,
                )
                commands.log(f"comment: {report.comment}; check: {report.check}")
                comment = report.body
        except PublishError as exc:
            annotate_error(commands, exc, title=settings.check_name)
            # A failed gate keeps its 1 when only the comment failed; a missing check is an
            # error whatever the gate said (the required check would wait forever: re-run).
            code = exc.exit_code if isinstance(exc, CheckMissing) else (code or exc.exit_code)
    try:
        finish_step(
            result, settings=settings, reporter=reporter, commands=commands, comment=comment
        )
    except OSError as exc:
        commands.warning(f"could not write the job summary or outputs: {exc}")
    commands.log(f"evalbot: {result.verdict} (exit {code})")
    return code


def main(
    env: Mapping[str, str],
    *,
    diff: DiffFn | None = None,
    github_factory: GithubFactory | None = None,
    reporter: Reporter | None = None,
    stdout: TextIO | None = None,
    retry_sleep: Callable[[float], None] | None = None,
) -> int:
    """The container entrypoint (``evalbot action``). Secrets are masked before anything else is
    printed. On ``workflow_run`` it publishes saved results instead (see
    ``evalbot.github.publish``).
    ``retry_sleep`` waits between retries of GitHub writes (default ``time.sleep``)."""
    stream = stdout or sys.stdout
    commands = WorkflowCommands(stream)
    for value in secret_values(env):
        commands.mask(value)
    # From here on every line of the log, file and post goes through the scrubber: the mask
    # covers the exact values in the log only.
    scrubber = Scrubber.from_env(env)
    commands.stream = ScrubbingStream(stream, scrubber)
    reporter = ScrubbingReporter(reporter or default_reporter(), scrubber)
    github_factory = github_factory or make_github
    try:
        settings = ActionSettings.from_environ(env)
        event = load_event(env)
    except EvalbotError as exc:
        annotate_error(commands, exc, title="evalbot")
        return exc.exit_code
    idle = idle_reason(event)
    if idle is not None:
        commands.notice(idle, title=settings.check_name)
        return EXIT_OK
    if event.event_name == "workflow_run":
        return run_publish(
            settings.out_dir,
            env=env,
            commands=commands,
            github_factory=github_factory,
            reporter=reporter,
            retry_sleep=retry_sleep,
        )
    if diff is None:
        from evalbot.pipeline.diff import run_diff
        from evalbot.report.progress import Progress

        # The plan and a plain progress line every 10 % / 15 s, in the log (through the
        # scrubber); the lines carry only figures and suite names passed through escape.plain.
        progress = Progress(stream=commands.stream, live=False)
        diff = functools.partial(run_diff, progress=progress)
    publisher = make_publisher(
        settings, event.repository, github_factory=github_factory, sleep=retry_sleep
    )
    already = _already_answered(event, settings, publisher, commands)
    if already is not None:
        commands.notice(already, title=settings.check_name)
        return EXIT_OK
    return run(
        settings,
        event=event,
        env=env,
        diff=diff,
        publisher=publisher,
        reporter=reporter,
        commands=commands,
    )

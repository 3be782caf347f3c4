"""Publishing a ``RunResult`` to GitHub (sticky comment, check run or status, annotations, job
summary, step outputs) and ``evalbot publish``, the privileged half of the fork-safe pair.

``evalbot publish`` reads ``results.json`` (and its outputs file, for the flipped examples' outputs)
from an artifact that an unprivileged workflow run uploaded: it is untrusted data. Both are
size-capped and schema-validated (``evalbot.report.results_io``), its head SHA must equal the
one GitHub reports for the run, the comment is re-rendered from the validated record (the
artifact's ``comment.md`` is never read), and a fork's "pass" is reported as "neutral" because a
fork controls the workflow that produced it.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TextIO

from evalbot.errors import (
    CheckMissing,
    EvalbotError,
    InputError,
    PublishError,
    UserError,
    exit_code_for,
    exit_code_for_verdict,
)
from evalbot.github.client import GithubFactory, GitHubPublisher, PermissionDenied, make_github
from evalbot.github.event import (
    PR_EVENTS,
    EventContext,
    WorkflowCommands,
    append_summary,
    load_event,
    write_outputs,
)
from evalbot.github.retry import RetryPolicy
from evalbot.github.settings import ActionSettings, secret_values
from evalbot.records import GateStatus, RunResult, SuiteStatus
from evalbot.report.headline import regressed_rows

__all__ = [
    "CHECK_CONCLUSIONS",
    "STATUS_STATES",
    "PublishReport",
    "PublishTarget",
    "Reporter",
    "annotate_error",
    "annotations_for",
    "artifact_headline",
    "default_reporter",
    "finish_step",
    "headline",
    "load_results",
    "make_publisher",
    "publish_command",
    "publish_result",
    "run_publish",
    "with_outputs",
]

COMMENT_LIMIT = 65_536
CHECK_SUMMARY_LIMIT = 65_535
STATUS_DESCRIPTION_LIMIT = 140
MAX_ANNOTATIONS = 200

CHECK_CONCLUSIONS = {"pass": "success", "fail": "failure", "neutral": "neutral", "error": "failure"}
STATUS_STATES = {"pass": "success", "fail": "failure", "neutral": "success", "error": "error"}
"""Statuses have no neutral; GitHub counts a neutral check run as passing a required check, so
neutral is posted as success with a description that says it was not evaluated."""


class Reporter(Protocol):
    """What publishing needs of ``evalbot.report`` (injected so tests can stand in for it)."""

    def render_comment(
        self,
        result: RunResult,
        *,
        check_name: str,
        details_url: str | None = None,
        max_chars: int = COMMENT_LIMIT,
    ) -> str: ...

    def render_summary(self, result: RunResult, *, check_name: str) -> str: ...

    def check_title_and_summary(self, result: RunResult) -> tuple[str, str]: ...

    def short_description(self, result: RunResult) -> str: ...

    def write_outputs(
        self, result: RunResult, out_dir: Path, *, check_name: str, root: Path | None = None
    ) -> None: ...


def default_reporter() -> Reporter:
    import evalbot.report

    return evalbot.report  # type: ignore[return-value]


@dataclass(frozen=True)
class PublishTarget:
    head_sha: str
    """Where the check goes: the PR head commit (never the merge commit)."""
    pr_number: int | None
    details_url: str | None = None


@dataclass
class PublishReport:
    comment: str = "skipped"
    """created, updated, unchanged, not-created, denied, failed or skipped."""
    check: str = "skipped"
    warnings: list[str] = field(default_factory=list)
    body: str | None = None
    """The comment as rendered for posting (also the ``comment`` output)."""


Sleep = Callable[[float], None]


def make_publisher(
    settings: ActionSettings,
    repository: str,
    *,
    github_factory: GithubFactory,
    sleep: Sleep | None = None,
) -> GitHubPublisher | None:
    """The publisher for ``repository``, or None without a token. ``sleep`` is what waits
    between retries of a write (tests pass a recorder, so a 60 s backoff takes no time)."""
    if not settings.token:
        return None
    gh = github_factory(settings.token, settings.api_url)
    policy = RetryPolicy(budget_s=settings.github_retry_budget_s, sleep=sleep or time.sleep)
    return GitHubPublisher(gh, repository, bot_login=settings.bot_login, retry=policy)


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split()) if limit <= STATUS_DESCRIPTION_LIMIT else text
    return text if len(text) <= limit else text[: limit - 1] + "…"


def headline(result: RunResult, reporter: Reporter) -> str:
    """One line, ≤ 140 characters: check title and status description."""
    if result.verdict == "neutral" and result.summary:
        return _clip(result.summary, STATUS_DESCRIPTION_LIMIT)
    return _clip(reporter.short_description(result), STATUS_DESCRIPTION_LIMIT)


_ARTIFACT_VERDICTS = {
    "pass": "Passed",
    "fail": "Failed",
    "error": "Evaluation error",
    "neutral": "Not evaluated",
}


def artifact_headline(result: RunResult, *, fork: bool) -> str:
    """The check title for results read from an artifact: built from counts and the verdict
    only. The artifact's free text (summary, notes, names) is whatever its workflow run wrote,
    which a fork controls, so none of it becomes a title."""
    regressions = len(regressed_rows(result))  # one meaning: rows whose verdict is regressed
    crossed = sum(1 for s in result.suites for a in s.absolute if not a.passed)
    evaluated = sum(1 for s in result.suites if s.status != SuiteStatus.SKIPPED)
    parts = [f"{evaluated} suite(s) evaluated"]
    if regressions:
        parts.append(f"{regressions} regression(s)")
    if crossed:
        parts.append(f"{crossed} threshold(s) crossed")
    text = f"{_ARTIFACT_VERDICTS[result.verdict]}: {', '.join(parts)}"
    if fork:
        text = f"Unverified (fork's workflow run). {text}"
    return _clip(text, STATUS_DESCRIPTION_LIMIT)


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.4g}"


def annotations_for(result: RunResult, *, check_name: str) -> list[dict[str, Any]]:
    """Check-run annotations on the changed files that triggered each failing suite."""
    changed = set(result.changed_files)
    out: list[dict[str, Any]] = []
    for suite in result.suites:
        failing = [c for c in suite.comparisons if c.gate in (GateStatus.FAIL, GateStatus.WARN)]
        crossed = [a for a in suite.absolute if not a.passed]
        if suite.status == SuiteStatus.SKIPPED or not (failing or crossed):
            continue
        lines = [
            f"{c.metric}: {_fmt(c.base_mean)} → {_fmt(c.head_mean)} (Δ {_fmt(c.delta)}, "
            f"p={_fmt(c.p_adjusted if c.p_adjusted is not None else c.p_value)}) {c.verdict}"
            for c in failing
        ]
        lines += [f"{a.metric}: {_fmt(a.value)} (needs {a.bound} {_fmt(a.limit)})" for a in crossed]
        blocking = any(c.gate == GateStatus.FAIL for c in failing) or bool(crossed)
        what = "regressed" if blocking else "inconclusive"
        paths = [t for t in suite.triggers if t in changed]
        prompt = suite.head.prompt_path if suite.head else None
        paths.sort(key=lambda p: p != prompt)  # the prompt file first
        for path in paths:
            out.append(
                {
                    "path": path,
                    "start_line": 1,
                    "end_line": 1,
                    "annotation_level": "failure" if blocking else "warning",
                    "title": _clip(f"{check_name}: {suite.name} {what}", 255),
                    "message": _clip("\n".join(lines), 4000),
                }
            )
    return out[:MAX_ANNOTATIONS]


def _has_news(result: RunResult) -> bool:
    """Worth a new comment under ``comment: on-change``: something ran, or it is not a pass."""
    return result.verdict != "pass" or any(s.status != SuiteStatus.SKIPPED for s in result.suites)


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _comment_body(result: RunResult, settings: ActionSettings, reporter: Reporter, url: str | None):
    marker = f"<!-- evalbot:{settings.check_name} -->"
    body = reporter.render_comment(
        result, check_name=settings.check_name, details_url=url, max_chars=COMMENT_LIMIT
    )
    if body.split("\n", 1)[0].strip() != marker:
        raise PublishError(f"the rendered comment does not start with {marker}")
    if _utf16_len(body) >= COMMENT_LIMIT:  # render_comment trims; never send a 422 to GitHub
        where = f" ([workflow run]({url}))" if url else ""
        body = f"{marker}\n**{settings.check_name}: {result.verdict}.** The report was too long "
        body += f"for a comment: see the job summary and the results artifact{where}.\n"
    return marker, body


def publish_result(
    result: RunResult,
    *,
    settings: ActionSettings,
    target: PublishTarget,
    publisher: GitHubPublisher | None,
    reporter: Reporter,
    commands: WorkflowCommands,
    title: str | None = None,
) -> PublishReport:
    """Post the sticky comment and the check. A 401/403 becomes a warning; any other API
    failure is raised as ``PublishError`` after both have been attempted (``CheckMissing``
    first, when the check could not be written). ``title`` replaces the headline built from
    the result (``evalbot publish`` passes ``artifact_headline``)."""
    report = PublishReport()
    annotations = annotations_for(result, check_name=settings.check_name)
    check_annotated = False
    failures: list[PublishError] = []

    def denied(what: str, exc: PermissionDenied) -> None:
        text = (
            f"{what} was not posted: the token may not write ({exc}). Fork PRs get a read-only "
            "GITHUB_TOKEN: use the fork-safe workflow pair (docs/action.md#forks); otherwise "
            "grant 'pull-requests: write' and 'checks: write' / 'statuses: write'."
        )
        report.warnings.append(text)
        commands.warning(text, title=settings.check_name)

    if publisher is None:
        text = "no github-token: nothing was posted to GitHub (job summary and outputs only)"
        report.warnings.append(text)
        commands.warning(text, title=settings.check_name)
    if publisher is not None and target.pr_number is not None and settings.comment != "never":
        marker, body = _comment_body(result, settings, reporter, target.details_url)
        report.body = body
        try:
            report.comment = publisher.upsert_comment(
                target.pr_number,
                body,
                marker=marker,
                skip_unchanged=settings.comment == "on-change",
                create=settings.comment == "always" or _has_news(result),
            )
        except PermissionDenied as exc:
            report.comment = "denied"
            denied("The PR comment", exc)
        except PublishError as exc:
            report.comment = "failed"
            failures.append(exc)
    if publisher is not None and settings.check != "none":
        title = title or headline(result, reporter)
        try:
            if settings.check == "check-run":
                _, summary = reporter.check_title_and_summary(result)
                publisher.create_check_run(
                    name=settings.check_name,
                    head_sha=target.head_sha,
                    conclusion=CHECK_CONCLUSIONS[result.verdict],
                    title=title,
                    summary=_clip(summary, CHECK_SUMMARY_LIMIT),
                    annotations=annotations,
                    details_url=target.details_url,
                )
                check_annotated = True
            else:
                publisher.create_status(
                    sha=target.head_sha,
                    state=STATUS_STATES[result.verdict],
                    description=title,
                    context=settings.check_name,
                    target_url=target.details_url,
                )
            report.check = settings.check
        except PermissionDenied as exc:
            report.check = "denied"
            denied(f"The {settings.check}", exc)
        except PublishError as exc:
            report.check = "failed"
            kind = "check run" if settings.check == "check-run" else "commit status"
            missing = CheckMissing(
                f"the {kind} {settings.check_name!r} is missing on {target.head_sha[:12]}, so a "
                f"required check would stay pending: {exc.message}",
                hint=exc.hint or "re-run the job",
            )
            failures.insert(0, missing)
    if not check_annotated:  # workflow-command annotations need no permission at all
        # GitHub shows only the first few per level and step: keep room for the errors below.
        room = max(commands.MAX_ANNOTATIONS - 2, 0)
        shown: dict[str, int] = {}
        for a in annotations:
            level = "error" if a["annotation_level"] == "failure" else "warning"
            shown[level] = shown.get(level, 0) + 1
            if shown[level] <= room:
                commands.annotate(level, a["message"], file=a["path"], line=1, title=a["title"])
        hidden = sum(max(n - room, 0) for n in shown.values())
        if hidden:
            commands.log(f"{hidden} more file annotation(s): see the job summary")
    for failure in failures[1:]:
        commands.error(str(failure), title=settings.check_name)
    if failures:
        raise failures[0]
    return report


def finish_step(
    result: RunResult,
    *,
    settings: ActionSettings,
    reporter: Reporter,
    commands: WorkflowCommands,
    comment: str | None = None,
) -> None:
    """Job summary and step outputs (verdict, regressions, results, comment, cost-usd)."""
    if settings.summary_path is not None:
        summary = reporter.render_summary(result, check_name=settings.check_name)
        if not append_summary(settings.summary_path, summary):
            commands.warning("The job summary was cut to 1 MiB: the full report is results.json")
    if settings.output_path is None:
        return
    regressions = len(regressed_rows(result))
    try:
        results = str(settings.out_dir.relative_to(settings.workspace))
    except ValueError:
        results = str(settings.out_dir)
    # Spent this run (calls sent), not the cost of the evaluated calls (cache hits included):
    # an offline run that sent nothing spent $0. results.json has both.
    cost = result.usage.spent_usd + result.judge_usage.spent_usd
    if comment is None:
        comment = reporter.render_comment(result, check_name=settings.check_name)
    write_outputs(
        settings.output_path,
        {
            "verdict": result.verdict,
            "regressions": str(regressions),
            "results": results,
            "cost-usd": f"{cost:.4f}",
            "comment": comment,
        },
    )


def load_results(results_dir: Path) -> RunResult:
    """Read ``results.json`` from an artifact: capped in size, validated against the schema."""
    from evalbot.report import results_io

    return results_io.load_results(results_dir)


def with_outputs(result: RunResult, results_dir: Path, commands: WorkflowCommands) -> RunResult:
    """The flipped examples' outputs, read from the artifact's outputs file for the comment.

    The verdict comes from results.json alone. An outputs file that is missing, too large (a
    compression bomb), corrupt or not the one results.json names is said in the comment and
    on one error line, and a pass (or neutral) becomes an error: an artifact evalbot cannot
    vouch for never passes the check.
    """
    from evalbot.report import results_io

    try:
        return results_io.with_flipped_outputs(result, results_dir)
    except results_io.OutputsProblem as exc:
        line = f"the results artifact's outputs file cannot be used: {exc.render()}"
        commands.error(line, title="evalbot publish")
        note = (
            f"⚠️ The per-example outputs file ({results_io.OUTPUTS_NAME}) of these results "
            f"could not be read ({exc.message}): flipped examples are listed without outputs, "
            "and the check cannot pass."
        )
        verdict = "error" if result.verdict in ("pass", "neutral") else result.verdict
        return result.model_copy(
            update={"verdict": verdict, "notes": [*result.notes, note]},
        )


def _vouch(result: RunResult, event: EventContext, commands: WorkflowCommands) -> RunResult:
    """Check the artifact against what GitHub says, and cap what a fork's run can claim."""
    if event.head_sha is None:
        raise UserError(f"the {event.event_name} event names no head commit")
    if result.head_sha is None:
        commands.warning("results.json names no head commit; publishing for the event's commit")
    elif result.head_sha != event.head_sha:
        raise InputError(
            f"results.json is for commit {result.head_sha[:12]}, but the workflow run was for "
            f"{event.head_sha[:12]}: refusing to publish",
            hint="upload the results of this run, not an older one",
        )
    if event.is_fork and result.verdict == "pass":
        note = (
            "Unverified: these results come from an unprivileged workflow run of a fork, which "
            "the fork controls, so a pass is reported as neutral."
        )
        result = result.model_copy(
            update={"verdict": "neutral", "summary": note, "notes": [*result.notes, note]}
        )
    return result


def _refuse_shared_commit(publisher: GitHubPublisher, event: EventContext, head_sha: str) -> None:
    """A check run or status belongs to a commit, not to a PR: posting a fork's result on a
    commit that a PR of this repository also has would show on that PR too (a fork can push
    any commit of this repository to its branch)."""
    if not event.is_fork:
        return
    shared = publisher.same_repository_pulls(head_sha)
    if shared:
        raise InputError(
            f"commit {head_sha[:12]} is also the head of pull request #{shared[0]} of "
            f"{event.repository}: refusing to post the results of a fork's run on it",
            hint="that pull request gets its own evaluation; push a new commit to the fork",
        )


def annotate_error(commands: WorkflowCommands, exc: EvalbotError, *, title: str) -> None:
    """``::error file=…,line=…::message (fix: …)`` for an error evalbot raised on purpose."""
    text = exc.message + (f" (fix: {exc.hint})" if exc.hint else "")
    commands.error(text, file=exc.file, line=exc.line, title=title)


def publish_command(
    results_dir: Path,
    *,
    env: Mapping[str, str],
    stdout: TextIO | None = None,
    github_factory: GithubFactory | None = None,
    reporter: Reporter | None = None,
    retry_sleep: Sleep | None = None,
) -> int:
    """``evalbot publish --results DIR``: post the comment and check from saved results.

    Meant for a ``workflow_run`` workflow (also works in a later job of a ``pull_request`` one).
    Returns the contract's exit code: the verdict's (0/1/3), 2 for a bad artifact or settings.
    """
    commands = WorkflowCommands(stdout or sys.stdout)
    for value in secret_values(env):
        commands.mask(value)
    return run_publish(
        Path(results_dir),
        env=env,
        commands=commands,
        github_factory=github_factory or make_github,
        reporter=reporter or default_reporter(),
        retry_sleep=retry_sleep,
    )


def run_publish(
    results_dir: Path,
    *,
    env: Mapping[str, str],
    commands: WorkflowCommands,
    github_factory: GithubFactory,
    reporter: Reporter,
    retry_sleep: Sleep | None = None,
) -> int:
    """``publish_command`` once the secrets are masked (``evalbot action`` on workflow_run)."""
    try:
        settings = ActionSettings.from_environ(env)
        event = load_event(env)
        result = _vouch(load_results(results_dir), event, commands)
        result = with_outputs(result, results_dir, commands)
        head_sha = event.head_sha
        assert head_sha is not None  # _vouch checked it
        publisher = make_publisher(
            settings, event.repository, github_factory=github_factory, sleep=retry_sleep
        )
        pr_number, details_url = event.pr_number, settings.run_url
        if event.event_name == "workflow_run":
            details_url = event.workflow_run_url or details_url
            pr_number = None
            if publisher is not None and event.workflow_run_event in PR_EVENTS:
                _refuse_shared_commit(publisher, event, head_sha)
                pull = publisher.find_open_pull(
                    head_sha,
                    numbers=event.workflow_run_pr_numbers,
                    head_repository=event.head_repository,
                    head_branch=event.head_ref,
                )
                if pull is None:
                    commands.warning(
                        f"no open pull request from {event.head_repository or 'a deleted fork'}"
                        f" has head {head_sha[:12]} any more: posting the check only"
                    )
                pr_number = pull.number if pull is not None else None
        target = PublishTarget(head_sha=head_sha, pr_number=pr_number, details_url=details_url)
        with commands.group("Publish to GitHub"):
            report = publish_result(
                result,
                settings=settings,
                target=target,
                publisher=publisher,
                reporter=reporter,
                commands=commands,
                title=artifact_headline(result, fork=event.is_fork),
            )
            commands.log(f"comment: {report.comment}; check: {report.check}")
        finish_step(
            result, settings=settings, reporter=reporter, commands=commands, comment=report.body
        )
        return exit_code_for_verdict(result.verdict)
    except EvalbotError as exc:
        annotate_error(commands, exc, title="evalbot publish")
        return exit_code_for(exc)

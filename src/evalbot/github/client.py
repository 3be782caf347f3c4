"""The GitHub REST calls evalbot makes, through PyGithub: sticky comment, check run, status, PRs.

Every PyGithub or transport failure leaves this module as a ``PublishError``; a 401/403 (the
read-only ``GITHUB_TOKEN`` of fork PRs, a missing ``permissions:`` entry) is a
``PermissionDenied`` so the caller can downgrade it to a warning. A 403 or 429 that is a rate
limit is not a permission problem: it is retried (``evalbot.github.retry``) and, past the budget,
a ``PublishError``.

Each write is retried as one unit that first looks for what a previous attempt may have created
(the sticky comment by marker and author, the check run by the ``external_id`` this publisher
gave it, a status by context and state, annotations by the check run's count), so a POST whose
response was lost is never sent twice.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import requests
from github import Auth, Github, GithubException, GithubRetry
from github.CheckRun import CheckRun
from github.IssueComment import IssueComment
from github.PullRequest import PullRequest

from evalbot.errors import PublishError
from evalbot.github.retry import RetriesExhausted, RetryPolicy, classify

__all__ = [
    "ANNOTATIONS_PER_REQUEST",
    "DEFAULT_BOT_LOGIN",
    "GitHubPublisher",
    "GithubFactory",
    "PermissionDenied",
    "make_github",
]

ANNOTATIONS_PER_REQUEST = 50
DEFAULT_BOT_LOGIN = "github-actions[bot]"
"""Who ``GITHUB_TOKEN`` comments as; ``GET /user`` answers 403 for installation tokens."""

T = TypeVar("T")

GithubFactory = Callable[[str, str], Github]
"""``(token, api_url) -> Github``; tests pass one without throttling or retries."""


class PermissionDenied(PublishError):
    """The token may not do this (401/403): a warning for the caller, not a failed run."""


def make_github(token: str, api_url: str, *, throttle: bool = True, retry: bool = True) -> Github:
    """A client for ``api_url`` (``GITHUB_API_URL``: github.com or ``https://HOST/api/v3``).

    PyGithub's ``GithubRetry`` retries reads on 5xx and rate-limit 403s, sleeping until the
    reset (at most 5 minutes, then it fails). Writes are not retried at this level: a POST that
    timed out may have created the comment or check run, so ``GitHubPublisher`` retries each
    write as look-up-then-write instead (``evalbot.github.retry``).
    """
    policy = GithubRetry(
        total=4,
        secondary_rate_wait=60,
        max_rate_limit_wait=300,
        allowed_methods=frozenset({"GET", "HEAD", "OPTIONS"}),
    )
    return Github(
        auth=Auth.Token(token),
        base_url=api_url,
        per_page=100,
        timeout=30,
        retry=policy if retry else None,
        seconds_between_requests=0.25 if throttle else 0,
        seconds_between_writes=1.0 if throttle else 0,
        lazy=True,
        user_agent="evalbot",
    )


def _message(exc: GithubException) -> str:
    data = exc.data if isinstance(exc.data, dict) else {}
    text = str(data.get("message") or exc.message or exc)
    errors = data.get("errors")
    if isinstance(errors, list) and errors:
        first = errors[0]
        detail = first.get("message") if isinstance(first, dict) else str(first)
        if detail:
            text += f" ({detail})"
    return text


def _describe(exc: BaseException) -> str:
    if isinstance(exc, GithubException):
        return f"HTTP {exc.status}: {_message(exc)}"
    return f"{type(exc).__name__}: {exc}"


@contextmanager
def _translated(action: str) -> Iterator[None]:
    try:
        yield
    except RetriesExhausted as exc:
        raise PublishError(
            f"{action}: {_describe(exc.last)}, still after {exc.waited_s:.0f} s of retries",
            hint=f"the retry budget is {exc.budget_s:.0f} s (EVALBOT_GITHUB_RETRY_BUDGET); "
            "re-run the job",
        ) from exc.last
    except GithubException as exc:
        text = f"{action}: HTTP {exc.status}: {_message(exc)}"
        if exc.status in (401, 403) and classify(exc) is None:  # a rate limit is no refusal
            raise PermissionDenied(text) from exc
        raise PublishError(text) from exc
    except requests.RequestException as exc:
        raise PublishError(f"{action}: {type(exc).__name__}: {exc}") from exc


@contextmanager
def _quiet_pygithub() -> Iterator[None]:
    """Mute PyGithub's log for one call whose failure is expected: ``GET /user`` answers 403
    to every ``GITHUB_TOKEN``, and its "Request GET /user failed with 403" line in the job log
    reads like a problem when it is the normal case."""
    logger = logging.getLogger("github")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def _is_author(user: Any, login: str) -> bool:
    """Whether ``user`` (a comment's author) is the account ``login`` names.

    REST names Actions' bot ``github-actions[bot]`` and GraphQL ``github-actions``, so the
    ``[bot]`` suffix alone does not tell identities apart; the account type does. A bot login
    matches only a ``Bot`` author of the same name, a user login only that exact user: a person
    who registered ``evalbot-app`` is not the ``evalbot-app[bot]`` App.
    """
    if user is None or not user.login:
        return False
    ours_is_bot = login.lower().endswith("[bot]")
    theirs_is_bot = user.type == "Bot" or user.login.lower().endswith("[bot]")
    if ours_is_bot != theirs_is_bot:
        return False
    return user.login.lower().removesuffix("[bot]") == login.lower().removesuffix("[bot]")


def _normalised(body: str) -> str:
    return "\n".join(line.rstrip() for line in body.replace("\r\n", "\n").split("\n")).strip()


class GitHubPublisher:
    """The write side of evalbot on one repository."""

    def __init__(
        self,
        gh: Github,
        repository: str,
        *,
        bot_login: str | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.gh = gh
        self.repository = repository
        self.repo = gh.get_repo(repository)
        self._login = bot_login
        self.retry = retry or RetryPolicy()

    def _write(self, action: str, attempt: Callable[[int], T]) -> T:
        with _translated(action):
            return self.retry.call(attempt)

    def viewer_login(self) -> str:
        """The token's own login: ``GET /user`` for PATs, else the override or Actions' bot.

        ``GET /user`` answers 403 to installation tokens (``GITHUB_TOKEN``) and 404 on some GitHub
        Enterprise setups: any answer that is not a rate limit or a server error means "not a
        user token", so the Actions bot it is. Those two are raised for the caller to retry.
        """
        if self._login is None:
            try:
                with _quiet_pygithub():
                    self._login = self.gh.get_user().login
            except GithubException as exc:
                if classify(exc) is not None:
                    raise
                self._login = DEFAULT_BOT_LOGIN
        return self._login

    def find_sticky(self, pr_number: int, marker: str) -> IssueComment | None:
        """Our comment: first line is ``marker`` *and* the author is the token's own account.

        Someone quoting the marker (or a model output forging it) never matches on author.
        Reads every page (100 per page), oldest first; the first match wins. Errors are raised
        untranslated (the caller retries or translates them).
        """
        login = self.viewer_login()
        for comment in self.repo.get_issue(pr_number).get_comments():
            body = comment.body or ""
            if body.split("\n", 1)[0].strip() != marker:
                continue
            if _is_author(comment.user, login):
                return comment
        return None

    def upsert_comment(
        self, pr_number: int, body: str, *, marker: str, skip_unchanged: bool, create: bool = True
    ) -> str:
        """Edit our sticky comment in place, or create it. Returns what happened:
        ``updated``, ``unchanged`` (same body and ``skip_unchanged``), ``created`` or
        ``not-created`` (no comment yet and ``create`` is False).

        A failed write (rate limit, 5xx, lost response) is retried from the look-up, never by
        re-sending the POST, so a comment that was created despite the error is found and not
        duplicated; an edit that was applied is found "unchanged" or edited again (idempotent).
        """

        tried: list[str] = []  # the write a failed attempt sent: it may have been applied

        def attempt(n: int) -> str:
            existing = self.find_sticky(pr_number, marker)
            if existing is not None:
                same = _normalised(existing.body or "") == _normalised(body)
                if same and tried:
                    return tried[-1]  # the lost write went through
                if same and skip_unchanged:
                    return "unchanged"
                tried.append("updated")
                existing.edit(body)
                return "updated"
            if not create:
                return "not-created"
            tried.append("created")
            self.repo.get_issue(pr_number).create_comment(body)
            return "created"

        return self._write(f"comment on #{pr_number}", attempt)

    def create_check_run(
        self,
        *,
        name: str,
        head_sha: str,
        conclusion: str,
        title: str,
        summary: str,
        annotations: list[dict[str, Any]],
        details_url: str | None,
    ) -> int:
        """A completed check run; annotations go 50 per request (create, then edits append).

        The run carries an ``external_id`` unique to this call: when the POST's response is
        lost, the retry finds the run it created (by name and that id) instead of creating a
        second one. Appending annotations is not idempotent either, so before re-sending a
        batch the run's ``annotations_count`` says whether the lost one was applied.
        """
        batches = [
            annotations[i : i + ANNOTATIONS_PER_REQUEST]
            for i in range(0, len(annotations), ANNOTATIONS_PER_REQUEST)
        ] or [[]]
        extra: dict[str, Any] = {"details_url": details_url} if details_url else {}
        external_id = f"evalbot:{uuid.uuid4().hex}"

        def create(n: int) -> CheckRun:
            found = self._find_check_run(name, head_sha, external_id) if n else None
            if found is not None:
                return found
            return self.repo.create_check_run(
                name=name,
                head_sha=head_sha,
                external_id=external_id,
                status="completed",
                conclusion=conclusion,
                output={"title": title, "summary": summary, "annotations": batches[0]},
                **extra,
            )

        run = self._write(f"create check run {name!r}", create)
        sent = len(batches[0])
        for batch in batches[1:]:

            def append(n: int, batch: list[dict[str, Any]] = batch, before: int = sent) -> None:
                if n and self._annotations_count(run.id) >= before + len(batch):
                    return  # the lost PATCH was applied
                run.edit(output={"title": title, "summary": summary, "annotations": batch})

            self._write(f"add annotations to check run {run.id}", append)
            sent += len(batch)
        return run.id

    def _find_check_run(self, name: str, head_sha: str, external_id: str) -> CheckRun | None:
        runs = self.repo.get_commit(head_sha).get_check_runs(check_name=name, filter="all")
        return next((r for r in runs if r.external_id == external_id), None)

    def _annotations_count(self, run_id: int) -> int:
        return self.repo.get_check_run(run_id).output.annotations_count or 0

    def create_status(
        self, *, sha: str, state: str, description: str, context: str, target_url: str | None
    ) -> None:
        """A commit status; a retry first reads the newest status of ``context`` and stops if
        the lost POST already set it."""
        extra: dict[str, Any] = {"target_url": target_url} if target_url else {}

        def attempt(n: int) -> None:
            commit = self.repo.get_commit(sha)
            if n:
                latest = next((st for st in commit.get_statuses() if st.context == context), None)
                if latest is not None and (latest.state, latest.description) == (
                    state,
                    description,
                ):
                    return
            commit.create_status(state=state, description=description, context=context, **extra)

        self._write(f"set commit status {context!r}", attempt)

    def get_pull(self, number: int) -> PullRequest:
        with _translated(f"get pull request #{number}"):
            pull = self.repo.get_pull(number)
            _ = pull.head.sha  # lazy object: fetch now, inside the translation
        return pull

    def find_open_pull(
        self,
        head_sha: str,
        *,
        numbers: tuple[int, ...],
        head_repository: str | None,
        head_branch: str | None,
    ) -> PullRequest | None:
        """The open PR of a ``workflow_run``: its head must be exactly the run's head repository,
        branch *and* commit (another PR, say a fork's, may point at the same commit). Looked up
        by number when the event lists it, else by ``GET /pulls?head=owner:branch`` (fork PRs
        are missing from ``workflow_run.pull_requests``)."""
        if not (head_repository and head_branch):
            return None  # a deleted fork: nothing to match exactly, so nothing to post on

        def matches(pull: PullRequest) -> bool:
            repo = pull.head.repo
            return (
                pull.state == "open"
                and pull.head.sha == head_sha
                and pull.head.ref == head_branch
                and repo is not None
                and repo.full_name.lower() == head_repository.lower()
            )

        for number in numbers:
            pull = self.get_pull(number)
            if matches(pull):
                return pull
        label = f"{head_repository.split('/')[0]}:{head_branch}"
        with _translated(f"list pull requests of {label}"):
            for pull in self.repo.get_pulls(state="open", head=label):
                if matches(pull):
                    return pull
        return None

    def has_result(self, head_sha: str, *, name: str, mode: str) -> bool:
        """Whether ``head_sha`` already carries a result of ours: a completed check run named
        ``name`` (``mode`` ``check-run``) or a commit status with that context (``status``).
        With ``mode`` ``none`` nothing is published, so nothing can be found: False."""
        if mode == "check-run":
            with _translated(f"list check runs of {head_sha[:12]}"):
                runs = self.repo.get_commit(head_sha).get_check_runs(
                    check_name=name, status="completed"
                )
                return runs.totalCount > 0
        if mode == "status":
            with _translated(f"list statuses of {head_sha[:12]}"):
                return any(
                    st.context == name and st.state != "pending"
                    for st in self.repo.get_commit(head_sha).get_statuses()
                )
        return False

    def same_repository_pulls(self, head_sha: str) -> list[int]:
        """Open PRs whose head branch is in this repository and at ``head_sha``."""
        found: list[int] = []
        with _translated(f"list pull requests of commit {head_sha[:12]}"):
            for pull in self.repo.get_commit(head_sha).get_pulls():
                repo = pull.head.repo
                same = repo is not None and repo.full_name.lower() == self.repository.lower()
                if same and pull.state == "open" and pull.head.sha == head_sha:
                    found.append(pull.number)
        return found

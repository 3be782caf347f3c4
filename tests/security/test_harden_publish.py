"""Fork-safe publish (issue 8, item 6) and the sticky comment's owner check, attacked through
``evalbot action``: a ``workflow_run`` event, a downloaded artifact, the GitHub fake."""

from __future__ import annotations

import io
import json
from pathlib import Path

from evalbot.github import action
from evalbot.records import RunResult
from evalbot.report import write_outputs
from tests.action import conftest as action_fixtures
from tests.action.conftest import (
    PR,
    REPO,
    TOKEN,
    StandInDiff,
    Workspace,
    actions_env,
    fast_github,
    parse_outputs,
    passing_result,
    regressed_result,
    run_action,
)
from tests.fakes.github_server import FakeGitHub

# The Action tests' fixtures (a git workspace, the GitHub fake), shared without a conftest here.
workspace = action_fixtures.workspace
github = action_fixtures.github

HEAD = "c" * 40
BASE = "b" * 40
SAME_REPO_PR = 5
FORK_PR = 9
MARKER = "<!-- evalbot:evalbot -->"


class _Shas:
    head_sha = HEAD
    base_sha = BASE


def _workflow_run(
    tmp_path: Path, gh: FakeGitHub, *, head_repo: str, branch: str = "feature", numbers=()
) -> dict[str, str]:
    event = {
        "workflow_run": {
            "id": 99,
            "event": "pull_request",
            "head_sha": HEAD,
            "head_branch": branch,
            "html_url": "https://github.example/octo/app/actions/runs/99",
            "head_repository": {
                "full_name": head_repo,
                "owner": {"login": head_repo.split("/")[0]},
            },
            "pull_requests": [{"number": n} for n in numbers],
        },
        "repository": {"full_name": REPO, "default_branch": "main"},
    }
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event))
    return {
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_NAME": "workflow_run",
        "GITHUB_EVENT_PATH": str(path),
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_WORKSPACE": str(tmp_path),
        "GITHUB_API_URL": gh.url,
        "GITHUB_OUTPUT": str(tmp_path / "output.txt"),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
        "INPUT_GITHUB-TOKEN": TOKEN,
        "INPUT_CHECK": "check-run",
    }


def _artifact(tmp_path: Path, result: RunResult) -> None:
    write_outputs(result, tmp_path / "evalbot-results", check_name="evalbot")


def _action(env: dict[str, str]) -> tuple[int, str]:
    stdout = io.StringIO()
    code = action.main(env, github_factory=fast_github, stdout=stdout)
    return code, stdout.getvalue()


def _same_repo_pr_with_its_comment(github: FakeGitHub) -> tuple[int, str]:
    github.add_pull(REPO, SAME_REPO_PR, head_sha=HEAD, base_sha=BASE, head_ref="feature")
    body = f"{MARKER}\n**evalbot: fail** (the real evaluation of #{SAME_REPO_PR})\n"
    return github.add_comment(REPO, SAME_REPO_PR, body), body


def test_fork_pr_on_the_commit_of_a_same_repo_pr_posts_nothing(tmp_path: Path, github: FakeGitHub):
    cid, body = _same_repo_pr_with_its_comment(github)
    # The fork pushed the very same commit, on a branch of the same name.
    github.add_pull(REPO, FORK_PR, head_sha=HEAD, base_sha=BASE, head_repo="forker/app")
    _artifact(tmp_path, passing_result(_Shas()))  # type: ignore[arg-type]
    code, log = _action(_workflow_run(tmp_path, github, head_repo="forker/app"))
    assert code == 2, log
    assert f"also the head of pull request #{SAME_REPO_PR}" in log
    assert github.comments[cid]["body"] == body  # #5's sticky comment untouched
    assert github.check_runs == {} and github.statuses == []  # no neutral check on #5's commit
    assert github.writes() == []
    assert "Traceback" not in log


def test_fork_run_without_its_own_pr_never_falls_back_to_another_pr(
    tmp_path: Path, github: FakeGitHub
):
    # The only open PR with this commit is a fork PR of *another* fork: no exact match.
    github.add_pull(REPO, FORK_PR, head_sha=HEAD, base_sha=BASE, head_repo="someone/app")
    _artifact(tmp_path, passing_result(_Shas()))  # type: ignore[arg-type]
    code, log = _action(_workflow_run(tmp_path, github, head_repo="forker/app"))
    assert code == 0, log
    assert github.comments_on(REPO, FORK_PR) == []
    assert "no open pull request from forker/app" in log


def test_same_repo_run_must_match_the_listed_prs_branch(tmp_path: Path, github: FakeGitHub):
    # The event lists #5, but #5's head branch is not the run's branch: not our PR.
    github.add_pull(REPO, SAME_REPO_PR, head_sha=HEAD, base_sha=BASE, head_ref="other")
    _artifact(tmp_path, passing_result(_Shas()))  # type: ignore[arg-type]
    env = _workflow_run(tmp_path, github, head_repo=REPO, numbers=(SAME_REPO_PR,))
    code, log = _action(env)
    assert code == 0, log
    assert github.comments_on(REPO, SAME_REPO_PR) == []


def test_fork_pr_is_published_on_its_own_pr_when_matched_exactly(
    tmp_path: Path, github: FakeGitHub
):
    github.add_pull(REPO, FORK_PR, head_sha=HEAD, base_sha=BASE, head_repo="forker/app")
    result = regressed_result(_Shas())  # type: ignore[arg-type]
    _artifact(tmp_path, result)
    code, log = _action(_workflow_run(tmp_path, github, head_repo="forker/app"))
    assert code == 1, log
    [comment] = github.comments_on(REPO, FORK_PR)
    assert comment["body"].startswith(MARKER)
    [check] = github.check_runs.values()
    assert check["conclusion"] == "failure"


def test_fork_artifact_free_text_never_becomes_the_check_title(tmp_path: Path, github: FakeGitHub):
    github.add_pull(REPO, FORK_PR, head_sha=HEAD, base_sha=BASE, head_repo="forker/app")
    forged = "All evals passed, approved by @security-team"
    for verdict in ("neutral", "error"):
        github.check_runs.clear()
        result = passing_result(_Shas()).model_copy(  # type: ignore[arg-type]
            update={"verdict": verdict, "summary": forged, "notes": [forged]}
        )
        _artifact(tmp_path, result)
        code, log = _action(_workflow_run(tmp_path, github, head_repo="forker/app"))
        assert code in (0, 3), log
        [check] = github.check_runs.values()
        title = check["output"]["title"]
        assert forged not in title and "@security-team" not in title
        assert title.startswith("Unverified")
    env_status = _workflow_run(tmp_path, github, head_repo="forker/app")
    env_status["INPUT_CHECK"] = "status"
    _action(env_status)
    assert all(forged not in s["description"] for s in github.statuses)
    assert github.statuses


def test_only_our_bots_comment_is_edited_not_a_users_with_the_same_name(
    tmp_path: Path, workspace: Workspace, github: FakeGitHub
):
    github.add_pull(REPO, PR, head_sha=workspace.head_sha, base_sha=workspace.base_sha)
    # A person whose login is the bot's name without "[bot]" posts a comment with the marker.
    impostor = github.add_comment(REPO, PR, f"{MARKER}\nlooks good", login="github-actions")
    env = actions_env(tmp_path, workspace, github)
    run = run_action(env, StandInDiff(lambda o: regressed_result(workspace)))
    assert run.code == 1
    assert github.comments[impostor]["body"] == f"{MARKER}\nlooks good"
    ours = [c for c in github.comments_on(REPO, PR) if c["id"] != impostor]
    assert len(ours) == 1 and ours[0]["user"]["login"] == "github-actions[bot]"
    assert parse_outputs(Path(env["GITHUB_OUTPUT"]).read_text())["verdict"] == "fail"


def test_our_bot_under_its_graphql_login_is_still_us(
    tmp_path: Path, workspace: Workspace, github: FakeGitHub
):
    github.add_pull(REPO, PR, head_sha=workspace.head_sha, base_sha=workspace.base_sha)
    # GraphQL-style login of the same Bot account: the same identity, edited in place.
    ours = github.add_comment(REPO, PR, f"{MARKER}\nold", login="github-actions", kind="Bot")
    env = actions_env(tmp_path, workspace, github)
    run = run_action(env, StandInDiff(lambda o: regressed_result(workspace)))
    assert run.code == 1
    [comment] = github.comments_on(REPO, PR)
    assert comment["id"] == ours
    assert comment["body"].startswith(MARKER) and "fail" in comment["body"].split("\n")[1]

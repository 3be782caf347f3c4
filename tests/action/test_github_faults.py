"""GitHub as it really behaves under load, through ``evalbot action``: secondary rate limits,
responses lost after the write was applied, and 502s on every call evalbot makes. Each run must
end with exactly one sticky comment and one check on the head commit, no duplicated
annotations, and waits that follow GitHub's rules (recorded, never slept)."""

from __future__ import annotations

from pathlib import Path

import pytest

from evalbot.github.retry import RetryPolicy
from tests.action.conftest import (
    PR,
    REPO,
    StandInDiff,
    Workspace,
    actions_env,
    run_action,
)
from tests.fakes.github_server import BOT_LOGIN, FakeGitHub
from tests.report.factories import make_comparison, make_suite

MARKER = "<!-- evalbot:evalbot -->"
TRIGGERS = [f"prompts/p{i:02d}.md" for i in range(60)]
"""60 changed prompt files: 60 annotations, so the check run takes a create and a PATCH."""


def _many_annotations(ws: Workspace):
    from tests.report.factories import make_result

    suite = make_suite(comparisons=[make_comparison()], triggers=TRIGGERS, samples=1)
    return make_result(
        suite, base_sha=ws.base_sha, head_sha=ws.head_sha, changed_files=list(TRIGGERS)
    )


@pytest.fixture
def pr(workspace: Workspace, github: FakeGitHub) -> Workspace:
    github.add_pull(REPO, PR, head_sha=workspace.head_sha, base_sha=workspace.base_sha)
    return workspace


def _run(tmp_path: Path, ws: Workspace, github: FakeGitHub, *, check: str = "check-run", **extra):
    env = actions_env(tmp_path, ws, github, inputs={"check": check, "comment": "always"})
    env.update(extra)
    return run_action(env, StandInDiff(lambda o: _many_annotations(ws)))


def _assert_one_of_each(github: FakeGitHub, ws: Workspace, *, check: str = "check-run") -> None:
    comments = github.comments_on(REPO, PR)
    assert len(comments) == 1 and comments[0]["body"].startswith(MARKER)
    if check == "check-run":
        [run] = github.check_runs_on(ws.head_sha, "evalbot")
        assert [a["path"] for a in run["annotations"]] == TRIGGERS  # none lost, none twice
        assert (run["status"], run["conclusion"]) == ("completed", "failure")
    else:
        assert [s["context"] for s in github.statuses if s["sha"] == ws.head_sha] == ["evalbot"]
    assert github.check_runs_on("f" * 40) == []  # never the merge commit


CALLS = {
    "comment list": ("GET", r"/issues/\d+/comments$"),
    "comment create": ("POST", r"/issues/\d+/comments$"),
    "comment edit": ("PATCH", r"/issues/comments/\d+$"),
    "check create": ("POST", r"/check-runs$"),
    "check update (annotations)": ("PATCH", r"/check-runs/\d+$"),
    "status": ("POST", r"/statuses/[0-9a-f]{40}$"),
    "GET /user": ("GET", r"^/user$"),
}
WRITES = [k for k, (method, _) in CALLS.items() if method != "GET"]


def _setup(github: FakeGitHub, ws: Workspace, call: str) -> str:
    """The earlier comment an edit needs; the check mode the call belongs to."""
    if call == "comment edit":
        github.add_comment(REPO, PR, f"{MARKER}\nan older report")
    return "status" if call == "status" else "check-run"


@pytest.mark.parametrize("call", list(CALLS))
def test_502_on_every_call_type_is_retried(
    call: str, tmp_path: Path, pr: Workspace, github: FakeGitHub
):
    check = _setup(github, pr, call)
    method, pattern = CALLS[call]
    github.fail(method, pattern, 502, times=2)
    run = _run(tmp_path, pr, github, check=check)
    assert run.code == 1, run.log  # the gate failed; every write made it
    _assert_one_of_each(github, pr, check=check)
    assert len(run.waits) == 2 and all(2 <= w <= 10 for w in run.waits)
    assert sum(1 for r in github.requests if r.method == method and _hit(pattern, r.path)) == 3


def _hit(pattern: str, path: str) -> bool:
    import re

    return re.search(pattern, path) is not None


@pytest.mark.parametrize("call", WRITES)
def test_lost_response_after_an_applied_write_is_not_sent_again(
    call: str, tmp_path: Path, pr: Workspace, github: FakeGitHub
):
    check = _setup(github, pr, call)
    method, pattern = CALLS[call]
    github.lose(method, pattern)
    run = _run(tmp_path, pr, github, check=check)
    assert run.code == 1, run.log
    _assert_one_of_each(github, pr, check=check)
    sent = [r for r in github.requests if r.method == method and _hit(pattern, r.path)]
    if call != "comment edit":  # an edit is idempotent: found already applied, not re-sent
        assert len(sent) == 1, [r.path for r in github.requests]
    assert "comment: " in run.log and "check: " in run.log


@pytest.mark.parametrize("call", WRITES)
def test_secondary_limit_with_retry_after_is_honoured(
    call: str, tmp_path: Path, pr: Workspace, github: FakeGitHub
):
    check = _setup(github, pr, call)
    method, pattern = CALLS[call]
    github.secondary_limit(method, pattern, retry_after="7")
    run = _run(tmp_path, pr, github, check=check)
    assert run.code == 1, run.log
    _assert_one_of_each(github, pr, check=check)
    assert run.waits == [7.0]


@pytest.mark.parametrize("call", WRITES)
def test_429_without_retry_after_waits_a_minute_then_backs_off(
    call: str, tmp_path: Path, pr: Workspace, github: FakeGitHub
):
    check = _setup(github, pr, call)
    method, pattern = CALLS[call]
    github.secondary_limit(method, pattern, retry_after=None, status=429)
    github.secondary_limit(method, pattern, retry_after=None, status=429)
    github.secondary_limit(method, pattern, retry_after=None, status=403)  # message only
    run = _run(tmp_path, pr, github, check=check)
    assert run.code == 1, run.log
    _assert_one_of_each(github, pr, check=check)
    first, second, third = run.waits
    assert 60 <= first <= 72 and 120 <= second <= 144 and 240 <= third <= 288


def test_check_still_not_written_after_the_budget_is_exit_3_saying_it_is_missing(
    tmp_path: Path, pr: Workspace, github: FakeGitHub
):
    github.secondary_limit("POST", r"/check-runs$", retry_after=None, status=429)
    github.faults[-1].times = 1000
    run = _run(tmp_path, pr, github, EVALBOT_GITHUB_RETRY_BUDGET="300")
    assert run.code == 3  # even though the gate failed: the required check would stay pending
    assert github.check_runs == {}
    assert len(github.comments_on(REPO, PR)) == 1
    [line] = [x for x in run.log.splitlines() if "is missing" in x]
    assert line.startswith("::error title=evalbot::")
    assert f"check run 'evalbot' is missing on {pr.head_sha[:12]}" in line
    assert "HTTP 429" in line and "secondary rate limit" in line
    assert "EVALBOT_GITHUB_RETRY_BUDGET" in line
    assert sum(run.waits) <= 300 and len(run.waits) >= 2
    assert run.outputs["verdict"] == "fail"


def test_comment_failure_alone_keeps_the_failed_gate_exit_1(
    tmp_path: Path, pr: Workspace, github: FakeGitHub
):
    github.fail("POST", r"/issues/\d+/comments$", 502, times=1000)
    run = _run(tmp_path, pr, github, EVALBOT_GITHUB_RETRY_BUDGET="20")
    assert run.code == 1
    assert github.comments_on(REPO, PR) == [] and len(github.check_runs) == 1
    assert "::error title=evalbot::comment on #7: HTTP 502" in run.log


@pytest.mark.parametrize("status", [404, 418])
def test_get_user_with_an_unexpected_status_falls_back_to_the_actions_bot(
    status: int, tmp_path: Path, pr: Workspace, github: FakeGitHub
):
    ours = github.add_comment(REPO, PR, f"{MARKER}\nthe last report", login=BOT_LOGIN)
    github.fail("GET", r"^/user$", status)
    run = _run(tmp_path, pr, github)
    assert run.code == 1, run.log
    [comment] = github.comments_on(REPO, PR)
    assert comment["id"] == ours and comment["body"] != f"{MARKER}\nthe last report"
    assert "comment: updated" in run.log


def test_primary_limit_waits_until_the_reset(tmp_path: Path, pr: Workspace, github: FakeGitHub):
    import time

    reset = int(time.time()) + 42
    github.fail(
        "POST",
        r"/check-runs$",
        403,
        headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)},
        message="API rate limit exceeded for installation ID 1.",
    )
    run = _run(tmp_path, pr, github)
    assert run.code == 1
    [wait] = run.waits
    assert 38 <= wait <= 44
    assert len(github.check_runs) == 1


def test_a_forbidden_write_is_not_retried(tmp_path: Path, pr: Workspace, github: FakeGitHub):
    github.read_only = True
    run = _run(tmp_path, pr, github)
    assert run.code == 1 and run.waits == []  # a warning, as before: fork PRs
    assert "the token may not write" in run.log


def test_retry_policy_budget_caps_the_last_wait():
    slept: list[float] = []
    policy = RetryPolicy(budget_s=150, sleep=slept.append, random=lambda: 0.0)
    from github import GithubException

    calls = []

    def always_limited(n: int) -> None:
        calls.append(n)
        raise GithubException(429, {"message": "slow down"}, {})

    with pytest.raises(Exception, match="slow down"):
        policy.call(always_limited)
    assert slept == [60.0, 90.0]  # 60, then 120 cut to what is left of the budget
    assert calls == [0, 1, 2]

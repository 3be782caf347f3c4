"""GitHub's recorded webhook payloads (``@octokit/webhooks-examples`` 7.6.1, MIT, vendored under
tests/fixtures/webhooks/ with its license) through the event loader and the action's plan, then
representative ones through ``evalbot action`` end to end."""

from __future__ import annotations

import copy
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from evalbot.github.action import plan_revisions
from evalbot.github.client import GitHubPublisher, make_github
from evalbot.github.event import ZERO_SHA, idle_reason, load_event
from evalbot.github.settings import ActionSettings
from tests.action.conftest import (
    REPO,
    TOKEN,
    StandInDiff,
    Workspace,
    actions_env,
    passing_result,
    pr_payload,
    run_action,
)
from tests.fakes.github_server import FakeGitHub

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "webhooks"
PAYLOADS = sorted(FIXTURES.glob("*/*.json"))
DISPATCH_SHA = "d" * 40


def _cases() -> list[tuple[str, Path]]:
    cases = []
    for path in PAYLOADS:
        event = path.parent.name
        cases.append((event, path))
        if event == "pull_request":  # GitHub sends pull_request_target with the same body
            cases.append(("pull_request_target", path))
    return cases


def _load(event: str, path: Path):
    env = {
        "GITHUB_EVENT_NAME": event,
        "GITHUB_EVENT_PATH": str(path),
        "GITHUB_REPOSITORY": "",
        "GITHUB_SHA": DISPATCH_SHA,
        "GITHUB_REF": "refs/heads/main",
    }
    return load_event(env)


def test_the_vendored_examples_carry_their_license():
    assert len(PAYLOADS) == 45
    assert "MIT License" in (FIXTURES / "LICENSE").read_text()
    assert {p.parent.name for p in PAYLOADS} == {
        "pull_request",
        "push",
        "workflow_dispatch",
        "merge_group",
        "workflow_run",
    }


@pytest.mark.parametrize(("event", "path"), _cases(), ids=lambda v: getattr(v, "name", v))
def test_every_recorded_payload_loads_and_plans(event: str, path: Path):
    payload = json.loads(path.read_text())
    ctx = _load(event, path)
    assert ctx.repository == payload["repository"]["full_name"]
    assert ctx.action == payload.get("action")
    idle = idle_reason(ctx)
    settings = ActionSettings.from_environ({"GITHUB_WORKSPACE": "."})

    if event in ("pull_request", "pull_request_target"):
        pr = payload["pull_request"]
        assert ctx.pr_number == pr["number"]
        assert (ctx.head_sha, ctx.base_sha) == (pr["head"]["sha"], pr["base"]["sha"])
        assert ctx.is_fork == (
            pr["head"]["repo"]["full_name"] != payload["repository"]["full_name"]
        )
        if payload["action"] == "closed":
            assert idle is not None and "closed" in idle
            return
        assert idle is None
        assert ctx.changes_code == (
            payload["action"] in ("opened", "synchronize", "reopened", "ready_for_review")
        )
        assert plan_revisions(settings, ctx) == (pr["base"]["sha"], pr["head"]["sha"])
    elif event == "push":
        if payload["deleted"]:
            assert payload["after"] == ZERO_SHA
            assert ctx.deleted and ctx.head_sha is None
            assert idle is not None and payload["ref"] in idle
            return
        assert idle is None and ctx.head_sha == payload["after"]
        # A new branch or tag has no "before": it is compared with the default branch.
        base = f"origin/{payload['repository']['default_branch']}"
        assert plan_revisions(settings, ctx) == (base, payload["after"])
    elif event == "merge_group":
        group = payload["merge_group"]
        assert idle is None
        assert plan_revisions(settings, ctx) == (group["base_sha"], group["head_sha"])
    elif event == "workflow_run":
        run = payload["workflow_run"]
        assert ctx.head_sha == run["head_sha"] and ctx.workflow_run_id == run["id"]
        if payload["action"] == "completed":
            assert idle is None
        else:
            assert idle is not None and payload["action"] in idle
    else:
        assert event == "workflow_dispatch" and idle is None
        base = f"origin/{payload['repository']['default_branch']}"
        assert plan_revisions(settings, ctx) == (base, DISPATCH_SHA)


@pytest.mark.parametrize(
    ("field", "value", "named"),
    [
        ("pull_request", [], "pull_request"),
        ("pull_request.head", "main", "pull_request.head"),
        ("pull_request.head.sha", 7, "pull_request.head.sha"),
        ("pull_request.number", "7", "pull_request.number"),
        ("repository", ["octo/app"], "repository"),
        ("action", {"x": 1}, "action"),
    ],
)
def test_a_field_of_the_wrong_json_type_is_exit_2_naming_it(
    tmp_path: Path, workspace: Workspace, github: FakeGitHub, field: str, value: Any, named: str
):
    payload = pr_payload(workspace)
    node = payload
    *parents, last = field.split(".")
    for key in parents:
        node = node[key]
    node[last] = value
    diff = StandInDiff(lambda o: passing_result(workspace))
    run = run_action(actions_env(tmp_path, workspace, github, payload=payload), diff)
    assert run.code == 2
    assert f"event payload field '{named}'" in run.log
    assert "internal error" not in run.log and not diff.calls


def _recorded(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


def _quiet(github: FakeGitHub) -> None:
    assert not github.writes()
    assert not github.check_runs and not github.statuses


@pytest.mark.parametrize(
    ("event", "fixture", "says"),
    [
        ("push", "push/tag-deleted-1.json", "push deleted refs/tags/simple-tag"),
        ("pull_request", "pull_request/closed-1.json", "was closed"),
        ("workflow_run", "workflow_run/requested-1.json", "workflow_run requested"),
    ],
)
def test_events_that_ask_for_nothing_do_nothing(
    tmp_path: Path, workspace: Workspace, github: FakeGitHub, event: str, fixture: str, says: str
):
    payload = _recorded(fixture)
    payload["repository"]["full_name"] = REPO
    diff = StandInDiff(lambda o: passing_result(workspace))
    run = run_action(actions_env(tmp_path, workspace, github, event=event, payload=payload), diff)
    assert run.code == 0
    notices = [line for line in run.log.splitlines() if line.startswith("::notice")]
    assert len(notices) == 1 and says in notices[0]
    assert not diff.calls
    _quiet(github)
    assert not run.outputs and not run.summary


def test_a_deleted_branch_push_never_evaluates_the_default_branch(
    tmp_path: Path, workspace: Workspace, github: FakeGitHub
):
    payload = _recorded("push/tag-deleted-2.json")
    payload.update(
        ref="refs/heads/feature", repository={**payload["repository"], "full_name": REPO}
    )
    env = actions_env(tmp_path, workspace, github, event="push", payload=payload)
    env["GITHUB_SHA"] = workspace.base_sha  # what Actions sets for a deletion: the default tip
    diff = StandInDiff(lambda o: passing_result(workspace))
    assert run_action(env, diff).code == 0
    assert not diff.calls
    _quiet(github)


def _labeled(ws: Workspace) -> dict[str, Any]:
    payload = copy.deepcopy(pr_payload(ws))
    payload["action"] = "labeled"
    payload["label"] = {"name": "needs-review"}
    return payload


@pytest.mark.parametrize("check", ["check-run", "status"])
def test_labeled_reruns_only_while_the_head_has_no_result(
    tmp_path: Path, workspace: Workspace, github: FakeGitHub, check: str
):
    github.add_pull(REPO, 7, head_sha=workspace.head_sha, base_sha=workspace.base_sha)
    inputs = {"CHECK": check}
    diff = StandInDiff(lambda o: passing_result(workspace))
    env = actions_env(tmp_path, workspace, github, payload=_labeled(workspace), inputs=inputs)
    first = run_action(env, diff)
    assert first.code == 0 and diff.model_runs == 1  # nothing on the head yet: evaluated
    writes = len(github.writes())

    second = run_action(env, diff)
    assert second.code == 0 and diff.model_runs == 1  # the head has our result: no rerun
    assert "already has a 'evalbot' result" in second.log
    assert len(github.writes()) == writes

    synchronize = actions_env(tmp_path, workspace, github, inputs=inputs)  # new code: runs
    run_action(synchronize, diff)
    assert diff.model_runs == 2


def test_labeled_with_check_none_always_evaluates(
    tmp_path: Path, workspace: Workspace, github: FakeGitHub
):
    github.add_pull(REPO, 7, head_sha=workspace.head_sha, base_sha=workspace.base_sha)
    diff = StandInDiff(lambda o: passing_result(workspace))
    env = actions_env(
        tmp_path, workspace, github, payload=_labeled(workspace), inputs={"CHECK": "none"}
    )
    run_action(env, diff)
    run_action(env, diff)
    assert diff.model_runs == 2


def test_a_commit_the_fetch_cannot_bring_is_a_fetch_error_not_nothing_to_evaluate(
    tmp_path: Path, workspace: Workspace, github: FakeGitHub
):
    github.add_pull(REPO, 7, head_sha=workspace.head_sha, base_sha=workspace.base_sha)
    payload = pr_payload(workspace)
    gone = "e" * 40  # e.g. force-pushed away: not in the clone, and origin has no such commit
    payload["pull_request"]["head"]["sha"] = gone
    # A remote on a closed loopback port, with credentials in its URL as some setups have.
    workspace.repo.git("remote", "add", "origin", "http://user:s3cret-pass@127.0.0.1:9/app.git")
    diff = StandInDiff(lambda o: passing_result(workspace))
    run = run_action(actions_env(tmp_path, workspace, github, payload=payload), diff)
    assert run.code == 3 and not diff.calls
    assert f"commit {gone[:12]} named by the pull_request event is not in the checkout" in run.log
    assert "fetching it from origin failed" in run.log and "fetch-depth: 0" in run.log
    [check] = github.check_runs.values()
    assert check["conclusion"] == "failure"
    assert "nothing to evaluate" not in check["output"]["title"].lower()
    [comment] = github.comments_on(REPO, 7)
    headline = comment["body"].split("\n")[1]
    assert "nothing to evaluate" not in headline and "could not complete" in headline
    assert "s3cret-pass" not in run.log + comment["body"] + json.dumps(check["output"])


def test_the_expected_403_on_get_user_stays_out_of_the_log(github: FakeGitHub, caplog):
    caplog.set_level(logging.DEBUG, logger="github")
    gh = make_github(TOKEN, github.url, throttle=False, retry=True)  # the production client
    publisher = GitHubPublisher(gh, REPO)
    assert publisher.viewer_login() == "github-actions[bot]"
    assert any(r.method == "GET" and r.path == "/user" for r in github.requests)
    assert "failed with 403" not in caplog.text
    assert logging.getLogger("github").level == logging.DEBUG  # restored afterwards

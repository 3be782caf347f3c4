"""The same attacks as a fork PR would mount them: through ``evalbot action`` on a
``pull_request`` event, with the real pipeline (its dry run for forks) and the GitHub fake. The
action always ends, and always answers the check."""

from __future__ import annotations

import os
from pathlib import Path

from evalbot.pipeline.diff import run_diff
from tests.action import conftest as action_fixtures
from tests.action.conftest import PR, REPO, Workspace, actions_env, pr_payload, run_action
from tests.fakes.github_server import FakeGitHub
from tests.security.harden_repo import config, make_repo
from tests.security.test_harden_dos import _bomb_config

github = action_fixtures.github  # the GitHub fake, shared without a conftest here


def _fork_pr(tmp_path: Path, gh: FakeGitHub, head_files: dict[str, str], links=()) -> dict:
    repo = make_repo(tmp_path)
    base = repo.git("rev-parse", "HEAD")
    repo.branch("feature")
    repo.write(head_files)
    for name, target in links:
        os.symlink(target, repo.root / name)
    repo.git("add", "-A")
    repo.git("commit", "-q", "-m", "fork change")
    ws = Workspace(repo=repo, base_sha=base, head_sha=repo.git("rev-parse", "HEAD"))
    gh.add_pull(REPO, PR, head_sha=ws.head_sha, base_sha=base, head_repo="forker/app")
    payload = pr_payload(ws, head_repo="forker/app")
    return actions_env(tmp_path, ws, gh, payload=payload)


def test_fork_alias_bomb_fails_the_check_with_a_config_error(tmp_path: Path, github: FakeGitHub):
    env = _fork_pr(tmp_path, github, {"evalbot.yml": _bomb_config()})
    run = run_action(env, run_diff)
    assert run.code == 2, run.log
    assert "anchors and aliases" in run.log and "::error" in run.log
    [check] = github.check_runs.values()
    assert check["conclusion"] == "failure"
    assert run.outputs["verdict"] == "error"


def test_fork_backtracking_glob_still_gets_its_check(tmp_path: Path, github: FakeGitHub):
    files = {"evalbot.yml": config(watch=["**a" * 8 + "**b"]), f"src/{'a' * 200}": "x\n"}
    env = _fork_pr(tmp_path, github, files)
    run = run_action(env, run_diff)
    assert run.code == 0, run.log
    [check] = github.check_runs.values()
    assert check["conclusion"] == "neutral"  # a fork: detection only, never a pass


def test_committed_results_symlink_cannot_redirect_the_actions_files(
    tmp_path: Path, github: FakeGitHub
):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    files = {"prompts/p.md": "Changed: {{question}}\n"}
    env = _fork_pr(tmp_path, github, files, links=[("evalbot-results", str(elsewhere))])
    run = run_action(env, run_diff)
    assert run.code == 2, run.log
    assert "symbolic link" in run.log
    assert list(elsewhere.iterdir()) == []
    [check] = github.check_runs.values()
    assert check["conclusion"] == "failure"

"""The Actions log gets the plan and plain progress lines, and nothing a PR writes in them can
become a workflow command."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from evalbot.github import action
from tests.action.conftest import PR, REPO, Workspace, actions_env, fast_github
from tests.fakes.github_server import FakeGitHub
from tests.gitrepo import Repo

CONFIG = """\
version: 1
suites:
  - name: {name}
    prompt: prompts/greet.md
    model: models/mock.yaml
    dataset: evals/greet.jsonl
    metrics:
      - {{name: says_hello, type: contains, value: "{{{{expected}}}}"}}
"""


def _workspace(tmp_path: Path, name: str) -> Workspace:
    repo = Repo(tmp_path / "workspace")
    rows = "".join(f'{{"id": "{i}", "name": "n{i}", "expected": "n{i}"}}\n' for i in range(20))
    base = repo.commit(
        {
            "evalbot.yml": CONFIG.format(name="greet"),
            "prompts/greet.md": "Say hello to {{name}}.\n",
            "models/mock.yaml": "provider: mock\nmodel: mock-echo\n",
            "evals/greet.jsonl": rows,
        },
        "base",
    )
    repo.branch("feature")
    head = repo.commit(
        {"evalbot.yml": CONFIG.format(name=name), "prompts/greet.md": "Greet {{name}}.\n"}, "pr"
    )
    return Workspace(repo=repo, base_sha=base, head_sha=head)


def _run(tmp_path: Path, ws: Workspace, github: FakeGitHub) -> tuple[int, str]:
    github.add_pull(REPO, PR, head_sha=ws.head_sha, base_sha=ws.base_sha)
    stdout = io.StringIO()
    code = action.main(actions_env(tmp_path, ws, github), github_factory=fast_github, stdout=stdout)
    return code, stdout.getvalue()


def test_the_actions_log_gets_the_plan_and_plain_progress_lines(tmp_path, github):
    code, log = _run(tmp_path, _workspace(tmp_path, "greet"), github)
    assert code in (0, 1), log
    assert re.search(r"^evalbot: plan greet: 20 examples × 1 sample × 2 sides", log, re.M), log
    assert re.search(r"^evalbot: 40/40 calls \(100%\)", log, re.M), log
    # Plain lines, not a redrawn bar: no carriage returns in the log.
    assert "\r" not in log


@pytest.mark.parametrize("name", ["::set-output name=verdict::pass", "::error::x"])
def test_a_suite_named_like_a_workflow_command_is_neutralised_in_the_log(tmp_path, github, name):
    code, log = _run(tmp_path, _workspace(tmp_path, f'"{name}"'), github)
    assert code == 2, log  # not a valid suite name: a config error, reported once
    for line in log.splitlines():
        assert not line.startswith(("::set-output", "::error::x")), line
    # The name still reaches the reader, inside evalbot's own (escaped) error annotation.
    [error] = [line for line in log.splitlines() if line.startswith("::error ")]
    assert f"suite name '{name}'" in error, error

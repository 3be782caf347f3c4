"""``evalbot action`` with the real pipeline (``run_diff``) on a tiny repository whose model
provider is ``mock``: offline and deterministic. Skipped while the pipeline does not import."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from evalbot.github import action
from evalbot.records import RunResult, SuiteStatus
from tests.action.conftest import (
    PR,
    REPO,
    Workspace,
    actions_env,
    fast_github,
    parse_outputs,
    pr_payload,
)
from tests.fakes.github_server import FakeGitHub
from tests.gitrepo import Repo
from tests.planted import PLANTED_CONFIG, planted_responder

pipeline = pytest.importorskip(
    "evalbot.pipeline.diff", reason="the pipeline does not import yet", exc_type=ImportError
)

CONFIG = """\
version: 1
suites:
  - name: greet
    prompt: prompts/greet.md
    model: models/mock.yaml
    dataset: evals/greet.jsonl
    metrics:
      - {name: says_hello, type: contains, value: "{{expected}}"}
    thresholds:
      says_hello: {max_drop: 0.5}
"""


@pytest.fixture
def mock_repo(tmp_path: Path) -> Workspace:
    repo = Repo(tmp_path / "workspace")
    rows = "".join(f'{{"id": "{i}", "name": "n{i}", "expected": "n{i}"}}\n' for i in range(6))
    base = repo.commit(
        {
            "evalbot.yml": CONFIG,
            "prompts/greet.md": "Say hello to {{name}}.\n",
            "models/mock.yaml": "provider: mock\nmodel: mock-echo\n",
            "evals/greet.jsonl": rows,
            "README.md": "demo\n",
        },
        "base",
    )
    repo.branch("feature")
    return Workspace(repo=repo, base_sha=base, head_sha=base)


def _run(env: dict[str, str]) -> tuple[int, str]:
    stdout = io.StringIO()
    code = action.main(env, github_factory=fast_github, stdout=stdout)
    return code, stdout.getvalue()


def _result(ws: Workspace) -> RunResult:
    return RunResult.model_validate_json((ws.root / "evalbot-results" / "results.json").read_text())


def test_pr_touching_no_eval_input_passes_with_zero_model_calls(
    tmp_path: Path, mock_repo: Workspace, github: FakeGitHub
):
    mock_repo.head_sha = mock_repo.repo.commit({"README.md": "docs only\n"}, "docs")
    github.add_pull(REPO, PR, head_sha=mock_repo.head_sha, base_sha=mock_repo.base_sha)
    code, log = _run(actions_env(tmp_path, mock_repo, github))
    assert code == 0, log
    result = _result(mock_repo)
    assert result.verdict == "pass"
    assert all(s.status == SuiteStatus.SKIPPED for s in result.suites)
    assert result.usage.requests == 0 and result.usage.sent == 0
    [check] = github.check_runs.values()
    assert (check["conclusion"], check["head_sha"]) == ("success", mock_repo.head_sha)


def test_prompt_change_is_evaluated_and_published(
    tmp_path: Path, mock_repo: Workspace, github: FakeGitHub
):
    mock_repo.head_sha = mock_repo.repo.commit(
        {"prompts/greet.md": "Greet {{name}} warmly.\n"}, "prompt"
    )
    github.add_pull(REPO, PR, head_sha=mock_repo.head_sha, base_sha=mock_repo.base_sha)
    env = actions_env(tmp_path, mock_repo, github)
    code, log = _run(env)
    result = _result(mock_repo)
    assert result.head_sha == mock_repo.head_sha
    assert result.suites[0].status == SuiteStatus.EVALUATED
    assert code == {"pass": 0, "fail": 1}[result.verdict], log
    [check] = github.check_runs.values()
    assert check["conclusion"] == {"pass": "success", "fail": "failure"}[result.verdict]
    [comment] = github.comments_on(REPO, PR)
    outputs = parse_outputs(Path(env["GITHUB_OUTPUT"]).read_text())
    assert outputs["verdict"] == result.verdict
    assert comment["body"].rstrip("\n") == outputs["comment"]

    code_again, _ = _run(env)  # a second push: same comment, edited in place
    assert code_again == code
    assert len(github.comments_on(REPO, PR)) == 1


def test_fork_pr_with_the_real_pipeline_is_neutral(
    tmp_path: Path, mock_repo: Workspace, github: FakeGitHub
):
    mock_repo.head_sha = mock_repo.repo.commit({"prompts/greet.md": "Hi {{name}}\n"}, "prompt")
    github.add_pull(REPO, PR, head_sha=mock_repo.head_sha, base_sha=mock_repo.base_sha)
    env = actions_env(
        tmp_path, mock_repo, github, payload=pr_payload(mock_repo, head_repo="forker/app")
    )
    code, log = _run(env)
    assert code == 0, log
    result = _result(mock_repo)
    assert result.verdict == "neutral"
    assert result.usage.requests == 0
    assert any("Would have run greet" in n for n in result.notes)
    [check] = github.check_runs.values()
    assert check["conclusion"] == "neutral"


def test_planted_regression_end_to_end_as_the_container_runs_it(tmp_path: Path, github: FakeGitHub):
    """The container's path on a PR whose prompt truly regresses: real git history, the real
    pipeline, the openai provider over HTTP to a loopback fake, PyGithub against the GitHub fake.
    One comment (a re-run edits it), a failing check with an annotation on the prompt file, the
    outputs and job summary, exit 1."""
    from tests.fakes.openai_server import FakeOpenAI

    repo = Repo(tmp_path / "workspace")
    rows = "".join(f'{{"id": "e{i}", "n": {i}, "expected": "w{i}"}}\n' for i in range(40))
    base = repo.commit(
        {
            "evalbot.yml": PLANTED_CONFIG,
            "prompts/answers.md": "Answer {{n}}: w{{n}}\n",
            "models/chat.yaml": "provider: openai\nmodel: fake-1\nparams: {temperature: 0}\n",
            "evals/answers.jsonl": rows,
        },
        "base",
    )
    repo.branch("feature")
    head = repo.commit({"prompts/answers.md": "Be vague. Answer {{n}}: w{{n}}\n"}, "vaguer")
    ws = Workspace(repo=repo, base_sha=base, head_sha=head)
    github.add_pull(REPO, PR, head_sha=head, base_sha=base)
    with FakeOpenAI(planted_responder) as llm:
        env = actions_env(
            tmp_path,
            ws,
            github,
            extra={"OPENAI_BASE_URL": llm.base_url, "OPENAI_API_KEY": "test-key"},
            inputs={"allowed-hosts": "127.0.0.1"},
        )
        code, log = _run(env)
        assert code == 1, log
        assert len(llm.requests) == 80  # 40 examples, base and head
        result = _result(ws)
        [suite] = result.suites
        correct = next(c for c in suite.comparisons if c.metric == "correct")
        assert correct.verdict == "regressed" and correct.gate == "fail"
        [check] = github.check_runs.values()
        assert check["conclusion"] == "failure" and check["head_sha"] == head
        paths = {a["path"] for a in check["output"]["annotations"]}
        assert "prompts/answers.md" in paths
        [comment] = github.comments_on(REPO, PR)
        assert comment["body"].startswith("<!-- evalbot:evalbot -->")
        outputs = parse_outputs(Path(env["GITHUB_OUTPUT"]).read_text())
        assert outputs["verdict"] == "fail" and outputs["regressions"] != "0"
        summary = Path(env["GITHUB_STEP_SUMMARY"]).read_text()
        assert "answers" in summary and "regressed" in summary
        assert log.count("test-key") == log.count("::add-mask::test-key") == 1  # masked first

        code_again, _ = _run(env)  # a re-run: answered from the cache, comment edited in place
        assert code_again == 1
        assert len(llm.requests) == 80
        assert len(github.comments_on(REPO, PR)) == 1


JUDGED_CONFIG = """\
version: 1
judge: {model: models/judge.yaml}
suites:
  - name: greet
    prompt: prompts/greet.md
    model: models/mock.yaml
    dataset: evals/greet.jsonl
    metrics:
      - {name: helpful, type: llm_rubric, rubric: rubrics/helpful.md}
    thresholds:
      helpful: {max_drop: 0.5}
"""


def test_a_judge_that_fails_every_call_fails_the_check_with_its_reason(
    tmp_path: Path, mock_repo: Workspace, github: FakeGitHub
):
    from tests.fakes.openai_server import FakeOpenAI, judge_down

    mock_repo.head_sha = mock_repo.repo.commit(
        {
            "evalbot.yml": JUDGED_CONFIG,
            "models/judge.yaml": "provider: openai\nmodel: judge-model\n",
            "rubrics/helpful.md": "# Helpful\n\n- 5: greets.\n- 1: does not.\n",
            "prompts/greet.md": "Say hello warmly to {{name}}.\n",
        },
        "judge it",
    )
    github.add_pull(REPO, PR, head_sha=mock_repo.head_sha, base_sha=mock_repo.base_sha)
    with FakeOpenAI(judge_down()) as judge:
        env = actions_env(tmp_path, mock_repo, github)
        env.update(OPENAI_BASE_URL=judge.base_url, OPENAI_API_KEY="test-key")
        env["INPUT_ALLOWED-HOSTS"] = "127.0.0.1"
        code, log = _run(env)
    assert code == 3, log
    assert parse_outputs(Path(env["GITHUB_OUTPUT"]).read_text())["verdict"] == "error"
    [check] = github.check_runs.values()
    assert check["conclusion"] == "failure"
    shown = check["output"]["title"] + check["output"]["summary"]
    assert "judge upstream unavailable" in shown
    [comment] = github.comments_on(REPO, PR)
    assert "judge upstream unavailable" in comment["body"]

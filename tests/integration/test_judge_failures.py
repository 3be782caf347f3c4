"""A blocking judge metric whose judge calls fail never passes: `evalbot diff` end to end, with
the judge behind a loopback endpoint that answers 500 to every call."""

from __future__ import annotations

import json

import pytest
import yaml

from evalbot.cli import main
from tests.fakes.openai_server import FakeOpenAI, judge_down
from tests.gitrepo import Repo

N = 12
RUBRIC = "# Helpful\n\n- 5: answers the question.\n- 1: does not.\n"


def _config(max_error_rate: float = 0.05, blocking: bool = True) -> str:
    return yaml.safe_dump(
        {
            "version": 1,
            "judge": {"model": "models/judge.yaml"},
            "gate": {"max_error_rate": max_error_rate},
            "suites": [
                {
                    "name": "support",
                    "prompt": "prompts/support.md",
                    "model": "models/m.yaml",
                    "dataset": "evals/support.jsonl",
                    "metrics": [
                        {"name": "helpful", "type": "llm_rubric", "rubric": "rubrics/helpful.md"}
                    ],
                    "thresholds": {"helpful": {"max_drop": 0.5, "blocking": blocking}},
                }
            ],
        },
        sort_keys=False,
    )


def _repo(tmp_path, config: str) -> Repo:
    repo = Repo(tmp_path / "repo")
    rows = [json.dumps({"id": f"q{i}", "question": f"question {i}"}) for i in range(N)]
    repo.commit(
        {
            "evalbot.yml": config,
            "prompts/support.md": "Answer: {{question}}\n",
            "models/m.yaml": "provider: openai\nmodel: fake-model\n",
            "models/judge.yaml": "provider: openai\nmodel: judge-model\n",
            "rubrics/helpful.md": RUBRIC,
            "evals/support.jsonl": "\n".join(rows) + "\n",
        },
        "base",
    )
    repo.branch("pr")
    repo.commit({"prompts/support.md": "Answer briefly: {{question}}\n"}, "tweak")
    return repo


@pytest.fixture
def judge_is_down(monkeypatch):
    """Generations succeed; every judge call gets a 500."""
    with FakeOpenAI(judge_down(lambda body: "An answer.")) as fake:
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "test-key")
        yield fake


def _diff(repo: Repo, tmp_path) -> int:
    args = ["diff", "-C", str(repo.root), "--base", "main", "--head", "pr"]
    args += ["--out", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "cache")]
    return main(args)


def _result(tmp_path) -> dict:
    return json.loads((tmp_path / "out" / "results.json").read_text())


def test_a_judge_failing_every_call_errors_the_suite(judge_is_down, tmp_path, capsys):
    repo = _repo(tmp_path, _config())
    assert _diff(repo, tmp_path) == 3
    result = _result(tmp_path)
    assert result["verdict"] == "error"
    suite = result["suites"][0]
    assert suite["gate"] == "error"
    assert suite["head"]["judge_errors"] == N and suite["head"]["error_rate"] == 1.0
    reason = " ".join(suite["notes"])
    assert "judge" in reason and "judge upstream unavailable" in reason
    comment = (tmp_path / "out" / "comment.md").read_text()
    assert "judge upstream unavailable" in comment


def test_a_blocking_metric_without_scores_errors_even_with_an_unlimited_budget(
    judge_is_down, tmp_path
):
    repo = _repo(tmp_path, _config(max_error_rate=1.0))
    assert _diff(repo, tmp_path) == 3
    suite = _result(tmp_path)["suites"][0]
    assert suite["gate"] == "error"
    assert any("helpful" in n and "no score" in n for n in suite["notes"])


def test_an_informational_judge_metric_may_fail_within_an_unlimited_budget(judge_is_down, tmp_path):
    repo = _repo(tmp_path, _config(max_error_rate=1.0, blocking=False))
    assert _diff(repo, tmp_path) == 0
    assert _result(tmp_path)["suites"][0]["gate"] in ("pass", "warn")

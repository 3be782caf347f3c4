"""`evalbot diff` through a LiteLLM-style gateway (the loopback fake in gateway mode)."""

from __future__ import annotations

import json

import pytest
import yaml

from evalbot.cli import main
from evalbot.run.openai_provider import EARLY_STOP
from tests.fakes.openai_server import FakeOpenAI, LiteLLMGateway, Reply
from tests.gitrepo import Repo

N = 10


def _repo(tmp_path, *, model: str = "fake-model", max_retries: int | None = None) -> Repo:
    config: dict = {
        "version": 1,
        "suites": [
            {
                "name": "support",
                "prompt": "prompts/support.md",
                "model": "models/m.yaml",
                "dataset": "evals/support.jsonl",
                "metrics": [{"name": "said", "type": "contains", "value": "question"}],
                "thresholds": {"said": {"max_drop": 0.1}},
            }
        ],
    }
    if max_retries is not None:
        config["max_retries"] = max_retries
    rows = [json.dumps({"id": f"q{i}", "question": f"question {i}"}) for i in range(N)]
    repo = Repo(tmp_path / "repo")
    repo.commit(
        {
            "evalbot.yml": yaml.safe_dump(config, sort_keys=False),
            "prompts/support.md": "Answer: {{question}}\n",
            "models/m.yaml": f"provider: openai\nmodel: {model}\n",
            "evals/support.jsonl": "\n".join(rows) + "\n",
        },
        "base",
    )
    repo.branch("pr")
    repo.commit({"prompts/support.md": "Answer briefly: {{question}}\n"}, "tweak")
    return repo


def _diff(repo: Repo, tmp_path, *extra: str) -> int:
    args = ["diff", "-C", str(repo.root), "--base", "main", "--head", "pr"]
    args += ["--out", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "cache"), *extra]
    return main(args)


def _result(tmp_path) -> dict:
    return json.loads((tmp_path / "out" / "results.json").read_text())


@pytest.fixture
def gateway(monkeypatch):
    models = {"fake-model": "openai/fake-model-2025-01-01"}
    with FakeOpenAI(gateway=LiteLLMGateway(models=models)) as fake:
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "test-key")
        yield fake


def test_an_unknown_model_stops_early_with_the_gateways_message(gateway, tmp_path, capsys):
    repo = _repo(tmp_path, model="gpt-typo")
    assert _diff(repo, tmp_path, "--concurrency", "1") == 3
    err = capsys.readouterr().err
    assert "Invalid model name passed in model=gpt-typo" in err
    assert len(gateway.requests) == EARLY_STOP  # not 2 × N
    result = _result(tmp_path)
    assert result["verdict"] == "error"
    assert result["usage"]["sent"] == len(gateway.requests)


def test_the_answering_model_is_recorded_per_side(gateway, tmp_path):
    repo = _repo(tmp_path)
    assert _diff(repo, tmp_path) == 0
    suite = _result(tmp_path)["suites"][0]
    assert suite["base"]["served_by"] == ["openai/fake-model-2025-01-01"]
    assert suite["head"]["served_by"] == ["openai/fake-model-2025-01-01"]
    comment = (tmp_path / "out" / "comment.md").read_text()
    assert "fake-model → openai/fake-model-2025-01-01" in comment


@pytest.mark.parametrize(
    ("flag", "config", "per_call"),
    [((), None, 5), ((), 1, 2), (("--max-retries", "0"), 3, 1)],
)
def test_max_retries_from_config_and_flag(monkeypatch, tmp_path, flag, config, per_call):
    always_503 = lambda body: Reply(status=503, headers={"Retry-After": "0.01"})  # noqa: E731
    with FakeOpenAI(always_503) as fake:
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "test-key")
        repo = _repo(tmp_path, max_retries=config)
        assert _diff(repo, tmp_path, *flag) == 3  # every example errored: past the budget
        assert len(fake.requests) == 2 * N * per_call


def test_max_retries_flag_rejects_nonsense(tmp_path, capsys):
    assert main(["diff", "--base", "main", "--max-retries", "many"]) == 2
    assert "--max-retries" in capsys.readouterr().err

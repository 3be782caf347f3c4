"""``--json`` (the summary on stdout, progress on stderr), ``--no-cache`` and ``cache clear``."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from evalbot.cli import main
from tests.fakes.openai_server import FakeOpenAI
from tests.gitrepo import Repo

N = 8
CONFIG = """\
version: 1
suites:
  - name: support
    prompt: prompts/support.md
    model: models/m.yaml
    dataset: evals/support.jsonl
    metrics:
      - {name: echoed, type: contains, value: "{{question}}"}
    thresholds:
      echoed: {min: 0.5}
"""


@pytest.fixture
def repo(tmp_path) -> Repo:
    repo = Repo(tmp_path / "repo")
    rows = "".join(json.dumps({"id": f"q{i}", "question": f"q{i}"}) + "\n" for i in range(N))
    repo.commit(
        {
            "evalbot.yml": CONFIG,
            "prompts/support.md": "Answer: {{question}}\n",
            "models/m.yaml": "provider: openai\nmodel: fake-model\n"
            "price: {input: 1.0, output: 2.0}\n",
            "evals/support.jsonl": rows,
        },
        "base",
    )
    repo.branch("pr")
    repo.commit({"prompts/support.md": "Reply to {{question}}\n"}, "tweak")
    return repo


@pytest.fixture
def fake(monkeypatch):
    with FakeOpenAI() as fake:
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "test-key")
        monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
        yield fake


def _diff(repo: Repo, tmp_path, *extra: str) -> list[str]:
    args = ["diff", "-C", str(repo.root), "--base", "main", "--head", "pr"]
    return [*args, "--out", str(tmp_path / "out"), *extra]


def test_json_puts_the_summary_alone_on_stdout(repo, tmp_path, fake, capsys):
    code = main(_diff(repo, tmp_path, "--json"))
    out, err = capsys.readouterr()
    summary = json.loads(out)  # stdout is exactly one JSON document
    assert code == summary["exit_code"] == 0
    assert summary["verdict"] == "pass" and summary["command"] == "diff"
    assert summary["results"] == str(tmp_path / "out" / "results.json")
    [suite] = summary["suites"]
    assert suite["name"] == "support" and suite["triggers"] == ["prompts/support.md"]
    by_name = {m["metric"]: m for m in suite["metrics"]}
    assert by_name["echoed"]["base"] == by_name["echoed"]["head"] == 1.0
    assert by_name["echoed"]["verdict"] in ("unchanged", "inconclusive")
    assert suite["thresholds"] == [
        {"metric": "echoed", "bound": "min", "limit": 0.5, "value": 1.0, "passed": True}
    ]
    assert summary["cost"]["calls_sent"] == 2 * N and summary["cost"]["spent_usd"] > 0
    # Informational rows count too (the echo's longer prompt costs more tokens): one meaning.
    regressed = [m for m in suite["metrics"] if m["verdict"] == "regressed"]
    assert summary["regressions"] == len(regressed) and summary["blocking_regressions"] == 0
    assert "evalbot: plan support" in err  # progress stayed on stderr


def test_json_of_run_carries_each_value_with_its_interval(repo, tmp_path, fake, capsys):
    args = ["run", "-C", str(repo.root), "--out", str(tmp_path / "out"), "--json"]
    assert main(args) == 0
    [suite] = json.loads(capsys.readouterr().out)["suites"]
    echoed = next(v for v in suite["values"] if v["metric"] == "echoed")
    assert echoed["value"] == 1.0 and echoed["method"] == "Wilson" and echoed["n"] == N
    assert 0.5 < echoed["ci"][0] < 1.0 == echoed["ci"][1]


def test_no_cache_asks_again_and_cache_clear_empties_the_cache(repo, tmp_path, fake, capsys):
    cache = repo.root / ".evalbot" / "cache"
    assert main(_diff(repo, tmp_path)) == 0
    assert len(fake.requests) == 2 * N
    stored = sorted(p.relative_to(cache) for p in cache.rglob("*") if p.is_file())
    assert stored
    assert main(_diff(repo, tmp_path)) == 0  # answered from the cache
    assert len(fake.requests) == 2 * N
    assert main(_diff(repo, tmp_path, "--no-cache")) == 0
    assert len(fake.requests) == 4 * N  # every answer asked for again ...
    # ... and the cache is as it was: nothing read from it, nothing added to it.
    assert sorted(p.relative_to(cache) for p in cache.rglob("*") if p.is_file()) == stored
    capsys.readouterr()
    assert main(["cache", "clear", "-C", str(repo.root)]) == 0
    assert capsys.readouterr().out.startswith(f"evalbot: cleared {cache}: {len(stored)} files")
    assert cache.is_dir() and not any(cache.iterdir())
    assert main(_diff(repo, tmp_path)) == 0
    assert len(fake.requests) == 6 * N


@pytest.mark.parametrize("other", [["--offline"], ["--cache-dir", "elsewhere"]])
def test_no_cache_refuses_contradictory_flags(repo, tmp_path, capsys, other):
    assert main(_diff(repo, tmp_path, "--no-cache", *other)) == 2
    assert "--no-cache and" in capsys.readouterr().err


def test_cache_clear_refuses_a_directory_that_is_not_a_cache(repo, capsys):
    assert main(["cache", "clear", "--cache-dir", str(repo.root)]) == 2
    assert "refusing to clear it: it is a git repository" in capsys.readouterr().err
    assert (repo.root / "evalbot.yml").exists()


def test_each_command_documents_its_defaults_in_help():
    done = subprocess.run(
        [sys.executable, "-m", "evalbot", "diff", "--help"], capture_output=True, text=True
    )
    text = " ".join(done.stdout.split())
    for option in ("--json", "--no-cache", "--dry-run", "--quiet", "--check-name", "--seed"):
        assert option in text
    assert "(default: evalbot)" in text and "(default: 0)" in text

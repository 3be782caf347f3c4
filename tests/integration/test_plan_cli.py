"""``evalbot plan``: change detection for a workflow's plan job, without a model call or a key."""

from __future__ import annotations

import json

import yaml

from evalbot.cli import main
from tests.gitrepo import Repo

CONFIG = {
    "version": 1,
    "suites": [
        {
            "name": name,
            "prompt": f"prompts/{name}.md",
            "model": "models/m.yaml",
            "dataset": f"evals/{name}.jsonl",
            "metrics": [{"name": "correct", "type": "contains", "value": "{{expected}}"}],
        }
        for name in ("alpha", "beta")
    ],
}


def _repo(tmp_path) -> Repo:
    repo = Repo(tmp_path / "repo")
    files = {
        "evalbot.yml": yaml.safe_dump(CONFIG, sort_keys=False),
        "models/m.yaml": "provider: openai\nmodel: fake-1\n",
        "README.md": "hello\n",
    }
    for name in ("alpha", "beta"):
        files[f"prompts/{name}.md"] = "Answer {{q}}\n"
        files[f"evals/{name}.jsonl"] = '{"id": "1", "q": "a", "expected": "a"}\n'
    repo.commit(files, "base")
    repo.branch("pr")
    return repo


def _plan(repo: Repo, capsys, *extra: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["plan", "-C", str(repo.root), "--base", "main", "--head", "pr", *extra])
    out, err = capsys.readouterr()
    return code, out, err


def test_plan_json_names_the_affected_suites_and_why(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)  # detection needs no key
    repo = _repo(tmp_path)
    repo.commit({"README.md": "docs only\n"}, "docs")
    code, out, _ = _plan(repo, capsys, "--json")
    assert code == 0
    plan = json.loads(out)
    assert plan["affected"] is False and plan["suites"] == [] and plan["reasons"] == {}
    assert sorted(plan["skipped"]) == ["alpha", "beta"]
    assert plan["head_sha"] == repo.git("rev-parse", "pr")

    repo.commit({"prompts/beta.md": "Answer briefly: {{q}}\n"}, "beta prompt")
    code, out, _ = _plan(repo, capsys, "--json")
    plan = json.loads(out)
    assert code == 0 and plan["affected"] is True
    assert plan["suites"] == ["beta"] and plan["reasons"] == {"beta": ["prompts/beta.md"]}
    assert plan["skipped"] == ["alpha"]
    code, out, _ = _plan(repo, capsys)
    assert code == 0 and out.splitlines() == ["beta: prompts/beta.md", "not affected: alpha"]
    # Nothing is written into the repository.
    assert not (repo.root / "evalbot-results").exists()
    assert repo.git("status", "--porcelain") == ""


def test_plan_on_a_broken_config_is_one_line_and_exit_2(tmp_path, capsys):
    repo = _repo(tmp_path)
    repo.commit({"evalbot.yml": "version: 1\nsuites: [{name: x}]\n"}, "broken")
    code, out, err = _plan(repo, capsys, "--json")
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "evalbot.yml" in err and "Traceback" not in err

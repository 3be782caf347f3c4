"""``evalbot init`` in a fresh git repository: a setup built from its prompt files that
``evalbot validate`` accepts, never overwriting without --force."""

from __future__ import annotations

import json

import yaml

from evalbot.cli import main
from tests.gitrepo import Repo

PROMPTS = {
    "prompts/support/answer.md": "You help {{customer.name}}. Question: {{question}}\n",
    "prompts/classify.yaml": 'messages:\n  - {role: system, content: "Classify."}\n'
    '  - {role: user, content: "{{ticket}}"}\n',
    "app/summary.prompt": "Summarize: {{text}}\n",
    "app/greet.j2": "{% if name %}Hello {{name}}{% endif %}\n",
    "prompts/README.md": "How we write prompts.\n",
    "src/app.py": "print('not a prompt')\n",
}


def _repo(tmp_path, files=PROMPTS) -> Repo:
    repo = Repo(tmp_path / "repo")
    repo.commit(dict(files), "app")
    return repo


def test_init_writes_a_setup_that_validate_accepts(tmp_path, capsys):
    repo = _repo(tmp_path)
    assert main(["init", "-C", str(repo.root)]) == 0
    out = capsys.readouterr().out
    config = yaml.safe_load((repo.root / "evalbot.yml").read_text())
    suites = {s["name"]: s for s in config["suites"]}
    assert {s["prompt"] for s in suites.values()} == {
        "prompts/support/answer.md",
        "prompts/classify.yaml",
        "app/summary.prompt",
    }
    # The Jinja template is not used: its tags would reach the model as text. Said so.
    assert "skipped app/greet.j2: Jinja tags" in out
    rows = [json.loads(x) for x in (repo.root / "evals/answer.jsonl").read_text().splitlines()]
    assert len(rows) == 3 and rows[0]["customer"]["name"].startswith("TODO")
    assert (repo.root / "models/default.yaml").is_file()
    workflow = yaml.safe_load((repo.root / ".github/workflows/evalbot.yml").read_text())
    steps = workflow["jobs"]["evalbot"]["steps"]
    assert steps[0]["with"]["fetch-depth"] == 0
    assert any("evalbot" in s.get("uses", "") for s in steps[1:])
    # YAML 1.1 reads the key `on` as True; no `paths:` filter on a required check.
    assert workflow[True] == {"pull_request": None, "merge_group": None}
    assert main(["validate", "-C", str(repo.root)]) == 0, capsys.readouterr().out
    assert "valid: no problems found" in capsys.readouterr().out
    # The dry run plans every suite from what init wrote.
    assert main(["run", "-C", str(repo.root), "--dry-run", "--out", str(tmp_path / "o")]) == 0
    assert capsys.readouterr().out.count("planned: 3 examples × 1 sample × 1 side") == 3


def test_init_refuses_to_overwrite_without_force(tmp_path, capsys):
    repo = _repo(tmp_path, {**PROMPTS, "evalbot.yml": "version: 1\nsuites: []\n"})
    assert main(["init", "-C", str(repo.root)]) == 2
    err = capsys.readouterr().err
    assert "evalbot init would overwrite evalbot.yml" in err and "--force" in err
    assert (repo.root / "evalbot.yml").read_text() == "version: 1\nsuites: []\n"
    assert not (repo.root / "models").exists()  # nothing written at all
    assert main(["init", "-C", str(repo.root), "--force"]) == 0
    assert "suites: []" not in (repo.root / "evalbot.yml").read_text()


def test_init_without_prompts_writes_an_example_prompt(tmp_path, capsys):
    repo = _repo(tmp_path, {"README.md": "hello\n"})
    assert main(["init", "-C", str(repo.root)]) == 0
    assert (repo.root / "prompts/example.md").is_file()
    capsys.readouterr()
    assert main(["validate", "-C", str(repo.root)]) == 0

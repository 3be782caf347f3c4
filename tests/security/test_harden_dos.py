"""Denial of service before any model call (issue 8, item 7): watch globs, YAML aliases and
nesting, detection and config budgets. Each ends in exit 2 with one line naming the file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalbot.cli.app import main
from evalbot.inputs import detect
from tests.security.harden_repo import config, error_lines, evalbot, make_repo

ALIAS_BOMB_METRIC = (
    '{name: correct, type: contains, value: "{{expected}}", '
    + "d0: &a0 [lol,lol,lol,lol,lol,lol,lol,lol,lol], "
    + ", ".join(f"d{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 8))
    + "}"
)


def _bomb_config() -> str:
    text = config()
    start = text.index("  - name: correct")
    end = text.index("\n", text.index("value:", start))
    return text[:start] + f"  - {ALIAS_BOMB_METRIC}" + text[end:]


def test_backtracking_watch_glob_on_a_long_path_ends_quickly(tmp_path: Path):
    # 8 parts of "**a" took 17 s per path with a backtracking regex, and a fork PR hung > 60 s.
    repo = make_repo(tmp_path, **{"evalbot.yml": config(watch=["**a" * 8 + "**b"])})
    repo.branch("pr")
    matching = "src/" + "a" * 8 + "b"
    repo.commit({f"src/{'a' * 200}": "x\n", matching: "x\n"}, "long path")
    run = evalbot(repo, "diff", "--base", "main", "--head", "HEAD", "--dry-run", "--out", "out")
    assert run.code == 0, run.stderr
    result = json.loads((repo.root / "out" / "results.json").read_text())
    assert result["suites"][0]["triggers"] == [matching]  # the long path did not match


@pytest.mark.parametrize(
    ("watch", "message"),
    [
        (["x" * 257], "use 1 to 256 characters"),
        ([f"src/{i}/**" for i in range(101)], "at most 100 are allowed"),
    ],
)
def test_watch_globs_are_bounded(tmp_path: Path, capsys, watch: list[str], message: str):
    repo = make_repo(tmp_path, **{"evalbot.yml": config(watch=watch)})
    assert main(["validate", "-C", str(repo.root)]) == 2
    out = capsys.readouterr().out
    assert "evalbot.yml" in out and message in out


def test_detection_past_its_budget_is_a_usage_error(tmp_path: Path, capsys, monkeypatch):
    monkeypatch.setattr(detect, "DETECTION_BUDGET_S", 0.0)
    repo = make_repo(tmp_path, **{"evalbot.yml": config(watch=["src/**/*.py"])})
    repo.branch("pr")
    repo.commit({f"src/m{i}.py": "x\n" for i in range(3)}, "code")
    args = ["diff", "-C", str(repo.root), "--base", "main", "--head", "HEAD", "--dry-run"]
    assert main([*args, "--out", str(tmp_path / "out")]) == 2
    [line] = error_lines(capsys.readouterr().err)
    assert "change detection took longer than 0s" in line and "evalbot.yml" in line


def test_yaml_alias_bomb_in_evalbot_yml_is_refused_unexpanded(tmp_path: Path):
    # 560 bytes; expanded by the suite comparison it used about 1 GiB and 14 s.
    repo = make_repo(tmp_path)
    repo.branch("pr")
    repo.commit({"evalbot.yml": _bomb_config()}, "bomb")
    run = evalbot(repo, "diff", "--base", "main", "--head", "HEAD", "--dry-run", "-q")
    assert run.code == 2, run.stdout + run.stderr
    [line] = error_lines(run.stderr)
    assert "HEAD:evalbot.yml:" in line and "anchors and aliases" in line
    assert "Traceback" not in run.stderr


ALIAS = "x: &x [a, b]\ny: *x\n"


@pytest.mark.parametrize(
    ("path", "text", "wire"),
    [
        ("models/m.yaml", "provider: mock\nmodel: &m m\nparams: {reply: *m}\n", {}),
        ("evals/g.yaml", "- &row {id: '1', question: q, expected: q}\n- *row\n", {"dataset": 1}),
        (
            "prompts/p.yaml",
            "messages:\n  - &m {role: user, content: '{{question}}'}\n  - *m\n",
            {"prompt": 1},
        ),
        (
            "schemas/s.yaml",
            "type: object\nproperties: {a: &t {type: string}, b: *t}\n",
            {"schema": 1},
        ),
    ],
)
def test_yaml_aliases_are_refused_in_every_file_evalbot_reads(
    tmp_path: Path, capsys, path: str, text: str, wire: dict
):
    suite: dict = {}
    if "dataset" in wire:
        suite["dataset"] = path
    if "prompt" in wire:
        suite["prompt"] = path
    if "schema" in wire:
        suite["metrics"] = [{"name": "shape", "type": "json_schema", "schema": path}]
    repo = make_repo(tmp_path, **{path: text, "evalbot.yml": config(**suite)})
    assert main(["validate", "-C", str(repo.root)]) == 2
    out = capsys.readouterr().out
    assert path in out and "anchors and aliases" in out


def test_deeply_nested_yaml_is_refused_not_a_recursion_error(tmp_path: Path, capsys):
    deep = "[" * 5000 + "]" * 5000
    repo = make_repo(
        tmp_path, **{"models/m.yaml": f"provider: mock\nmodel: m\nparams: {{x: {deep}}}\n"}
    )
    assert main(["validate", "-C", str(repo.root)]) == 2
    out = capsys.readouterr().out
    assert "models/m.yaml" in out and "nested more than 64 levels" in out


def test_oversized_config_is_refused_unread(tmp_path: Path, capsys):
    big = config() + "# " + "x" * (1024 * 1024) + "\n"
    repo = make_repo(tmp_path, **{"evalbot.yml": big})
    assert main(["validate", "-C", str(repo.root)]) == 2
    assert "more than the 1,048,576 allowed" in capsys.readouterr().out

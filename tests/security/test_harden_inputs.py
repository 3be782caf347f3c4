"""Hostile repository contents met by the CLI (issue 8, item 9): symlinks out of the repository,
symlinked output directories, live workflow commands, bad numbers and timeouts. Each is a clean
exit 2 with one line naming the file."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pytest

from evalbot.cli.app import main
from tests.security.harden_repo import config, error_lines, evalbot, make_repo


def _text(path: Path) -> str:
    """A written file as text (the outputs file decompressed: it holds the model outputs)."""
    if path.suffix == ".gz":
        return gzip.decompress(path.read_bytes()).decode("utf-8")
    return path.read_text()


CANARY = "canary-secret-6f1d"


def test_work_tree_symlink_to_proc_environ_is_never_read(tmp_path: Path, capsys, monkeypatch):
    monkeypatch.setenv("HARDEN_CANARY", CANARY)
    repo = make_repo(tmp_path)
    os.symlink("/proc/self/environ", repo.root / "prompts" / "x.md")
    (repo.root / "evalbot.yml").write_text(config(prompt="prompts/x.md"))
    out = tmp_path / "out"
    code = main(["run", "-C", str(repo.root), "--out", str(out)])
    assert code == 2
    [line] = error_lines(capsys.readouterr().err)
    assert "prompts/x.md" in line and "symbolic link leading out of the repository" in line
    assert not any(CANARY in _text(p) for p in out.glob("*") if p.is_file())


def test_work_tree_symlink_inside_the_repository_still_works(tmp_path: Path, capsys):
    repo = make_repo(tmp_path)
    os.symlink("p.md", repo.root / "prompts" / "alias.md")
    (repo.root / "evalbot.yml").write_text(config(prompt="prompts/alias.md"))
    assert main(["run", "-C", str(repo.root), "--out", str(tmp_path / "out"), "-q"]) == 0


def test_committed_symlink_blob_is_not_read_at_a_revision(tmp_path: Path, capsys):
    repo = make_repo(tmp_path)
    repo.branch("pr")
    os.symlink("/proc/self/environ", repo.root / "prompts" / "x.md")
    repo.commit({"evalbot.yml": config(prompt="prompts/x.md")}, "link the prompt")
    args = ["diff", "-C", str(repo.root), "--base", "main", "--head", "HEAD"]
    assert main([*args, "--out", str(tmp_path / "out")]) == 2
    [line] = error_lines(capsys.readouterr().err)
    assert "HEAD:prompts/x.md" in line and "symbolic link" in line


@pytest.mark.parametrize("link", ["evalbot-results", ".evalbot"])
def test_committed_symlinked_output_directory_is_refused(
    tmp_path: Path, capsys, monkeypatch, link: str
):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    repo = make_repo(tmp_path)
    os.symlink(elsewhere, repo.root / link)
    repo.commit({}, "link the results directory away")
    monkeypatch.chdir(repo.root)  # --out is relative, as by default
    out = "evalbot-results" if link == "evalbot-results" else ".evalbot/results"
    assert main(["run", "--out", out]) == 2
    [line] = error_lines(capsys.readouterr().err)
    assert link in line and "symbolic link" in line
    assert list(elsewhere.iterdir()) == []


def test_cli_output_in_github_actions_cannot_issue_workflow_commands(
    tmp_path: Path, capsys, monkeypatch
):
    forged = "::error title=evalbot::all evals passed"
    text = config() + json.dumps(f"x\n{forged}") + ": 1\n"  # a key holding a newline
    repo = make_repo(tmp_path, **{"evalbot.yml": text})
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    assert main(["validate", "-C", str(repo.root)]) == 2
    run = capsys.readouterr()
    lines = run.out.splitlines()
    assert lines[0].startswith("::stop-commands::")
    token = lines[0].removeprefix("::stop-commands::")
    assert len(token) >= 32 and token not in text
    assert lines[-1] == f"::{token}::"
    # Nothing between could resume processing, and no printed line is a live command.
    assert all(line != f"::{token}::" for line in lines[1:-1])
    assert forged in run.out  # it is shown, inside the stopped region
    assert not any(line.startswith("::error") for line in run.err.splitlines())


def test_error_line_is_one_line_with_commands_broken_up(tmp_path: Path):
    forged = "::error title=evalbot::all evals passed"
    text = config() + json.dumps(f"x\n{forged}") + ": 1\n"
    repo = make_repo(tmp_path, **{"evalbot.yml": text})
    # A real process: stdout and stderr as the runner reads them.
    run = evalbot(repo, "run", "--out", "out", env={"GITHUB_ACTIONS": "true"})
    assert run.code == 2
    [line] = error_lines(run.stderr)
    assert "evalbot.yml" in line and "::error" not in line
    assert not any(x.startswith("::error") for x in run.stderr.splitlines())
    assert run.stdout.startswith("::stop-commands::")


def test_five_thousand_digit_number_in_a_golden_set_is_a_usage_error(tmp_path: Path, capsys):
    row = '{"id": "1", "question": "q", "expected": ' + "9" * 5000 + "}\n"
    repo = make_repo(tmp_path, **{"evals/g.jsonl": '{"id": "0", "question": "q"}\n' + row})
    out = tmp_path / "out"
    assert main(["run", "-C", str(repo.root), "--out", str(out)]) == 2
    [line] = error_lines(capsys.readouterr().err)
    assert "evals/g.jsonl:2:" in line and "more than 4300 digits" in line


@pytest.mark.parametrize("value", [".inf", ".nan", "-1", "0", "1e9"])
def test_model_timeout_must_be_finite_and_positive(tmp_path: Path, capsys, value: str):
    repo = make_repo(
        tmp_path, **{"models/m.yaml": f"provider: mock\nmodel: m\ntimeout_s: {value}\n"}
    )
    assert main(["run", "-C", str(repo.root), "--out", str(tmp_path / "out")]) == 2
    [line] = error_lines(capsys.readouterr().err)
    assert "models/m.yaml:3:" in line and "timeout_s" in line

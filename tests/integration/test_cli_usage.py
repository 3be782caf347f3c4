"""Everyday command-line mistakes: one line, exit 2, the subcommand's own usage."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from evalbot.cli import main
from tests.gitrepo import Repo


@pytest.mark.parametrize(
    ("flag", "value", "says"),
    [
        ("--samples", "0", "from 1 to 100"),
        ("--samples", "101", "from 1 to 100"),
        ("--concurrency", "0", "of at least 1"),
        ("--concurrency", "-5", "of at least 1"),
        ("--concurrency", "many", "of at least 1"),
    ],
)
def test_out_of_range_numbers_are_refused_not_clamped(capsys, flag, value, says):
    assert main(["run", flag, value]) == 2
    err = capsys.readouterr().err
    assert f"argument {flag}: '{value}': use a whole number {says}" in err
    assert "usage: evalbot run" in err


def test_options_are_not_matched_by_prefix(capsys):
    # `run --all` used to be read as `--allowed-hosts`.
    assert main(["run", "--all"]) == 2
    err = capsys.readouterr().err
    assert "unrecognized arguments: --all" in err
    assert "usage: evalbot run [options]" in err


def test_each_subcommand_prints_its_own_usage(capsys):
    assert main(["diff"]) == 2
    assert "usage: evalbot diff --base BASE [options]" in capsys.readouterr().err
    assert main(["validate", "--nope"]) == 2
    assert "usage: evalbot validate [options]" in capsys.readouterr().err


def test_a_reader_that_goes_away_is_not_an_internal_error(tmp_path):
    repo = Repo(tmp_path / "repo")
    big = (
        "  - name: s\n    prompt: p.md\n    model: m.yaml\n    dataset: d.jsonl\n"
        "    metrics: [{name: n, type: contains, value: x}]"
    )
    repo.commit(
        {
            "evalbot.yml": f"version: 1\nsuites:\n{big}\n",
            "p.md": "Q: {{q}}\n",
            "m.yaml": "provider: mock\nmodel: echo\n",
            "d.jsonl": '{"id": "a", "q": "x"}\n',
        },
        "init",
    )
    # `evalbot validate | true`: the reader is gone before the first line is written.
    proc = subprocess.run(
        [
            "bash",
            "-c",
            f"{sys.executable} -m evalbot validate -C {repo.root} | true; "
            "echo ${PIPESTATUS[0]} >&2",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Traceback" not in proc.stderr
    assert "internal error" not in proc.stderr
    assert "BrokenPipe" not in proc.stderr
    assert proc.stderr.strip() == "0"  # validate's own exit code: the config is valid


def _project(root) -> dict[str, str]:
    return {
        "evalbot.yml": (
            "version: 1\nsuites:\n  - name: s\n    prompt: p.md\n    model: m.yaml\n"
            "    dataset: d.jsonl\n    metrics: [{name: n, type: contains, value: x}]\n"
        ),
        "p.md": "Q: {{q}}\n",
        "m.yaml": "provider: mock\nmodel: echo\n",
        "d.jsonl": '{"id": "a", "q": "x"}\n',
    }


def test_diff_outside_a_git_repository_is_bad_usage_with_a_fix(tmp_path, capsys):
    plain_dir = tmp_path / "no-git"
    plain_dir.mkdir()
    for name, text in _project(plain_dir).items():
        (plain_dir / name).write_text(text)
    code = main(["diff", "-C", str(plain_dir), "--base", "main", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2
    assert "is not inside a git repository" in err
    assert "evalbot run" in err and "rev-parse" not in err


def test_single_branch_shallow_clone_gets_a_fetch_that_works(tmp_path, capsys):
    origin = Repo(tmp_path / "origin")
    origin.commit(_project(tmp_path), "base")
    origin.branch("pr")
    origin.commit({"p.md": "Question: {{q}}\n"}, "tweak")
    clone = tmp_path / "clone"
    subprocess.run(
        [
            "git",
            "clone",
            "-q",
            "--depth",
            "1",
            "--single-branch",
            "--branch",
            "pr",
            f"file://{origin.root}",
            str(clone),
        ],
        check=True,
    )
    args = ["diff", "-C", str(clone), "--dry-run", "--out", str(tmp_path / "o")]
    assert main([*args, "--base", "main"]) == 3
    err = capsys.readouterr().err
    fix = "git fetch --unshallow origin main:refs/remotes/origin/main"
    assert fix in err and "--base origin/main" in err
    # The fix, as printed, makes the same diff work.
    subprocess.run(["git", "-C", str(clone), *fix.split()[1:]], check=True, capture_output=True)
    assert main([*args, "--base", "origin/main"]) == 0


def test_dash_c_puts_results_under_the_repository(tmp_path, monkeypatch):
    repo = Repo(tmp_path / "repo")
    repo.commit(_project(tmp_path), "init")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert main(["run", "-C", str(repo.root), "--quiet"]) == 0
    assert (repo.root / "evalbot-results" / "results.json").is_file()
    assert not (elsewhere / "evalbot-results").exists()


def test_a_run_from_a_subdirectory_finds_the_config_at_the_root(tmp_path, monkeypatch, capsys):
    repo = Repo(tmp_path / "repo")
    repo.commit({**_project(tmp_path), "src/app/main.py": "print('hi')\n"}, "init")
    monkeypatch.chdir(repo.root / "src" / "app")
    assert main(["validate"]) == 0
    assert main(["run", "--quiet"]) == 0
    assert "evalbot: pass" in capsys.readouterr().out
    assert (repo.root / "evalbot-results" / "results.json").is_file()


def test_dry_run_says_which_suites_would_run_and_why(tmp_path, capsys):
    repo = Repo(tmp_path / "repo")
    repo.commit(_project(tmp_path), "base")
    repo.branch("pr")
    repo.commit({"p.md": "Question: {{q}}\n"}, "tweak")
    args = ["diff", "-C", str(repo.root), "--base", "main", "--head", "pr", "--dry-run"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "would run: s (triggered by: p.md)" in out
    assert "skipped: s" not in out


def test_run_speaks_of_one_revision(tmp_path, capsys):
    repo = Repo(tmp_path / "repo")
    repo.commit(_project(tmp_path), "init")
    assert main(["run", "-C", str(repo.root)]) == 0
    out = capsys.readouterr().out
    assert "s: PASS\n" in out
    assert "--all" not in out and "new suite" not in out and "head:" not in out
    assert "  usage: mock · echo" in out
    assert out.count("absolute thresholds only") == 1  # the headline note, once


def test_readme_command_1_writes_under_a_fresh_temporary_directory_and_exits_1(tmp_path):
    from pathlib import Path

    root = Path(__file__).parents[2]
    readme = (root / "README.md").read_text(encoding="utf-8").splitlines()
    [line] = [x for x in readme if x.startswith("pip install -e . && d=$(mktemp -d)")]
    command = line.removeprefix("pip install -e . && ")
    bin_dir = Path(sys.executable).parent  # `evalbot` of this environment
    proc = subprocess.run(
        ["bash", "-c", command],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
        env={
            **os.environ,
            "PATH": f"{bin_dir}:/usr/bin:/bin",
            "TMPDIR": str(tmp_path),
        },
    )
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "evalbot: FAIL" in proc.stdout
    assert list(tmp_path.glob("*/support-bot/evalbot-results/results.json"))

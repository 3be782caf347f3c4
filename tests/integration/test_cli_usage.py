"""Everyday command-line mistakes: one line, exit 2, the subcommand's own usage."""

from __future__ import annotations

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

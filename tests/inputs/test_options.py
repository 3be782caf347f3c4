"""One options object for the CLI and the Action: the same values are refused the same way."""

from __future__ import annotations

import pytest

from evalbot.cli import main
from evalbot.errors import ConfigError, UserError
from evalbot.github.settings import ActionSettings
from evalbot.options import DEFAULT_CONCURRENCY, DiffOptions


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--check-name", "a-->b"], "check name 'a-->b' cannot be used"),
        (["--concurrency", "0"], "--concurrency: '0': use a whole number of at least 1"),
    ],
)
@pytest.mark.parametrize("command", [["run"], ["diff", "--base", "main"]])
def test_cli_refuses_bad_options_in_one_line(tmp_path, capsys, command, argv, expected):
    code = main([*command, "-C", str(tmp_path), "--out", str(tmp_path / "out"), *argv])
    err = capsys.readouterr().err
    assert code == 2, err
    assert expected in err and "Traceback" not in err
    assert len(err.strip().splitlines()) <= 2, err  # the error and its hint


def test_action_refuses_the_check_name_the_cli_refuses(tmp_path):
    env = {"GITHUB_WORKSPACE": str(tmp_path), "INPUT_CHECK-NAME": "a-->b"}
    with pytest.raises(ConfigError, match="check-name"):
        ActionSettings.from_environ(env)
    with pytest.raises(UserError, match="check name"):
        DiffOptions(repo_root=tmp_path, base=None, check_name="a-->b")


def test_defaults_are_written_once():
    assert DiffOptions(repo_root=".", base=None).concurrency == DEFAULT_CONCURRENCY
    with pytest.raises(UserError, match="shard"):
        DiffOptions(repo_root=".", base=None, shard="3/2")

"""The README's command and option tables match the parser (docs match the CLI)."""

from __future__ import annotations

import argparse
from pathlib import Path

from evalbot.cli.app import build_parser

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    [sub] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(sub.choices)


def test_every_command_is_in_the_readme_table():
    for name in _subparsers():
        assert f"| `evalbot {name}" in README, name


def test_every_option_of_diff_and_run_is_in_the_readme_options_table():
    commands = _subparsers()
    table = README.split("**`diff` and `run`**", 1)[1].split("**`--json`**", 1)[0]
    for command in ("diff", "run"):
        for action in commands[command]._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            names = action.option_strings
            assert any(f"`{name}" in table for name in names), (command, names)

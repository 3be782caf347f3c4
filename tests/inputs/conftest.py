"""Fixtures for the input stages: a WorkTree built from a dict of files."""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Callable
from pathlib import Path

import pytest

from evalbot.inputs.tree import WorkTree

try:
    importlib.import_module("evalbot.score.judges")
except ModuleNotFoundError as exc:  # judges.py is being written in parallel; until it lands,
    if exc.name != "evalbot.score.judges":  # give the registry an empty module to import.
        raise
    sys.modules["evalbot.score.judges"] = types.ModuleType("evalbot.score.judges")


@pytest.fixture
def make_tree(tmp_path: Path) -> Callable[[dict[str, str]], WorkTree]:
    def build(files: dict[str, str]) -> WorkTree:
        for name, text in files.items():
            path = tmp_path / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        return WorkTree(tmp_path)

    return build

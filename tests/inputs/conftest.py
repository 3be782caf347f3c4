"""Fixtures for the input stages: a WorkTree built from a dict of files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from evalbot.inputs.tree import WorkTree


@pytest.fixture
def make_tree(tmp_path: Path) -> Callable[[dict[str, str]], WorkTree]:
    def build(files: dict[str, str]) -> WorkTree:
        for name, text in files.items():
            path = tmp_path / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        return WorkTree(tmp_path)

    return build

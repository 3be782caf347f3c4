"""The package list in pyproject.toml is written out (the top-level prompts/ folder is mapped to
``evalbot.prompts``, which package discovery cannot express): it must name every package."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_pyproject_lists_every_package_under_src():
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    found = {
        ".".join(init.parent.relative_to(ROOT / "src").parts)
        for init in (ROOT / "src").rglob("__init__.py")
    }
    assert set(setuptools["packages"]) == found | {"evalbot.prompts"}
    assert setuptools["package-dir"]["evalbot.prompts"] == "prompts"


def test_judge_prompts_load_from_the_top_level_folder():
    shipped = {
        p.name for p in resources.files("evalbot.prompts").iterdir() if p.name.endswith(".md")
    }
    assert shipped == {p.name for p in (ROOT / "prompts").glob("*.md")}
    assert not (ROOT / "src" / "evalbot" / "prompts").exists()

"""The linear-time watch-glob matcher agrees with the backtracking regex it replaced."""

from __future__ import annotations

import random
import re

from evalbot.inputs.detect import glob_match


def _reference(path: str, pattern: str) -> bool:
    """The former translation to a Python regex (exponential on ``**a**a**a…``)."""
    if pattern.endswith("/"):
        pattern += "**"
    pattern = pattern.removeprefix("./")
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return bool(re.compile("".join(out) + r"\Z").match(path))


def test_agrees_with_the_regex_semantics_on_random_globs():
    rng = random.Random(8)
    pieces = ["a", "b", "/", ".", "*", "**", "**/", "?"]
    for _ in range(8_000):
        pattern = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 7)))
        path = "".join(rng.choice("ab/.") for _ in range(rng.randint(0, 9)))
        assert glob_match(path, pattern) == _reference(path, pattern), (path, pattern)


def test_common_globs():
    assert glob_match("src/support/a.py", "src/support/**")
    assert glob_match("src/support/a.py", "src/**/*.py")
    assert glob_match("a.py", "**/*.py")
    assert not glob_match("src/support/a.py", "src/*.py")
    assert glob_match("policy/x/y.md", "policy/")
    assert glob_match("b/c", "./b/c")


def test_many_double_stars_on_a_long_path_is_linear():
    # 85 "**a" parts against a 4,000-character path: a backtracking regex never finishes.
    assert not glob_match("src/" + "a" * 4000, "**a" * 85 + "**b")

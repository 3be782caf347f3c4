"""Change detection: which suites does a change between the merge-base and head affect, and why."""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from evalbot.errors import ConfigError
from evalbot.inputs.config import EvalbotConfig, SuiteConfig
from evalbot.inputs.git import Change

__all__ = ["DETECTION_BUDGET_S", "SuiteSelection", "glob_match", "select_suites"]

DETECTION_BUDGET_S = 30.0
"""Change detection runs before any check is posted: past this, the run stops with exit 2."""


@dataclass
class SuiteSelection:
    suite: SuiteConfig
    """The head's definition (both sides are scored with it)."""
    base_suite: SuiteConfig | None
    """The base's definition of the same name; None when the suite is new in the change."""
    reasons: list[str] = field(default_factory=list)

    @property
    def selected(self) -> bool:
        return bool(self.reasons)

    @property
    def is_new(self) -> bool:
        return self.base_suite is None


# Glob tokens: a literal character, or one of these.
_ANY_CHAR, _ANY_IN_DIR, _ANY, _ANY_DIRS = "?", "*", "**", "**/"


@functools.lru_cache(maxsize=1024)
def _glob_tokens(pattern: str) -> tuple[str, ...]:
    tokens: list[str] = []
    i = 0
    while i < len(pattern):
        for token in (_ANY_DIRS, _ANY, _ANY_IN_DIR, _ANY_CHAR):
            if pattern.startswith(token, i):
                break
        else:
            token = pattern[i]
        i += len(token)
        if not (token in (_ANY, _ANY_IN_DIR) and tokens and tokens[-1] == token):
            tokens.append(token)  # "****" is "**": repeats add nothing (but states)
    return tuple(tokens)


def _closure(states: set[int], tokens: tuple[str, ...]) -> set[int]:
    """Add the positions reachable without consuming a character (a wildcard may be empty)."""
    todo = [state for state in states if state >= 0]
    while todo:
        state = todo.pop()
        wildcard = state < len(tokens) and tokens[state] in (_ANY, _ANY_IN_DIR, _ANY_DIRS)
        if wildcard and state + 1 not in states:
            states.add(state + 1)
            todo.append(state + 1)
    return states


def _glob_fullmatch(path: str, tokens: tuple[str, ...]) -> bool:
    """Simulate the glob as an NFA over the set of positions in the pattern: time is
    O(len(path) x len(pattern)) whatever the pattern (a backtracking regex is exponential in the
    number of ``**``). Position ``i`` is "before token i"; ``-1 - i`` is "inside the ``**/`` at
    i", which may only be left through a ``/``."""
    states = _closure({0}, tokens)
    for char in path:
        following: set[int] = set()
        for state in states:
            inside = state < 0
            index = -1 - state if inside else state
            if index == len(tokens):
                continue
            token = tokens[index]
            if token == _ANY or (token == _ANY_IN_DIR and char != "/"):
                following.add(index)
            elif token == _ANY_DIRS:
                following.add(-1 - index)
                if char == "/":
                    following.add(index + 1)
            elif not inside and ((token == _ANY_CHAR and char != "/") or token == char):
                following.add(index + 1)
        if not following:
            return False
        states = _closure(following, tokens)
    return len(tokens) in states


def glob_match(path: str, pattern: str) -> bool:
    """Git-style glob: ``*`` stays within a directory, ``**`` crosses directories, ``**/``
    matches zero or more whole directories.

    A pattern ending in ``/`` matches everything below that directory.
    """
    if pattern.endswith("/"):
        pattern += "**"
    pattern = pattern.removeprefix("./")
    literal = pattern.split("*", 1)[0].split("?", 1)[0]
    if not path.startswith(literal):
        return False
    if pattern == literal + "**":  # the common "src/app/**"
        return True
    return _glob_fullmatch(path, _glob_tokens(pattern))


def _uses_judge(suite: SuiteConfig) -> bool:
    # The metric registry loads every scorer (jsonschema, regex...): asked for only when a judge
    # could matter, so a PR that touches no eval input decides without it.
    from evalbot.score import judged_types

    return any(m.type in judged_types() for m in suite.metrics)


def _definition(suite: SuiteConfig | None) -> dict | None:
    return None if suite is None else suite.model_dump(mode="json")


def select_suites(
    head: EvalbotConfig,
    base: EvalbotConfig | None,
    changes: Sequence[Change],
    *,
    config_path: str,
    requested: Sequence[str] = (),
    run_all: bool = False,
    budget_s: float | None = None,
) -> list[SuiteSelection]:
    """Decide, per head suite, whether it runs and list the reasons (changed paths or events).

    A suite runs when one of its files (prompt, model, golden set, rubric, schema; at head or at
    base, so renames and deletions count) or a ``watch`` glob matches a changed path, when its
    definition in the config changed, when the judge it uses changed, or when it is new.
    ``--all`` and ``--suite`` override the selection.
    """
    unknown = [name for name in requested if head.suite(name) is None]
    if unknown:
        raise ConfigError(
            f"--suite names unknown suites {unknown}",
            file=config_path,
            hint=f"choose from {[s.name for s in head.suites]}",
        )
    changed: list[str] = []
    for change in changes:
        changed.extend(change.paths())
    changed_set = set(changed)
    budget_s = DETECTION_BUDGET_S if budget_s is None else budget_s
    deadline = time.monotonic() + budget_s

    selections: list[SuiteSelection] = []
    for suite in head.suites:
        base_suite = base.suite(suite.name) if base else None
        selection = SuiteSelection(suite=suite, base_suite=base_suite)
        if requested:
            if suite.name in requested:
                selection.reasons.append("--suite")
            selections.append(selection)
            continue
        if run_all:
            selection.reasons.append("--all")
        if base_suite is None:
            selection.reasons.append("new suite")
        files = set(suite.files()) | (set(base_suite.files()) if base_suite else set())
        judge_models = {
            judge.model
            for judge in (
                head.judge_for(suite),
                base.judge_for(base_suite) if base and base_suite else None,
            )
            if judge is not None
        }
        if judge_models & changed_set and _uses_judge(suite):
            files |= judge_models
        selection.reasons.extend(sorted(files & changed_set))
        listed = set(selection.reasons)
        for pattern in suite.watch:
            for path in changed:
                if time.monotonic() > deadline:
                    raise ConfigError(
                        f"change detection took longer than {budget_s:g}s "
                        f"({len(changed)} changed paths against the watch globs of suite "
                        f"{suite.name!r})",
                        file=config_path,
                        hint="use fewer or simpler watch globs",
                    )
                if path not in listed and glob_match(path, pattern):
                    selection.reasons.append(path)
                    listed.add(path)
        if (
            config_path in changed_set
            and base_suite is not None
            and _definition(base_suite) != _definition(suite)
        ):
            selection.reasons.append(f"suite definition changed in {config_path}")
        if (
            config_path in changed_set
            and base is not None
            and head.judge_for(suite) != (base.judge_for(base_suite) if base_suite else None)
            and _uses_judge(suite)
        ):
            selection.reasons.append(f"judge changed in {config_path}")
        selections.append(selection)
    return selections
